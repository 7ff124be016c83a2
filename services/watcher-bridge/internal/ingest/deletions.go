package ingest

import (
	"context"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
)

// deletionWatched are the kinds whose objects the Creator's attributions
// can name, with their resources. Rollout is left out: its CRD may not be
// installed, and an attribution to one expires after attributionTTL.
var deletionWatched = map[string]schema.GroupVersionResource{
	k8sctx.KindPod:                     {Version: "v1", Resource: "pods"},
	k8sctx.KindNode:                    {Version: "v1", Resource: "nodes"},
	k8sctx.KindPersistentVolumeClaim:   {Version: "v1", Resource: "persistentvolumeclaims"},
	k8sctx.KindPersistentVolume:        {Version: "v1", Resource: "persistentvolumes"},
	k8sctx.KindService:                 {Version: "v1", Resource: "services"},
	k8sctx.KindDeployment:              {Group: "apps", Version: "v1", Resource: "deployments"},
	k8sctx.KindStatefulSet:             {Group: "apps", Version: "v1", Resource: "statefulsets"},
	k8sctx.KindDaemonSet:               {Group: "apps", Version: "v1", Resource: "daemonsets"},
	k8sctx.KindReplicaSet:              {Group: "apps", Version: "v1", Resource: "replicasets"},
	k8sctx.KindJob:                     {Group: "batch", Version: "v1", Resource: "jobs"},
	k8sctx.KindCronJob:                 {Group: "batch", Version: "v1", Resource: "cronjobs"},
	k8sctx.KindHorizontalPodAutoscaler: {Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
	k8sctx.KindIngress:                 {Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"},
}

// DeletionWatch tells a Creator of every deleted object, so that it drops
// the attributions that name it (Creator.Forget). It runs on every replica,
// since each serves outside signals with its own Creator, and watches
// metadata only, kept in memory as namespace and name.
type DeletionWatch struct {
	Metadata metadata.Interface
	Creator  *Creator
	Logger   logr.Logger
	// synced is set once Start has listed every kind; tests wait on it.
	synced chan struct{}
}

// NewDeletionWatch returns a DeletionWatch for creator.
func NewDeletionWatch(md metadata.Interface, creator *Creator, log logr.Logger) *DeletionWatch {
	return &DeletionWatch{Metadata: md, Creator: creator, Logger: log, synced: make(chan struct{})}
}

// NeedLeaderElection is false: every replica's Creator needs it.
func (w *DeletionWatch) NeedLeaderElection() bool { return false }

// Start watches until ctx ends.
func (w *DeletionWatch) Start(ctx context.Context) error {
	factory := metadatainformer.NewSharedInformerFactoryWithOptions(w.Metadata, 0, metadatainformer.WithTransform(identityOnly))
	for kind, gvr := range deletionWatched {
		_, err := factory.ForResource(gvr).Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			DeleteFunc: func(obj any) {
				if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = tomb.Obj
				}
				if id, ok := obj.(*identity); ok {
					w.Creator.Forget(platformv1alpha1.ResourceReference{Kind: kind, Namespace: id.namespace, Name: id.name})
				}
			},
		})
		if err != nil {
			return err
		}
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for gvr, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok && ctx.Err() == nil {
			w.Logger.Info("Deletion watch did not sync", "resource", gvr.String())
		}
	}
	close(w.synced)
	<-ctx.Done()
	return nil
}

// identity is what a delete event needs of an object, kept in the cache in
// place of its metadata: every pod, ReplicaSet and Deployment of the
// cluster is cached here, and a PartialObjectMetadata costs about 300
// bytes before its strings even when emptied, two strings about 40.
type identity struct {
	namespace, name string
}

// GetObjectMeta lets the informer's key and index functions read the
// object's namespace and name.
func (i *identity) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Namespace: i.namespace, Name: i.name}
}

// identityOnly keeps of an object what a delete event needs. It runs
// before objects enter the cache.
func identityOnly(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &identity{namespace: m.Namespace, name: m.Name}, nil
}
