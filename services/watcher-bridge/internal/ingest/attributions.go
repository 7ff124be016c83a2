package ingest

import (
	"sync"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// attributionTTL bounds how long a lookup is trusted should a delete event
// be missed (a watch that was down).
const attributionTTL = time.Minute

// attributionCache maps a named resource to what it resolved to. It is a
// map rather than an LRU because a delete must find every entry that
// resolves to the deleted object, not only the one keyed by its name.
type attributionCache struct {
	mu      sync.Mutex
	max     int
	entries map[platformv1alpha1.ResourceReference]attribution
}

type attribution struct {
	resource platformv1alpha1.ResourceReference
	expires  time.Time
}

func newAttributionCache(max int) *attributionCache {
	return &attributionCache{max: max, entries: map[platformv1alpha1.ResourceReference]attribution{}}
}

func (a *attributionCache) get(named platformv1alpha1.ResourceReference) (platformv1alpha1.ResourceReference, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.entries[named]
	if !ok || time.Now().After(e.expires) {
		return platformv1alpha1.ResourceReference{}, false
	}
	return e.resource, true
}

func (a *attributionCache) add(named, resolved platformv1alpha1.ResourceReference) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if len(a.entries) >= a.max {
		for k, e := range a.entries {
			if now.After(e.expires) {
				delete(a.entries, k)
			}
		}
	}
	if len(a.entries) >= a.max {
		// A storm of distinct names: start over rather than track recency.
		clear(a.entries)
	}
	a.entries[named] = attribution{resource: resolved, expires: now.Add(attributionTTL)}
}

// forget drops every entry named by or resolved to r, whatever its UID.
func (a *attributionCache) forget(r platformv1alpha1.ResourceReference) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for named, e := range a.entries {
		if sameObject(named, r) || sameObject(e.resource, r) {
			delete(a.entries, named)
		}
	}
}

func sameObject(a, b platformv1alpha1.ResourceReference) bool {
	return a.Kind == b.Kind && a.Namespace == b.Namespace && a.Name == b.Name
}
