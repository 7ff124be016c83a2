package chart

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint/support"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/chatcli/aiops/e2e/cluster"
)

var update = flag.Bool("update", false, "rewrite the golden renders and the RBAC expectations")

const (
	release   = "chatcli"
	namespace = "chatcli-system"
)

// chartDir is charts/chatcli-aiops of the repository.
func chartDir(t testing.TB) string {
	t.Helper()
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "charts", "chatcli-aiops")
}

func loadChart(t testing.TB) *chart.Chart {
	t.Helper()
	chrt, err := loader.Load(chartDir(t))
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return chrt
}

// scenarios are the defaults and every values file under ci/, by name.
func scenarios(t testing.TB) map[string]map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir(t), "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("want the five ci/ scenarios, found %v", files)
	}
	out := map[string]map[string]any{"default": {}}
	for _, file := range files {
		vals, err := chartutil.ReadValuesFile(file)
		if err != nil {
			t.Fatalf("read %s: %v", file, err)
		}
		out[strings.TrimSuffix(filepath.Base(file), "-values.yaml")] = vals.AsMap()
	}
	return out
}

// render is `helm template chatcli <chart> -n chatcli-system` with vals:
// the manifest, and the error (a schema or template failure) if any.
func render(t testing.TB, vals map[string]any) (string, error) {
	t.Helper()
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.ClientOnly = true
	install.DryRun = true
	install.Replace = true
	install.ReleaseName = release
	install.Namespace = namespace
	rel, err := install.Run(loadChart(t), vals)
	if err != nil {
		return "", err
	}
	return rel.Manifest, nil
}

func mustRender(t testing.TB, vals map[string]any) string {
	t.Helper()
	manifest, err := render(t, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return manifest
}

// objects decodes a manifest into its objects.
func objects(t testing.TB, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(manifest, "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("decode %q: %v", doc, err)
		}
		if len(obj.Object) > 0 {
			out = append(out, obj)
		}
	}
	return out
}

func TestLintStrict(t *testing.T) {
	for name, vals := range scenarios(t) {
		t.Run(name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = namespace
			result := lint.Run([]string{chartDir(t)}, vals)
			for _, err := range result.Errors {
				t.Errorf("lint: %v", err)
			}
			for _, msg := range result.Messages {
				if msg.Severity > support.InfoSev {
					t.Errorf("lint: %s", msg.Error())
				}
			}
		})
	}
}

// TestTemplate renders every scenario and checks what holds for all of
// them: pinned images, restricted pods, probes, and each Deployment's own
// ServiceAccount.
func TestTemplate(t *testing.T) {
	for name, vals := range scenarios(t) {
		t.Run(name, func(t *testing.T) {
			objs := objects(t, mustRender(t, vals))
			deployments := 0
			for _, obj := range objs {
				if obj.GetKind() != "Deployment" && obj.GetKind() != "StatefulSet" {
					continue
				}
				deployments++
				spec, _, _ := unstructured.NestedMap(obj.Object, "spec", "template", "spec")
				if obj.GetKind() == "Deployment" {
					if sa, _ := spec["serviceAccountName"].(string); sa != obj.GetName() {
						t.Errorf("%s runs as ServiceAccount %q, want its own", obj.GetName(), sa)
					}
				}
				if got, _, _ := unstructured.NestedBool(spec, "securityContext", "runAsNonRoot"); !got {
					t.Errorf("%s: pod securityContext.runAsNonRoot is not true", obj.GetName())
				}
				if got, _, _ := unstructured.NestedString(spec, "securityContext", "seccompProfile", "type"); got != "RuntimeDefault" {
					t.Errorf("%s: pod seccompProfile %q, want RuntimeDefault", obj.GetName(), got)
				}
				containers, _, _ := unstructured.NestedSlice(spec, "containers")
				for _, c := range containers {
					c := c.(map[string]any)
					image, _ := c["image"].(string)
					if strings.HasSuffix(image, ":latest") || !strings.Contains(image, ":") {
						t.Errorf("%s: image %q is not pinned", obj.GetName(), image)
					}
					sc, _ := c["securityContext"].(map[string]any)
					if ro, _ := sc["readOnlyRootFilesystem"].(bool); !ro {
						t.Errorf("%s: readOnlyRootFilesystem is not true", obj.GetName())
					}
					if esc, ok := sc["allowPrivilegeEscalation"].(bool); !ok || esc {
						t.Errorf("%s: allowPrivilegeEscalation is not false", obj.GetName())
					}
					drop, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "drop")
					if !cmp.Equal(drop, []string{"ALL"}) {
						t.Errorf("%s: capabilities drop %v, want [ALL]", obj.GetName(), drop)
					}
					if _, ok := c["readinessProbe"]; !ok {
						t.Errorf("%s: no readinessProbe", obj.GetName())
					}
					if _, ok := c["resources"].(map[string]any)["requests"]; !ok {
						t.Errorf("%s: no resource requests", obj.GetName())
					}
					for _, arg := range c["args"].([]any) {
						if s := arg.(string); strings.Contains(s, "redis://") || strings.Contains(s, "rediss://") {
							t.Errorf("%s: the Redis URL is in the arguments: %s", obj.GetName(), s)
						}
					}
				}
			}
			if deployments == 0 {
				t.Error("no Deployment or StatefulSet rendered")
			}
		})
	}
}

