package instance

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func TestConfigHash(t *testing.T) {
	own := []*corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "srv"}, Data: map[string]string{"LLM_PROVIDER": "CLAUDEAI"}}}
	refs := func(key string) references {
		return references{
			secrets:    map[string]*corev1.Secret{"keys": {Data: map[string][]byte{"ANTHROPIC_API_KEY": []byte(key)}}},
			configMaps: map[string]*corev1.ConfigMap{},
		}
	}
	base := configHash(own, refs("one"))
	cases := map[string]struct {
		reason string
		hash   string
		same   bool
	}{
		"Stable":        {reason: "The same data hashes the same, whatever the map order.", hash: configHash(own, refs("one")), same: true},
		"SecretChanged": {reason: "A Secret value change rolls the pods.", hash: configHash(own, refs("two"))},
		"KeyMovedAcross": {
			reason: "Moving bytes between a key and its value is a change.",
			hash:   configHash(own, references{secrets: map[string]*corev1.Secret{"keys": {Data: map[string][]byte{"ANTHROPIC_API_KEY=": []byte("ne")}}}}),
		},
		"OwnConfigChanged": {
			reason: "A change of the operator's own ConfigMap rolls the pods.",
			hash:   configHash([]*corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "srv"}, Data: map[string]string{"LLM_PROVIDER": "OPENAI"}}}, refs("one")),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if (tc.hash == base) != tc.same {
				t.Errorf("%s\nhash equal to the base: %t; want %t", tc.reason, tc.hash == base, tc.same)
			}
		})
	}
}

func TestClusterRoleBindingName(t *testing.T) {
	cases := map[string]struct {
		namespace, name string
		want            string
	}{
		"Short": {namespace: "apps", name: "srv", want: "chatcli-watcher-apps-srv"},
		"Long":  {namespace: strings.Repeat("n", 63), name: strings.Repeat("a", 253)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := ClusterRoleBindingName(tc.namespace, tc.name)
			if len(got) > 253 {
				t.Errorf("ClusterRoleBindingName() is %d bytes; want at most 253", len(got))
			}
			if tc.want != "" && got != tc.want {
				t.Errorf("ClusterRoleBindingName() = %q; want %q", got, tc.want)
			}
			if other := ClusterRoleBindingName(tc.namespace, tc.name+"b"); tc.want == "" && other == got {
				t.Errorf("two long names share %q", got)
			}
		})
	}
}

func TestPruneDropsNullsAndEmptyMaps(t *testing.T) {
	in := map[string]any{
		"metadata": map[string]any{"name": "srv", "creationTimestamp": nil},
		"spec": map[string]any{
			"template":   map[string]any{"metadata": map[string]any{"creationTimestamp": nil}},
			"containers": []any{map[string]any{"name": "c", "resources": map[string]any{}}},
			"replicas":   int64(0),
		},
	}
	prune(in)
	want := map[string]any{
		"metadata": map[string]any{"name": "srv"},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "c"}}, "replicas": int64(0)},
	}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("prune() (-want +got):\n%s", diff)
	}
}

func TestImage(t *testing.T) {
	cfg := Config{Image: "ghcr.io/diillson/chatcli", Tag: "0.1.0"}
	cases := map[string]struct {
		spec platformv1alpha1.ImageSpec
		want string
	}{
		"Default":    {want: "ghcr.io/diillson/chatcli:0.1.0"},
		"TagPinned":  {spec: platformv1alpha1.ImageSpec{Tag: "1.2.3"}, want: "ghcr.io/diillson/chatcli:1.2.3"},
		"Repository": {spec: platformv1alpha1.ImageSpec{Repository: "mirror/chatcli"}, want: "mirror/chatcli:0.1.0"},
		"Digest":     {spec: platformv1alpha1.ImageSpec{Repository: "mirror/chatcli@sha256:ab"}, want: "mirror/chatcli@sha256:ab"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			inst := &platformv1alpha1.Instance{Spec: platformv1alpha1.InstanceSpec{Image: tc.spec, Replicas: ptr.To[int32](1)}}
			if got := image(inst, cfg); got != tc.want {
				t.Errorf("image() = %q; want %q", got, tc.want)
			}
		})
	}
}
