package detect

import (
	"slices"
	"strconv"
	"strings"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Backend is what EvaluateIngress needs to know of one Service an Ingress
// routes to.
type Backend struct {
	// Exists is false when no Service of that name is in the namespace.
	Exists bool
	// External is true for an ExternalName Service, which has no endpoints
	// by design.
	External bool
	// ReadyEndpoints counts the Service's ready endpoints over all its
	// EndpointSlices.
	ReadyEndpoints int
}

// BackendLookup tells EvaluateIngress about a Service of the Ingress's
// namespace by name.
type BackendLookup func(service string) Backend

// EvaluateIngress reports ingress_error when a Service the Ingress routes to
// (its default backend or a path's) is missing or has no ready endpoint,
// and has been so for IngressGrace: the controller answers those paths
// with 502 or 503. The wait is timed by tracker, since neither object
// dates it; within the grace RecheckAfter is the time left, and a healthy
// Ingress is forgotten. Resource backends (not Services) and ExternalName
// Services are not judged. A nil tracker or lookup turns the rule off.
func EvaluateIngress(ing *networkingv1.Ingress, lookup BackendLookup, tracker *UnhealthySince, now time.Time, cfg Config) Result {
	var r Result
	if ing == nil || lookup == nil || tracker == nil {
		return r
	}
	var broken []string
	for _, svc := range IngressServices(ing) {
		b := lookup(svc)
		switch {
		case !b.Exists:
			broken = append(broken, svc+" (no such Service)")
		case !b.External && b.ReadyEndpoints == 0:
			broken = append(broken, svc)
		}
	}
	if len(broken) == 0 || ing.DeletionTimestamp != nil {
		tracker.Forget(ing.UID)
		return r
	}
	since, tracked := tracker.observe(ing.UID, now, 0)
	if !tracked {
		return r
	}
	d := elapsed(now, since)
	if d < cfg.IngressGrace {
		r.recheck(cfg.IngressGrace - d)
		return r
	}
	r.add(platformv1alpha1.SignalIngressError, "", strconv.Itoa(len(broken)), "0",
		"IngressBackendUnavailable on %s: no ready endpoints for %s for %s",
		ing.Name, strings.Join(broken, ", "), human(d))
	return r
}

// IngressServices are the names of the Services an Ingress routes to,
// sorted, each once.
func IngressServices(ing *networkingv1.Ingress) []string {
	var out []string
	add := func(b *networkingv1.IngressBackend) {
		if b != nil && b.Service != nil && b.Service.Name != "" && !slices.Contains(out, b.Service.Name) {
			out = append(out, b.Service.Name)
		}
	}
	add(ing.Spec.DefaultBackend)
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for i := range rule.HTTP.Paths {
			add(&rule.HTTP.Paths[i].Backend)
		}
	}
	slices.Sort(out)
	return out
}
