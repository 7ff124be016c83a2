package chart

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

var services = []string{"instance-operator", "watcher-bridge", "correlator", "analyzer", "remediator", "postmortem-writer"}

// grants are one service's rendered rules: its ClusterRole's, and its
// Roles' by namespace.
type grants struct {
	ClusterRole []rbacv1.PolicyRule            `json:"clusterRole"`
	Roles       map[string][]rbacv1.PolicyRule `json:"roles"`
}

func renderedGrants(t *testing.T) map[string]*grants {
	t.Helper()
	manifest := mustRender(t, map[string]any{"rbac": map[string]any{
		"instanceNamespaces": []any{"apps"}, "secretSignalNamespaces": []any{"certs"},
	}})
	out := map[string]*grants{}
	// The scrapers' role and the Instance watchers' are grants of the
	// chart too.
	for _, svc := range append(slices.Clone(services), "metrics-reader", "instance-watcher") {
		out[svc] = &grants{Roles: map[string][]rbacv1.PolicyRule{}}
	}
	for _, obj := range objects(t, manifest) {
		if obj.GetKind() != "ClusterRole" && obj.GetKind() != "Role" {
			continue
		}
		svc := strings.TrimPrefix(obj.GetName(), release+"-")
		g, ok := out[svc]
		if !ok {
			t.Fatalf("%s %s belongs to no service", obj.GetKind(), obj.GetName())
		}
		var role rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role); err != nil {
			t.Fatal(err)
		}
		if obj.GetKind() == "ClusterRole" {
			g.ClusterRole = role.Rules
		} else {
			g.Roles[obj.GetNamespace()] = role.Rules
		}
	}
	return out
}

// TestRBACRules diffs each service's rendered rules against
// testdata/rbac/<service>.yaml, so that a widening of a +kubebuilder:rbac
// marker shows in review as a change of that file.
func TestRBACRules(t *testing.T) {
	for svc, g := range renderedGrants(t) {
		t.Run(svc, func(t *testing.T) {
			got, err := yaml.Marshal(g)
			if err != nil {
				t.Fatal(err)
			}
			compareFile(t, filepath.Join("testdata", "rbac", svc+".yaml"), string(got))
		})
	}
}

// TestRBACLeastPrivilege checks the rules that hold whatever the
// markers say: only the remediator writes workloads (and the
// instance-operator its Instances' Deployments, in Instance namespaces
// only), nobody escalates, bind only by resourceNames, Secrets only in
// Roles of namespaces the values name (rbac.instanceNamespaces,
// rbac.secretSignalNamespaces), and nobody but the chart makes
// ClusterRoles.
func TestRBACLeastPrivilege(t *testing.T) {
	workloads := []string{"deployments", "statefulsets", "daemonsets", "replicasets"}
	write := []string{"create", "update", "patch", "delete", "deletecollection", "*"}
	writes := func(rule rbacv1.PolicyRule) bool {
		return slices.ContainsFunc(rule.Verbs, func(v string) bool { return slices.Contains(write, v) })
	}
	for svc, g := range renderedGrants(t) {
		type grant struct {
			rule rbacv1.PolicyRule
			role bool // in a Role of a namespace, not the ClusterRole
		}
		var all []grant
		for _, rule := range g.ClusterRole {
			all = append(all, grant{rule: rule})
		}
		for _, rules := range g.Roles {
			for _, rule := range rules {
				all = append(all, grant{rule: rule, role: true})
			}
		}
		for _, gr := range all {
			rule := gr.rule
			where := fmt.Sprintf("%s: rule %v %v %v", svc, rule.APIGroups, rule.Resources, rule.Verbs)
			if slices.Contains(rule.Verbs, "escalate") || slices.Contains(rule.Verbs, "*") {
				t.Errorf("%s grants escalate or *", where)
			}
			if slices.Contains(rule.Verbs, "bind") && len(rule.ResourceNames) == 0 {
				t.Errorf("%s grants bind without resourceNames", where)
			}
			if slices.Contains(rule.APIGroups, "rbac.authorization.k8s.io") && slices.Contains(rule.Resources, "clusterroles") && writes(rule) {
				t.Errorf("%s writes ClusterRoles: only the chart ships them", where)
			}
			if svc == "remediator" || !slices.Contains(rule.APIGroups, "apps") || !writes(rule) {
				continue
			}
			for _, r := range workloads {
				// The instance-operator's one exception: its Instances'
				// Deployments, through its Role of Instance namespaces.
				if r == "deployments" && svc == "instance-operator" && gr.role {
					continue
				}
				if slices.Contains(rule.Resources, r) {
					t.Errorf("%s writes %s: only the remediator writes workloads", where, r)
				}
			}
		}
		for ns, rules := range g.Roles {
			for _, rule := range rules {
				// The release namespace's Secrets only by name (the
				// platform's own, like the incident API's token).
				named := ns == namespace && len(rule.ResourceNames) > 0
				if slices.Contains(rule.Resources, "secrets") && ns != "apps" && ns != "certs" && !named {
					t.Errorf("%s: Secrets in its Role of %s, a namespace the values do not name", svc, ns)
				}
			}
		}
		for _, rule := range g.ClusterRole {
			if slices.Contains(rule.Resources, "secrets") {
				t.Errorf("%s: Secrets in its ClusterRole; only Roles of named namespaces may grant them", svc)
			}
		}
	}
}

