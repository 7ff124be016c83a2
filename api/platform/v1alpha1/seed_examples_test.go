package v1alpha1_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestSeedExamplesApplyUnchanged applies every YAML example of the product
// spec, as written, with strict field validation: the spec on create and the
// status through the status subresource, as `kubectl apply` and
// `kubectl apply --subresource=status` would. It then checks that no field
// was dropped, both as the API server stores it and after a round trip
// through the Go types.
func TestSeedExamplesApplyUnchanged(t *testing.T) {
	ctx := context.Background()
	files, err := filepath.Glob("testdata/seed/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed examples found: %v", err)
	}
	createNamespace(t, "production")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			// Examples that name no namespace each get their own, since
			// some are alternatives with the same name (the two Bedrock
			// Secrets).
			ownNamespace := env.NewNamespace(t, "seed", nil)
			want := readYAML(t, file)
			obj := &unstructured.Unstructured{Object: deepCopyJSON(t, want)}
			if obj.GetNamespace() == "" {
				obj.SetNamespace(ownNamespace)
			}
			status, hasStatus := obj.Object["status"]
			delete(obj.Object, "status")

			if err := env.Client.Create(ctx, obj, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("create: %v", err)
			}
			deleteOnCleanup(t, obj)
			if hasStatus {
				obj.Object["status"] = status
				opts := &client.SubResourceUpdateOptions{UpdateOptions: client.UpdateOptions{FieldValidation: "Strict"}}
				if err := env.Client.Status().Update(ctx, obj, opts); err != nil {
					t.Fatalf("update status: %v", err)
				}
			}

			stored := &unstructured.Unstructured{}
			stored.SetGroupVersionKind(obj.GroupVersionKind())
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), stored); err != nil {
				t.Fatalf("get: %v", err)
			}
			expected := expectedAfterStore(want)
			if missing := missingLeaves(expected, normalize(t, stored.Object), ""); len(missing) > 0 {
				t.Errorf("the API server dropped or changed fields: %v", missing)
			}

			typed, err := env.Scheme.New(obj.GroupVersionKind())
			if err != nil {
				t.Fatalf("new typed object: %v", err)
			}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), typed.(client.Object)); err != nil {
				t.Fatalf("get typed: %v", err)
			}
			typed.GetObjectKind().SetGroupVersionKind(obj.GroupVersionKind())
			if missing := missingLeaves(expected, normalize(t, typed), ""); len(missing) > 0 {
				t.Errorf("the Go types dropped or changed fields: %v", missing)
			}
		})
	}
}

// deleteOnCleanup deletes obj when the test ends, for objects whose name and
// namespace are fixed (the seed's), so that a repeated run can create them
// again.
func deleteOnCleanup(t *testing.T, obj client.Object) {
	t.Cleanup(func() {
		if err := env.Client.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete %s: %v", client.ObjectKeyFromObject(obj), err)
		}
	})
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	out := map[string]any{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return out
}

// expectedAfterStore is the example as the API server must return it. Only
// Secrets differ: stringData is write-only and is stored base64-encoded in
// data.
func expectedAfterStore(example map[string]any) map[string]any {
	if example["kind"] != "Secret" {
		return example
	}
	out := map[string]any{}
	for k, v := range example {
		out[k] = v
	}
	if stringData, ok := example["stringData"].(map[string]any); ok {
		data := map[string]any{}
		for k, v := range stringData {
			data[k] = base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(v)))
		}
		out["data"] = data
		delete(out, "stringData")
	}
	return out
}

// normalize turns any object into the plain JSON form the examples parse to.
func normalize(t *testing.T, v any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

func deepCopyJSON(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	return normalize(t, v)
}

// missingLeaves lists the paths of want whose values are absent from, or
// different in, got.
func missingLeaves(want, got any, path string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path}
		}
		var missing []string
		for k, wv := range w {
			missing = append(missing, missingLeaves(wv, g[k], path+"."+k)...)
		}
		return missing
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{path}
		}
		var missing []string
		for i := range w {
			missing = append(missing, missingLeaves(w[i], g[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return missing
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) {
			return []string{fmt.Sprintf("%s: want %v, got %v", path, want, got)}
		}
		return nil
	}
}
