package watch

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// TestAnIngressWithoutReadyBackendsBecomesAnAnomaly: an Ingress routes to
// a Service whose only endpoint is not ready. Past the grace, with no
// further change of any object, it is an ingress_error Anomaly about the
// Ingress, while an Ingress whose backend is ready never raises one.
func TestAnIngressWithoutReadyBackendsBecomesAnAnomaly(t *testing.T) {
	g := NewWithT(t)
	h := startParallelHarness(t, configWith(func(c *detect.Config) { c.IngressGrace = 2 * time.Second }),
		platformv1alpha1.WatchTarget{Name: "checkout", Kind: platformv1alpha1.KindDeployment})
	h.deployment("checkout")
	h.serviceWithEndpoints("checkout", false)
	h.serviceWithEndpoints("catalog", true)
	h.ingress("healthy", "catalog")
	h.ingress("shop", "catalog", "checkout")

	a := h.eventuallyAnomalyOn(g, platformv1alpha1.SignalIngressError, "Ingress", "shop")
	g.Expect(a.Spec.Resource).To(Equal(liveRef(t, "Ingress", h.ns, "shop")))
	g.Expect(a.Spec.Severity).To(Equal(high))
	g.Expect(a.Spec.Description).To(ContainSubstring("IngressBackendUnavailable on shop: no ready endpoints for checkout for"))
	g.Consistently(func() int { return len(h.anomalies()) }).WithTimeout(defaultQuiet).Should(Equal(1))
}

// serviceWithEndpoints creates a Service and the EndpointSlice the
// endpoint-slice controller would write for it, with one endpoint.
func (h *harness) serviceWithEndpoints(name string, ready bool) {
	h.t.Helper()
	h.create(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}},
	})
	h.create(&discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-x7k2p", Namespace: h.ns, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}}},
		Ports:       []discoveryv1.EndpointPort{{Port: ptr.To[int32](8080)}},
	})
}

// ingress creates an Ingress with one path per Service.
func (h *harness) ingress(name string, services ...string) {
	h.t.Helper()
	var paths []networkingv1.HTTPIngressPath
	for _, s := range services {
		paths = append(paths, networkingv1.HTTPIngressPath{
			Path: "/" + s, PathType: ptr.To(networkingv1.PathTypePrefix),
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: s, Port: networkingv1.ServiceBackendPort{Number: 80}}},
		})
	}
	h.create(&networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: name + ".example",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}}},
	})
}