// TestLocalProcesses: the e2e harness's mode renders only the CRDs, the
// ServiceAccounts with their RBAC (and the Instance watchers' ClusterRole
// the instance-operator binds) and the internal token; no webhook.
func TestLocalProcesses(t *testing.T) {
	kinds := map[string]int{}
	for _, obj := range objects(t, mustRender(t, map[string]any{"localProcesses": true})) {
		kinds[obj.GetKind()]++
		if obj.GetKind() == "Secret" && obj.GetName() != release+"-internal-token" {
			t.Errorf("unexpected Secret %s", obj.GetName())
		}
	}
	want := map[string]int{"CustomResourceDefinition": 7, "ServiceAccount": 6, "ClusterRole": 7, "ClusterRoleBinding": 6, "Role": 6, "RoleBinding": 6, "Secret": 1}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("kinds rendered in local-processes mode (-want +got):\n%s", diff)
	}
}

// TestImageDigest: a digest pins the image on top of its tag.
func TestImageDigest(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	manifest := mustRender(t, map[string]any{"analyzer": map[string]any{"image": map[string]any{"digest": digest}}})
	want := "image: ghcr.io/chatcli/aiops-analyzer:0.1.0@" + digest
	if !strings.Contains(manifest, want) {
		t.Errorf("render has no %q", want)
	}
}

func TestSchemaRejects(t *testing.T) {
	tests := map[string]struct {
		reason string
		values map[string]any
		want   string
	}{
		"top-level typo": {
			reason: "an unknown top-level key is refused, naming it",
			values: map[string]any{"analyser": map[string]any{"replicas": 2}},
			want:   "additional properties 'analyser' not allowed",
		},
		"nested typo": {
			reason: "an unknown key of a service is refused, naming it and where",
			values: map[string]any{"analyzer": map[string]any{"replica": 3}},
			want:   "at '/analyzer': additional properties 'replica' not allowed",
		},
		"bad tag": {
			reason: "a tag is a tag, not a reference",
			values: map[string]any{"image": map[string]any{"tag": "v1:2"}},
			want:   "at '/image/tag'",
		},
		"bad digest": {
			reason: "a digest is sha256:<64 hex>",
			values: map[string]any{"remediator": map[string]any{"image": map[string]any{"digest": "sha256:abc"}}},
			want:   "at '/remediator/image/digest'",
		},
		"failure policy": {
			reason: "the webhook's failurePolicy is Fail or Ignore",
			values: map[string]any{"webhook": map[string]any{"failurePolicy": "Never"}},
			want:   "at '/webhook/failurePolicy'",
		},
		"password in the Redis URL": {
			reason: "the services refuse a password inside --redis-url; the schema says so first",
			values: map[string]any{"redis": map[string]any{"external": map[string]any{"url": "redis://:secret@redis:6379"}}},
			want:   "at '/redis/external/url'",
		},
		"zero replicas": {
			reason: "replicas is at least 1",
			values: map[string]any{"correlator": map[string]any{"replicas": 0}},
			want:   "at '/correlator/replicas'",
		},
		"localProcesses type": {
			reason: "the switch is a boolean",
			values: map[string]any{"localProcesses": "yes"},
			want:   "at '/localProcesses'",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil {
				t.Fatalf("%s: render succeeded", tc.reason)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %q does not contain %q", tc.reason, err, tc.want)
			}
		})
	}
}

