package validate

import (
	"context"
	"strings"
	"testing"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

func TestDefaultChecker(t *testing.T) {
	deploy := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "shop", Name: "web"}
	tests := map[string]struct {
		reason  string
		target  platformv1alpha1.ResourceReference
		action  platformv1alpha1.SuggestedAction
		wantErr string
	}{
		"rollback":       {"a catalogue action on its kind", deploy, platformv1alpha1.SuggestedAction{Action: "RollbackDeployment", Params: platformv1alpha1.ActionParams{"toRevision": "2"}}, ""},
		"unknown":        {"not in the catalogue", deploy, platformv1alpha1.SuggestedAction{Action: "DeleteNamespace"}, "not an executable"},
		"custom":         {"Custom never runs", deploy, platformv1alpha1.SuggestedAction{Action: "Custom"}, "not an executable"},
		"apply manifest": {"refused type", deploy, platformv1alpha1.SuggestedAction{Action: "ApplyManifest", Params: platformv1alpha1.ActionParams{"manifest": "kind: ClusterRoleBinding"}}, "never suggested"},
		"drain":          {"refused type", platformv1alpha1.ResourceReference{Kind: "Node", Name: "n1"}, platformv1alpha1.SuggestedAction{Action: "DrainNode"}, "never suggested"},
		"kube-system":    {"protected namespace", platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "kube-system", Name: "coredns"}, platformv1alpha1.SuggestedAction{Action: "RestartDeployment"}, "protected"},
		"platform ns":    {"the platform's own namespace", platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "chatcli", Name: "x"}, platformv1alpha1.SuggestedAction{Action: "RestartDeployment"}, "protected"},
		"wrong kind":     {"a Node action on a Deployment incident", deploy, platformv1alpha1.SuggestedAction{Action: "CordonNode"}, "acts on a Node"},
		"other ns param": {"params naming another namespace", deploy, platformv1alpha1.SuggestedAction{Action: "ScaleDeployment", Params: platformv1alpha1.ActionParams{"replicas": "3", "namespace": "prod"}}, "another object"},
		"scale to zero":  {"replicas out of range", deploy, platformv1alpha1.SuggestedAction{Action: "ScaleDeployment", Params: platformv1alpha1.ActionParams{"replicas": "0"}}, "replicas"},
		"bad param name": {"param name pattern", deploy, platformv1alpha1.SuggestedAction{Action: "ScaleDeployment", Params: platformv1alpha1.ActionParams{"$(rm)": "1"}}, "param name"},
		"long value":     {"value bound", deploy, platformv1alpha1.SuggestedAction{Action: "PatchConfig", Params: platformv1alpha1.ActionParams{"value": strings.Repeat("x", 9000)}}, "longer than"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := Default{PlatformNamespace: "chatcli"}.Check(context.Background(), tc.target, tc.action)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("%s: %v", tc.reason, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("%s: err = %v, want %q", tc.reason, err, tc.wantErr)
			}
		})
	}
}

func TestActionsSplitsAndBounds(t *testing.T) {
	deploy := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "shop", Name: "web"}
	res := Actions(context.Background(), Default{}, deploy, []llm.Action{
		{Action: "AdjustResources", Params: map[string]string{"container": "app", "memory_limit": "384Mi"}},
		{Action: "ApplyManifest", Params: map[string]string{"manifest": strings.Repeat("y", 9000), "bad name!": "x"}},
		{Action: strings.Repeat("Z", 300)},
	})
	if len(res.Accepted) != 1 || len(res.Rejected) != 2 {
		t.Fatalf("accepted %d, rejected %d", len(res.Accepted), len(res.Rejected))
	}
	r := res.Rejected[0]
	if len(r.Params["manifest"]) > 1024 || r.Params["bad name!"] != "" || r.Reason == "" {
		t.Errorf("rejected action not bounded: %+v", r)
	}
	if len(res.Rejected[1].Action) != 256 {
		t.Errorf("action not cut to 256: %d", len(res.Rejected[1].Action))
	}
}