// workload is a Deployment's or StatefulSet's pod labels.
type workload struct {
	kind, name string
	labels     labels.Set
}

func workloads(t *testing.T, objs []*unstructured.Unstructured) []workload {
	t.Helper()
	var out []workload
	for _, obj := range objs {
		if obj.GetKind() != "Deployment" && obj.GetKind() != "StatefulSet" {
			continue
		}
		podLabels, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "template", "metadata", "labels")
		out = append(out, workload{obj.GetKind(), obj.GetName(), podLabels})
	}
	return out
}

func selector(t *testing.T, raw any) labels.Selector {
	t.Helper()
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw.(map[string]any), &ls); err != nil {
		t.Fatal(err)
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

// TestNetworkPoliciesSelectPods: every NetworkPolicy's podSelector selects
// the pods of exactly the workload of its name, never more (an empty
// selector would take every pod of the namespace), and every pod of the
// release is under a policy. Every peer podSelector of the same namespace
// selects a workload of the full render.
func TestNetworkPoliciesSelectPods(t *testing.T) {
	full := workloads(t, objects(t, mustRender(t, nil)))
	for name, vals := range scenarios(t) {
		t.Run(name, func(t *testing.T) {
			objs := objects(t, mustRender(t, vals))
			pods := workloads(t, objs)
			covered := map[string]bool{}
			policies := 0
			for _, obj := range objs {
				if obj.GetKind() != "NetworkPolicy" {
					continue
				}
				policies++
				podSelector, _, _ := unstructured.NestedMap(obj.Object, "spec", "podSelector")
				sel := selector(t, podSelector)
				if sel.Empty() {
					t.Errorf("NetworkPolicy %s selects every pod of the namespace", obj.GetName())
				}
				var matched []string
				for _, w := range pods {
					if sel.Matches(w.labels) {
						matched = append(matched, w.name)
						covered[w.name] = true
					}
				}
				if !slices.Equal(matched, []string{obj.GetName()}) {
					t.Errorf("NetworkPolicy %s selects the pods of %v, want those of %s only", obj.GetName(), matched, obj.GetName())
				}
				checkPeers(t, obj, full)
			}
			if policies == 0 {
				if enabled, _, _ := unstructured.NestedBool(vals, "networkPolicy", "enabled"); enabled || !hasKey(vals, "networkPolicy", "enabled") {
					t.Fatal("no NetworkPolicy rendered")
				}
				return
			}
			for _, w := range pods {
				if !covered[w.name] {
					t.Errorf("%s %s is under no NetworkPolicy", w.kind, w.name)
				}
			}
		})
	}
}

func hasKey(m map[string]any, path ...string) bool {
	_, found, _ := unstructured.NestedFieldNoCopy(m, path...)
	return found
}

// checkPeers: each podSelector peer without a namespaceSelector (the
// release namespace) of policy selects a workload of the full render.
func checkPeers(t *testing.T, policy *unstructured.Unstructured, full []workload) {
	t.Helper()
	for _, field := range []struct{ direction, peers string }{{"ingress", "from"}, {"egress", "to"}} {
		rules, _, _ := unstructured.NestedSlice(policy.Object, "spec", field.direction)
		for _, rule := range rules {
			peers, _ := rule.(map[string]any)[field.peers].([]any)
			for _, peer := range peers {
				p := peer.(map[string]any)
				podSelector, ok := p["podSelector"]
				if !ok || p["namespaceSelector"] != nil {
					continue
				}
				sel := selector(t, podSelector)
				if !slices.ContainsFunc(full, func(w workload) bool { return sel.Matches(w.labels) }) {
					t.Errorf("NetworkPolicy %s: %s peer %s selects no pod of the platform", policy.GetName(), field.direction, sel)
				}
			}
		}
	}
}