// TestTemplateRejects: what the schema cannot say, the templates refuse
// with a message.
func TestTemplateRejects(t *testing.T) {
	tests := map[string]struct {
		reason string
		values map[string]any
		want   string
	}{
		"external Redis without CIDRs": {
			reason: "the NetworkPolicies cannot reach an external Redis they know nothing of",
			values: map[string]any{"redis": map[string]any{"external": map[string]any{"url": "redis://redis.data:6379"}}},
			want:   "redis.external.cidrs",
		},
		"latest tag": {
			reason: "images are pinned, never :latest",
			values: map[string]any{"image": map[string]any{"tag": "latest"}},
			want:   `"latest" is refused; pin a version`,
		},
		"latest Redis tag": {
			reason: "Redis's image is pinned too",
			values: map[string]any{"redis": map[string]any{"image": map[string]any{"tag": "latest"}}},
			want:   `redis.image.tag: "latest" is refused`,
		},
		"metadata address": {
			reason: "169.254.169.254/32 is never allowed",
			values: map[string]any{"analyzer": map[string]any{"llm": map[string]any{"cidrs": []any{"169.254.169.254/32"}}}},
			want:   "cloud metadata address",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: got error %v, want one containing %q", tc.reason, err, tc.want)
			}
		})
	}
}

// generated matches the values the chart generates at every fresh render
// (certificates, keys, the token, the Redis password), masked in goldens.
var generated = regexp.MustCompile(`(?m)^(\s+(?:tls\.crt|tls\.key|ca\.crt|caBundle|token|password)): \S+$`)

// golden is the manifest without the CRDs (generated from api/ and checked
// by make verify) and with generated secrets masked.
func golden(manifest string) string {
	var docs []string
	for _, doc := range strings.Split(manifest, "\n---\n") {
		if strings.Contains(doc, "# Source: chatcli-aiops/templates/crds/") {
			continue
		}
		docs = append(docs, generated.ReplaceAllString(doc, "$1: <generated>"))
	}
	return strings.Join(docs, "\n---\n") + "\n"
}

func TestGolden(t *testing.T) {
	for name, vals := range scenarios(t) {
		t.Run(name, func(t *testing.T) {
			got := golden(mustRender(t, vals))
			compareFile(t, filepath.Join("testdata", "golden", name+".yaml"), got)
		})
	}
}

// compareFile diffs got against a checked-in file, or rewrites it with
// -update.
func compareFile(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (go test -update writes it): %v", path, err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s is stale (-want +got; go test -update rewrites it):\n%s", path, diff)
	}
}

// TestAnalyzerAPIKeysSecret: analyzer.llm.apiKeysSecret mounts the
// providers' keys into the analyzer only, as an optional envFrom, so no
// other service sees them and a missing Secret leaves BUILTIN alone.
func TestAnalyzerAPIKeysSecret(t *testing.T) {
	vals := map[string]any{"analyzer": map[string]any{"llm": map[string]any{"apiKeysSecret": "llm-keys"}}}
	found := false
	for _, obj := range objects(t, mustRender(t, vals)) {
		if obj.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
		envFrom, _ := containers[0].(map[string]any)["envFrom"].([]any)
		if !strings.HasSuffix(obj.GetName(), "analyzer") {
			if envFrom != nil {
				t.Errorf("%s mounts %v", obj.GetName(), envFrom)
			}
			continue
		}
		found = true
		want := []any{map[string]any{"secretRef": map[string]any{"name": "llm-keys", "optional": true}}}
		if !cmp.Equal(envFrom, want) {
			t.Errorf("analyzer envFrom = %v, want %v", envFrom, want)
		}
	}
	if !found {
		t.Fatal("no analyzer Deployment rendered")
	}
	if _, err := render(t, map[string]any{"analyzer": map[string]any{"llm": map[string]any{"apiKeysSecret": "Bad_Name"}}}); err == nil {
		t.Error("the schema accepted an invalid Secret name")
	}
}
