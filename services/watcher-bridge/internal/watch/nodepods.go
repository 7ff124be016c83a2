package watch

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// boundPod is all that counting a node's pods needs of a pod: which node
// it is bound to. The watch's field selector keeps out pods that are not
// bound or have finished, as the scheduler does not count them either. It
// holds three strings rather than an ObjectMeta: it is cached for every pod
// of the cluster.
type boundPod struct {
	namespace, name, nodeName string
}

// GetObjectMeta lets the informer's key and index functions read the
// pod's namespace and name.
func (p *boundPod) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Namespace: p.namespace, Name: p.name}
}

// countedPods is the field selector of the pods a node's capacity counts;
// a pod that finishes leaves it and arrives as a deletion.
const countedPods = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"

// startNodePods watches the bound pods of every namespace, not only those
// in scope: a node fills up with whatever runs on it, kube-system and
// other teams' namespaces included. Each pod costs a name and a node name
// in the cache.
func (d *Detector) startNodePods(ctx context.Context) {
	factory := informers.NewSharedInformerFactoryWithOptions(d.cfg.Kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = countedPods }),
		informers.WithTransform(func(obj any) (any, error) {
			pod, ok := obj.(*corev1.Pod)
			if !ok {
				return obj, nil
			}
			return &boundPod{namespace: pod.Namespace, name: pod.Name, nodeName: pod.Spec.NodeName}, nil
		}))
	d.nodePods = factory.Core().V1().Pods().Informer()
	_ = d.nodePods.AddIndexers(cache.Indexers{nodeNameIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*boundPod); ok {
			return []string{p.nodeName}, nil
		}
		return nil, nil
	}})
	// A node's pod count changes when a pod is bound to it or leaves it,
	// which changes the pod, not the node: evaluate the node again then.
	// Updates are ignored: a bound pod's node never changes.
	enqueue := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if p, ok := obj.(*boundPod); ok {
			d.queue.Add(objectKey{kind: kindNode, name: p.nodeName})
		}
	}
	_, _ = d.nodePods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		DeleteFunc: enqueue,
	})
	factory.Start(ctx.Done())
}

// podsOnNode counts the pods bound to a node that have not finished, in
// every namespace.
func (d *Detector) podsOnNode(node string) int {
	d.mu.Lock()
	nodePods := d.nodePods
	d.mu.Unlock()
	if nodePods == nil {
		return 0
	}
	objs, err := nodePods.GetIndexer().ByIndex(nodeNameIndex, node)
	if err != nil {
		return 0
	}
	return len(objs)
}
