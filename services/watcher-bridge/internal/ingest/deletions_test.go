package ingest

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// TestIdentityOnlyKeepsTheKey: the cache keys and indexes what the
// transform leaves by namespace and name, as it did the object's metadata.
func TestIdentityOnlyKeepsTheKey(t *testing.T) {
	obj, err := identityOnly(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Namespace: "shop", Name: "api-7d9c-abcde", UID: "u1", Labels: map[string]string{"app": "api"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err != nil || key != "shop/api-7d9c-abcde" {
		t.Errorf("key %q, %v; want shop/api-7d9c-abcde", key, err)
	}
	if ns, err := cache.MetaNamespaceIndexFunc(obj); err != nil || len(ns) != 1 || ns[0] != "shop" {
		t.Errorf("namespace index %v, %v; want [shop]", ns, err)
	}
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(cache.DeletedFinalStateUnknown{Key: "shop/x", Obj: obj}); err != nil || key != "shop/x" {
		t.Errorf("tombstone key %q, %v", key, err)
	}
}
