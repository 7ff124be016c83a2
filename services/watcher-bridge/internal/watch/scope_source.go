package watch

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// ScopeSource keeps a Detector's scope in step with the Instances and, for
// cluster-wide use, the namespaces a label selector picks.
type ScopeSource struct {
	// Cache serves Instances (the manager's cache).
	Cache cache.Cache
	// Kube watches Namespaces when NamespaceSelector is set.
	Kube kubernetes.Interface
	// NamespaceSelector picks namespaces to watch entirely; nil or empty
	// watches only the Instances' targets.
	NamespaceSelector labels.Selector
	Detector          *Detector
	Logger            logr.Logger
}

// NeedLeaderElection is true, like the Detector it feeds.
func (s *ScopeSource) NeedLeaderElection() bool { return true }

// Start recomputes the scope on every change of an Instance or a selected
// Namespace until ctx ends.
func (s *ScopeSource) Start(ctx context.Context) error {
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
	instances, err := s.Cache.GetInformer(ctx, &platformv1alpha1.Instance{})
	if err != nil {
		return fmt.Errorf("watch Instances: %w", err)
	}
	if _, err := instances.AddEventHandler(handler); err != nil {
		return fmt.Errorf("watch Instances: %w", err)
	}
	var namespaces toolscache.SharedIndexInformer
	if s.NamespaceSelector != nil && !s.NamespaceSelector.Empty() {
		factory := informers.NewSharedInformerFactoryWithOptions(s.Kube, 0,
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = s.NamespaceSelector.String() }))
		namespaces = factory.Core().V1().Namespaces().Informer()
		if _, err := namespaces.AddEventHandler(handler); err != nil {
			return fmt.Errorf("watch Namespaces: %w", err)
		}
		factory.Start(ctx.Done())
		defer factory.Shutdown()
	}
	if !s.Cache.WaitForCacheSync(ctx) || (namespaces != nil && !toolscache.WaitForCacheSync(ctx.Done(), namespaces.HasSynced)) {
		return nil
	}
	poke()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		if err := s.refresh(ctx, namespaces); err != nil {
			s.Logger.Error(err, "Failed to refresh the watch scope")
		}
	}
}

func (s *ScopeSource) refresh(ctx context.Context, namespaces toolscache.SharedIndexInformer) error {
	list := &platformv1alpha1.InstanceList{}
	if err := s.Cache.List(ctx, list); err != nil {
		return fmt.Errorf("list Instances: %w", err)
	}
	var selected []string
	if namespaces != nil {
		selected = namespaces.GetStore().ListKeys()
	}
	next := NewScope(list.Items, selected)
	if !next.Equal(s.Detector.Scope()) {
		s.Detector.SetScope(next)
		s.Logger.Info("Changed the watch scope", "namespaces", next.Namespaces())
	}
	return nil
}
