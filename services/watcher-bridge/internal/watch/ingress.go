package watch

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// endpointSliceRecord is what ingress detection reads of an EndpointSlice,
// kept in the cache in place of it: the Service it belongs to and how many
// of its endpoints are ready. A Service's slices list every pod behind it.
type endpointSliceRecord struct {
	metav1.ObjectMeta
	service string
	ready   int
}

func newEndpointSliceRecord(s *discoveryv1.EndpointSlice) *endpointSliceRecord {
	r := &endpointSliceRecord{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, UID: s.UID, ResourceVersion: s.ResourceVersion},
		service:    s.Labels[discoveryv1.LabelServiceName],
	}
	for _, e := range s.Endpoints {
		// A nil ready condition means ready, as the API documents.
		if e.Conditions.Ready == nil || *e.Conditions.Ready {
			r.ready++
		}
	}
	return r
}

// serviceNameIndex indexes EndpointSlices by the Service they belong to.
const serviceNameIndex = "serviceName"

func indexByService(obj any) ([]string, error) {
	if r, ok := obj.(*endpointSliceRecord); ok && r.service != "" {
		return []string{r.service}, nil
	}
	return nil, nil
}

// backends answers EvaluateIngress from the namespace's caches.
func (inf *namespaceInformers) backends(namespace string) detect.BackendLookup {
	return func(service string) detect.Backend {
		obj := inf.get(kindService, namespace, service)
		svc, ok := obj.(*corev1.Service)
		if !ok {
			return detect.Backend{}
		}
		b := detect.Backend{Exists: true, External: svc.Spec.Type == corev1.ServiceTypeExternalName}
		slices, err := inf.byKind[kindEndpointSlice].GetIndexer().ByIndex(serviceNameIndex, service)
		if err != nil {
			return b
		}
		for _, s := range slices {
			if r, ok := s.(*endpointSliceRecord); ok {
				b.ReadyEndpoints += r.ready
			}
		}
		return b
	}
}

// handleBackends evaluates again every Ingress of the namespace that routes
// to a Service whose Service object or endpoints changed: the Ingress
// itself did not change.
func (d *Detector) handleBackends(inf *namespaceInformers, informer cache.SharedIndexInformer) {
	enqueue := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		var namespace, service string
		switch o := obj.(type) {
		case *endpointSliceRecord:
			namespace, service = o.Namespace, o.service
		case *corev1.Service:
			namespace, service = o.Namespace, o.Name
		default:
			return
		}
		for _, obj := range inf.byKind[kindIngress].GetStore().List() {
			ing, ok := obj.(*networkingv1.Ingress)
			if !ok {
				continue
			}
			for _, s := range detect.IngressServices(ing) {
				if s == service {
					d.queue.Add(objectKey{kind: kindIngress, namespace: namespace, name: ing.Name})
					break
				}
			}
		}
	}
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	})
}
