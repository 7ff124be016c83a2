package detect

import (
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func testIngress(services ...string) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: meta("shop", time.Hour)}
	var paths []networkingv1.HTTPIngressPath
	for _, s := range services {
		paths = append(paths, networkingv1.HTTPIngressPath{Path: "/" + s, Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: s, Port: networkingv1.ServiceBackendPort{Number: 80}},
		}})
	}
	ing.Spec.Rules = []networkingv1.IngressRule{{Host: "shop.example", IngressRuleValue: networkingv1.IngressRuleValue{
		HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths},
	}}}
	return ing
}

func TestEvaluateIngress(t *testing.T) {
	cfg := DefaultConfig()
	backends := map[string]Backend{
		"api":      {Exists: true, ReadyEndpoints: 2},
		"cart":     {Exists: true},
		"payments": {Exists: true},
		"legacy":   {Exists: true, External: true},
	}
	lookup := func(s string) Backend { return backends[s] }
	cases := map[string]struct {
		reason string
		ing    *networkingv1.Ingress
		// emptyFor is how long before now the backends were first seen
		// empty; zero means only now.
		emptyFor time.Duration
		want     Result
	}{
		"Healthy": {
			reason: "every backend has ready endpoints",
			ing:    testIngress("api", "api"),
		},
		"ExternalName": {
			reason: "an ExternalName Service has no endpoints by design",
			ing:    testIngress("legacy"),
		},
		"WithinGrace": {
			reason: "an empty backend seen a minute ago may be a pod hand-over",
			ing:    testIngress("api", "cart"), emptyFor: time.Minute,
			want: Result{RecheckAfter: time.Minute},
		},
		"FirstSeen": {
			reason: "the wait starts when it is first seen",
			ing:    testIngress("cart"),
			want:   Result{RecheckAfter: 2 * time.Minute},
		},
		"BeyondGrace": {
			reason: "two backends empty for 3m, each named once, sorted",
			ing:    testIngress("payments", "api", "cart", "payments"), emptyFor: 3 * time.Minute,
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalIngressError, "", "2", "0",
				"IngressBackendUnavailable on shop: no ready endpoints for cart, payments for 3m")}},
		},
		"MissingService": {
			reason: "a backend Service that does not exist is as empty",
			ing:    testIngress("gone"), emptyFor: 5 * time.Minute,
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalIngressError, "", "1", "0",
				"IngressBackendUnavailable on shop: no ready endpoints for gone (no such Service) for 5m")}},
		},
		"DefaultBackend": {
			reason: "the default backend counts as a route",
			ing: func() *networkingv1.Ingress {
				ing := testIngress()
				ing.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "cart"}}
				return ing
			}(), emptyFor: 3 * time.Minute,
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalIngressError, "", "1", "0",
				"IngressBackendUnavailable on shop: no ready endpoints for cart for 3m")}},
		},
		"ResourceBackend": {
			reason: "a resource backend is not a Service and is not judged",
			ing: func() *networkingv1.Ingress {
				ing := testIngress()
				ing.Spec.DefaultBackend = &networkingv1.IngressBackend{}
				return ing
			}(), emptyFor: time.Hour,
		},
		"Nil": {reason: "a nil Ingress shows nothing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tracker := NewUnhealthySince(0)
			if tc.ing != nil && tc.emptyFor > 0 {
				EvaluateIngress(tc.ing, lookup, tracker, now.Add(-tc.emptyFor), cfg)
			}
			got := EvaluateIngress(tc.ing, lookup, tracker, now, cfg)
			diffResult(t, tc.reason, tc.want, got)
			checkInvariants(t, got)
		})
	}
}

func TestEvaluateIngressForgetsAHealedIngress(t *testing.T) {
	cfg := DefaultConfig()
	tracker := NewUnhealthySince(0)
	ing := testIngress("cart")
	empty := func(string) Backend { return Backend{Exists: true} }
	EvaluateIngress(ing, empty, tracker, now.Add(-time.Hour), cfg)
	EvaluateIngress(ing, func(string) Backend { return Backend{Exists: true, ReadyEndpoints: 1} }, tracker, now.Add(-time.Minute), cfg)
	if tracker.Len() != 0 {
		t.Fatalf("a healed Ingress is still tracked")
	}
	got := EvaluateIngress(ing, empty, tracker, now, cfg)
	diffResult(t, "an Ingress that healed and broke again waits a fresh grace", Result{RecheckAfter: 2 * time.Minute}, got)
}
