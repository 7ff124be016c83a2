package watch

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func instance(enabled bool, ttlMinutes *int32, targets ...platformv1alpha1.WatchTarget) platformv1alpha1.Instance {
	inst := platformv1alpha1.Instance{Spec: platformv1alpha1.InstanceSpec{Watcher: &platformv1alpha1.WatcherSpec{Enabled: enabled, Targets: targets}}}
	if ttlMinutes != nil {
		inst.Spec.AIOps = &platformv1alpha1.AIOpsSpec{DedupTTLMinutes: ttlMinutes}
	}
	return inst
}

func TestScope(t *testing.T) {
	api := platformv1alpha1.WatchTarget{Name: "api", Namespace: "prod"}
	db := platformv1alpha1.WatchTarget{Name: "db", Namespace: "prod", Kind: platformv1alpha1.KindStatefulSet}
	tests := map[string]struct {
		reason     string
		instances  []platformv1alpha1.Instance
		selected   []string
		namespaces []string
		covers     map[platformv1alpha1.ResourceReference]bool
		ttl        map[platformv1alpha1.ResourceReference]time.Duration
	}{
		"TargetsOnly": {
			reason:     "an Instance's targets are watched one by one; a target's kind defaults to Deployment",
			instances:  []platformv1alpha1.Instance{instance(true, nil, api, db)},
			namespaces: []string{"prod"},
			covers: map[platformv1alpha1.ResourceReference]bool{
				{Kind: "Deployment", Namespace: "prod", Name: "api"}:   true,
				{Kind: "StatefulSet", Namespace: "prod", Name: "db"}:   true,
				{Kind: "Deployment", Namespace: "prod", Name: "db"}:    false,
				{Kind: "Deployment", Namespace: "prod", Name: "other"}: false,
				{Kind: "Node", Name: "worker-1"}:                       true,
				// An Ingress, like a claim, has no owner to be a target:
				// it counts wherever a target lives.
				{Kind: "Ingress", Namespace: "prod", Name: "shop"}:    true,
				{Kind: "Ingress", Namespace: "staging", Name: "shop"}: false,
			},
		},
		"DisabledWatcher": {
			reason:    "an Instance whose watcher is off adds nothing",
			instances: []platformv1alpha1.Instance{instance(false, nil, api)},
			covers: map[platformv1alpha1.ResourceReference]bool{
				{Kind: "Deployment", Namespace: "prod", Name: "api"}: false,
				{Kind: "Node", Name: "worker-1"}:                     false,
			},
		},
		"SelectedNamespace": {
			reason:     "a namespace picked by the selector is watched entirely",
			instances:  []platformv1alpha1.Instance{instance(true, nil, api)},
			selected:   []string{"batch"},
			namespaces: []string{"batch", "prod"},
			covers: map[platformv1alpha1.ResourceReference]bool{
				{Kind: "CronJob", Namespace: "batch", Name: "etl"}:   true,
				{Kind: "Deployment", Namespace: "prod", Name: "api"}: true,
			},
		},
		"ShortestTTLWins": {
			reason:     "two Instances watching one workload: the shorter dedup TTL applies",
			instances:  []platformv1alpha1.Instance{instance(true, ptr.To[int32](60), api), instance(true, ptr.To[int32](10), api), instance(true, nil, db)},
			namespaces: []string{"prod"},
			ttl: map[platformv1alpha1.ResourceReference]time.Duration{
				{Kind: "Deployment", Namespace: "prod", Name: "api"}:   10 * time.Minute,
				{Kind: "StatefulSet", Namespace: "prod", Name: "db"}:   testFallbackTTL,
				{Kind: "Deployment", Namespace: "prod", Name: "other"}: testFallbackTTL,
			},
		},
		"DefaultIsShorterThanAnExplicitTTL": {
			reason:     "an Instance that sets no TTL asks for the default, which is shorter than another Instance's 60 minutes",
			instances:  []platformv1alpha1.Instance{instance(true, nil, api), instance(true, ptr.To[int32](60), api), instance(true, ptr.To[int32](10), db), instance(true, nil, db)},
			namespaces: []string{"prod"},
			ttl: map[platformv1alpha1.ResourceReference]time.Duration{
				{Kind: "Deployment", Namespace: "prod", Name: "api"}: testFallbackTTL,
				{Kind: "StatefulSet", Namespace: "prod", Name: "db"}: 10 * time.Minute,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := NewScope(tc.instances, tc.selected)
			if diff := cmp.Diff(tc.namespaces, s.Namespaces(), cmp.Comparer(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })); diff != "" {
				t.Errorf("%s: namespaces (-want +got):\n%s", tc.reason, diff)
			}
			for r, want := range tc.covers {
				if got := s.Covers(r); got != want {
					t.Errorf("%s: Covers(%s) = %v, want %v", tc.reason, r, got, want)
				}
			}
			for r, want := range tc.ttl {
				if got := s.TTL(r, testFallbackTTL); got != want {
					t.Errorf("%s: TTL(%s) = %v, want %v", tc.reason, r, got, want)
				}
			}
			if !s.Equal(NewScope(tc.instances, tc.selected)) {
				t.Errorf("a scope is not Equal to itself recomputed")
			}
		})
	}
}

// testFallbackTTL stands for the flag default an Instance without a TTL gets.
const testFallbackTTL = 30 * time.Minute
