package watch

import (
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// The kinds the detectors evaluate, as queue keys name them.
const (
	kindPod         = k8sctx.KindPod
	kindDeployment  = k8sctx.KindDeployment
	kindStatefulSet = k8sctx.KindStatefulSet
	kindDaemonSet   = k8sctx.KindDaemonSet
	kindReplicaSet  = k8sctx.KindReplicaSet
	kindJob         = k8sctx.KindJob
	kindCronJob     = k8sctx.KindCronJob
	kindPVC         = k8sctx.KindPersistentVolumeClaim
	kindHPA         = k8sctx.KindHorizontalPodAutoscaler
	kindNode        = k8sctx.KindNode
	kindIngress     = k8sctx.KindIngress
	// Read only to judge an Ingress's backends; never evaluated.
	kindService       = k8sctx.KindService
	kindEndpointSlice = "EndpointSlice"
)

// backendKinds are cached for ingress detection and not evaluated
// themselves, like ReplicaSets for attribution.
func notEvaluated(kind string) bool {
	return kind == kindReplicaSet || kind == kindService || kind == kindEndpointSlice
}

// objectKey names one object to evaluate.
type objectKey struct {
	kind, namespace, name string
}

// nodeNameIndex indexes bound pods by node, to count a node's pods
// without listing them all.
const nodeNameIndex = "nodeName"

// namespaceInformers are the informers of one namespace in scope. They are
// started and stopped together as the namespace enters and leaves scope.
type namespaceInformers struct {
	factory   informers.SharedInformerFactory
	stop      chan struct{}
	byKind    map[string]cache.SharedIndexInformer
	hasSynced []cache.InformerSynced
}

func (d *Detector) newNamespaceInformers(ns string) *namespaceInformers {
	factory := informers.NewSharedInformerFactoryWithOptions(d.cfg.Kube, 0,
		informers.WithNamespace(ns), informers.WithTransform(slim))
	inf := &namespaceInformers{factory: factory, byKind: map[string]cache.SharedIndexInformer{
		kindPod:           factory.Core().V1().Pods().Informer(),
		kindDeployment:    factory.Apps().V1().Deployments().Informer(),
		kindStatefulSet:   factory.Apps().V1().StatefulSets().Informer(),
		kindDaemonSet:     factory.Apps().V1().DaemonSets().Informer(),
		kindReplicaSet:    factory.Apps().V1().ReplicaSets().Informer(),
		kindJob:           factory.Batch().V1().Jobs().Informer(),
		kindCronJob:       factory.Batch().V1().CronJobs().Informer(),
		kindPVC:           factory.Core().V1().PersistentVolumeClaims().Informer(),
		kindHPA:           factory.Autoscaling().V2().HorizontalPodAutoscalers().Informer(),
		kindIngress:       factory.Networking().V1().Ingresses().Informer(),
		kindService:       factory.Core().V1().Services().Informer(),
		kindEndpointSlice: factory.Discovery().V1().EndpointSlices().Informer(),
	}}
	_ = inf.byKind[kindEndpointSlice].AddIndexers(cache.Indexers{serviceNameIndex: indexByService})
	for kind, informer := range inf.byKind {
		inf.hasSynced = append(inf.hasSynced, informer.HasSynced)
		if !notEvaluated(kind) {
			d.handle(informer, kind)
		}
	}
	d.handleBackends(inf, inf.byKind[kindService])
	d.handleBackends(inf, inf.byKind[kindEndpointSlice])
	return inf
}

// synced reports whether every informer of the namespace has listed its
// objects, so that a pod's owners can be looked up.
func (inf *namespaceInformers) synced() bool {
	for _, hasSynced := range inf.hasSynced {
		if !hasSynced() {
			return false
		}
	}
	return true
}

func (inf *namespaceInformers) shutdown() {
	if inf.stop != nil {
		close(inf.stop)
	}
	inf.factory.Shutdown()
}

// get returns the cached object of a kind, or nil when it is gone.
func (inf *namespaceInformers) get(kind, namespace, name string) any {
	informer, ok := inf.byKind[kind]
	if !ok {
		return nil
	}
	obj, exists, err := informer.GetIndexer().GetByKey(namespace + "/" + name)
	if err != nil || !exists {
		return nil
	}
	return obj
}

// handle enqueues every change of an informer's objects and forgets the
// detectors' memory of deleted ones.
func (d *Detector) handle(informer cache.SharedIndexInformer, kind string) {
	enqueue := func(obj any) {
		if meta, ok := metaOf(obj); ok {
			d.queue.Add(objectKey{kind: kind, namespace: meta.namespace, name: meta.name})
		}
	}
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if meta, ok := metaOf(obj); ok {
				d.restarts.Forget(meta.uid)
				d.unhealthy.Forget(meta.uid)
			}
			if rec, ok := obj.(*podRecord); ok {
				detect.ForgetUsage(d.unhealthy, rec.pod())
			}
		},
	})
}

type objectMeta struct {
	namespace, name string
	uid             types.UID
}

func metaOf(obj any) (objectMeta, bool) {
	o, ok := obj.(interface {
		GetNamespace() string
		GetName() string
		GetUID() types.UID
	})
	if !ok {
		return objectMeta{}, false
	}
	return objectMeta{namespace: o.GetNamespace(), name: o.GetName(), uid: o.GetUID()}, true
}
