package watch

import (
	"slices"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// target is one watched workload.
type target struct {
	kind, namespace, name string
}

// Scope says which workloads the detectors watch: the targets of every
// Instance whose watcher is enabled, plus every workload of the namespaces
// a label selector picks for cluster-wide use.
type Scope struct {
	// wholeNamespaces are watched entirely (label selector).
	wholeNamespaces map[string]bool
	// targets are watched one by one (Instances), each with the dedup TTLs
	// its Instances ask for.
	targets map[target]targetTTL
}

// targetTTL is what the Instances watching one workload ask for: the
// shortest explicit dedup TTL, and whether any of them leaves it at the
// default.
type targetTTL struct {
	shortest   time.Duration
	anyDefault bool
}

// NewScope computes the scope from the Instances and the namespaces the
// selector picked.
func NewScope(instances []platformv1alpha1.Instance, selectedNamespaces []string) Scope {
	s := Scope{wholeNamespaces: map[string]bool{}, targets: map[target]targetTTL{}}
	for _, ns := range selectedNamespaces {
		s.wholeNamespaces[ns] = true
	}
	for i := range instances {
		inst := &instances[i]
		if inst.Spec.Watcher == nil || !inst.Spec.Watcher.Enabled || inst.DeletionTimestamp != nil {
			continue
		}
		var ttl time.Duration
		if inst.Spec.AIOps != nil && inst.Spec.AIOps.DedupTTLMinutes != nil {
			ttl = time.Duration(*inst.Spec.AIOps.DedupTTLMinutes) * time.Minute
		}
		for _, t := range inst.Spec.Watcher.Targets {
			kind := string(t.Kind)
			if kind == "" {
				kind = string(platformv1alpha1.KindDeployment)
			}
			key := target{kind: kind, namespace: t.Namespace, name: t.Name}
			merged := s.targets[key]
			switch {
			case ttl == 0:
				merged.anyDefault = true
			case merged.shortest == 0 || ttl < merged.shortest:
				merged.shortest = ttl
			}
			s.targets[key] = merged
		}
	}
	return s
}

// Namespaces lists every namespace with something in scope, sorted.
func (s Scope) Namespaces() []string {
	set := map[string]bool{}
	for ns := range s.wholeNamespaces {
		set[ns] = true
	}
	for t := range s.targets {
		set[t.namespace] = true
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

// Empty reports whether nothing is watched.
func (s Scope) Empty() bool { return len(s.wholeNamespaces) == 0 && len(s.targets) == 0 }

// Covers reports whether a signal about r, already attributed to its top
// owner, is in scope. Cluster-scoped resources (Nodes) are in scope
// whenever anything is watched: node faults hit every workload.
func (s Scope) Covers(r platformv1alpha1.ResourceReference) bool {
	if r.Namespace == "" {
		return !s.Empty()
	}
	if s.wholeNamespaces[r.Namespace] {
		return true
	}
	if namespaceWide[r.Kind] {
		return s.hasTargetIn(r.Namespace)
	}
	_, ok := s.targets[target{kind: r.Kind, namespace: r.Namespace, name: r.Name}]
	return ok
}

// namespaceWide are the kinds that have no owner to attribute them to and
// that matter wherever a target lives: a target's pods wait for a claim,
// its users come through an Ingress and its certificate, it is installed
// by a Helm release or an Argo CD Application.
var namespaceWide = map[string]bool{
	"PersistentVolumeClaim": true, "Ingress": true,
	kindSecret: true, kindCertificate: true, kindHelmRelease: true, kindApplication: true,
}

// CoversNamespace reports whether anything in namespace is in scope; for
// "" (cluster-scoped resources), whether anything is.
func (s Scope) CoversNamespace(namespace string) bool {
	if namespace == "" {
		return !s.Empty()
	}
	return s.wholeNamespaces[namespace] || s.hasTargetIn(namespace)
}

func (s Scope) hasTargetIn(namespace string) bool {
	for t := range s.targets {
		if t.namespace == namespace {
			return true
		}
	}
	return false
}

// TTL is the shortest dedup TTL among the Instances that watch r, where
// an Instance that sets none asks for fallback.
func (s Scope) TTL(r platformv1alpha1.ResourceReference, fallback time.Duration) time.Duration {
	t, ok := s.targets[target{kind: r.Kind, namespace: r.Namespace, name: r.Name}]
	switch {
	case !ok || t.shortest == 0:
		return fallback
	case t.anyDefault && fallback < t.shortest:
		// Two Instances watching one workload: the shorter TTL wins, so
		// neither misses a recurrence it expects.
		return fallback
	}
	return t.shortest
}

// Equal reports whether two scopes watch the same namespaces and targets.
func (s Scope) Equal(o Scope) bool {
	if len(s.wholeNamespaces) != len(o.wholeNamespaces) || len(s.targets) != len(o.targets) {
		return false
	}
	for ns := range s.wholeNamespaces {
		if !o.wholeNamespaces[ns] {
			return false
		}
	}
	for t, ttl := range s.targets {
		if other, ok := o.targets[t]; !ok || other != ttl {
			return false
		}
	}
	return true
}
