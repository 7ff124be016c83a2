package v1alpha1_test

import (
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/chatcli/aiops/api/crds"
	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// TestEnumsMatchTheCatalogue checks the CRD enums, written as markers,
// against the Go lists the services validate with, so the two cannot drift.
func TestEnumsMatchTheCatalogue(t *testing.T) {
	schema := func(file string) apiextensionsv1.JSONSchemaProps {
		data, err := crds.FS.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		crd := apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatal(err)
		}
		return *crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	}
	enum := func(p apiextensionsv1.JSONSchemaProps, path ...string) []string {
		for _, field := range path {
			if field == "[]" {
				p = *p.Items.Schema
				continue
			}
			p = p.Properties[field]
		}
		var out []string
		for _, v := range p.Enum {
			var s string
			if err := yaml.Unmarshal(v.Raw, &s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	anomaly := schema("platform.chatcli.io_anomalies.yaml")
	plan := schema("platform.chatcli.io_remediationplans.yaml")
	issue := schema("platform.chatcli.io_issues.yaml")
	postMortem := schema("platform.chatcli.io_postmortems.yaml")
	tests := map[string]struct {
		got   []string
		want  []string
		count int
	}{
		"SignalTypes":      {got: enum(anomaly, "spec", "signalType"), want: asStrings(platformv1alpha1.SignalTypes), count: 24},
		"Sources":          {got: enum(anomaly, "spec", "source"), want: asStrings(platformv1alpha1.Sources), count: 5},
		"SignalSeverities": {got: enum(anomaly, "spec", "severity"), want: asStrings(platformv1alpha1.SignalSeverities), count: 6},
		"Actions": {
			got:   enum(plan, "spec", "actions", "[]", "type"),
			want:  append(asStrings(platformv1alpha1.ExecutableActions), string(platformv1alpha1.ActionCustom)),
			count: 55,
		},
		"ActionOutcomesOfPlans":       {got: enum(plan, "status", "actionResults", "[]", "result"), want: asStrings(platformv1alpha1.ActionOutcomes), count: 4},
		"ActionOutcomesOfRollbacks":   {got: enum(plan, "status", "rollbackResults", "[]", "result"), want: asStrings(platformv1alpha1.ActionOutcomes), count: 4},
		"ActionOutcomesOfPostMortems": {got: enum(postMortem, "status", "actionsExecuted", "[]", "result"), want: asStrings(platformv1alpha1.ActionOutcomes), count: 4},
		"AttemptOutcomes":             {got: enum(issue, "status", "attempts", "[]", "outcome"), want: asStrings(platformv1alpha1.AttemptOutcomes), count: 5},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if len(tc.want) != tc.count {
				t.Errorf("the Go list has %d entries, want %d", len(tc.want), tc.count)
			}
			got, want := slices.Sorted(slices.Values(tc.got)), slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("CRD enum %v != Go list %v", got, want)
			}
		})
	}
}

// TestAnomalyKindsMatchTheCRD checks the kind allowlist of the Anomaly
// CRD's CEL rule against AnomalyResourceKinds, which the watcher-bridge
// uses to decide what an Anomaly may name.
func TestAnomalyKindsMatchTheCRD(t *testing.T) {
	data, err := crds.FS.ReadFile("platform.chatcli.io_anomalies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	resource := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["resource"]
	var got []string
	for _, rule := range resource.XValidations {
		list, ok := strings.CutPrefix(rule.Rule, "self.kind in [")
		if !ok || !strings.HasPrefix(rule.Message, "kind is not one the platform watches") {
			continue
		}
		for _, kind := range strings.Split(strings.TrimSuffix(list, "]"), ",") {
			got = append(got, strings.Trim(strings.TrimSpace(kind), "'"))
		}
	}
	if len(got) == 0 {
		t.Fatal("no kind allowlist rule on spec.resource")
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(platformv1alpha1.AnomalyResourceKinds))) {
		t.Errorf("CRD kinds %v != AnomalyResourceKinds %v", got, platformv1alpha1.AnomalyResourceKinds)
	}
	for _, kind := range got {
		if !platformv1alpha1.IsAnomalyResourceKind(kind) {
			t.Errorf("IsAnomalyResourceKind(%q) = false", kind)
		}
	}
	if platformv1alpha1.IsAnomalyResourceKind("ConfigMap") {
		t.Error("IsAnomalyResourceKind(ConfigMap) = true")
	}
}

func asStrings[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}
