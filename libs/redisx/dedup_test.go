package redisx_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/redisx"
)

func TestDedupFirstIsNewSecondReturnsStoredValue(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	hash := unique(t)

	first, err := c.Dedup(ctx, hash, "anomaly-a", time.Minute)
	if err != nil {
		t.Fatalf("first Dedup: %v", err)
	}
	if want := (redisx.DedupResult{New: true}); first != want {
		t.Errorf("first Dedup: got %+v, want %+v", first, want)
	}
	second, err := c.Dedup(ctx, hash, "anomaly-b", time.Minute)
	if err != nil {
		t.Fatalf("second Dedup: %v", err)
	}
	if want := (redisx.DedupResult{Existing: "anomaly-a"}); second != want {
		t.Errorf("second Dedup: got %+v, want %+v", second, want)
	}
	ttl, err := c.Redis().PTTL(ctx, redisx.DedupKey(hash)).Result()
	if err != nil {
		t.Fatalf("PTTL: %v", err)
	}
	if ttl <= 0 || ttl > time.Minute {
		t.Errorf("dedup key TTL is %s, want within (0, 1m]", ttl)
	}
}

func TestDedupIsExactlyOnceUnderContention(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	hash := unique(t)

	var created atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			r, err := c.Dedup(ctx, hash, "anomaly", time.Minute)
			if err != nil {
				t.Errorf("Dedup: %v", err)
				return
			}
			if r.New {
				created.Add(1)
			} else if r.Existing != "anomaly" {
				t.Errorf("Existing: got %q, want %q", r.Existing, "anomaly")
			}
		})
	}
	wg.Wait()
	if n := created.Load(); n != 1 {
		t.Errorf("%d callers saw New, want exactly 1", n)
	}
}

func TestInvalidateDedupClearsOnlyThatResource(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	target, other := uniqueResource(t), uniqueResource(t)
	prefix := unique(t)
	targetHashes := []string{prefix + "-t1", prefix + "-t2", prefix + "-t3"}
	otherHashes := []string{prefix + "-o1", prefix + "-o2"}

	for _, h := range targetHashes {
		if _, err := c.DedupResource(ctx, target, h, "anomaly-"+h, time.Minute); err != nil {
			t.Fatalf("DedupResource: %v", err)
		}
	}
	for _, h := range otherHashes {
		if _, err := c.DedupResource(ctx, other, h, "anomaly-"+h, time.Minute); err != nil {
			t.Fatalf("DedupResource: %v", err)
		}
	}
	// An already expired hash in the index is removed but not counted.
	if err := c.Redis().Del(ctx, redisx.DedupKey(targetHashes[2])).Err(); err != nil {
		t.Fatalf("DEL: %v", err)
	}

	n, err := c.InvalidateDedup(ctx, target)
	if err != nil {
		t.Fatalf("InvalidateDedup: %v", err)
	}
	if n != 2 {
		t.Errorf("InvalidateDedup cleared %d keys, want 2", n)
	}
	if exists := countExisting(t, c, redisx.DedupIndexKey(target), redisx.DedupKey(targetHashes[0]), redisx.DedupKey(targetHashes[1])); exists != 0 {
		t.Errorf("%d keys of the invalidated resource remain", exists)
	}
	if exists := countExisting(t, c, redisx.DedupIndexKey(other), redisx.DedupKey(otherHashes[0]), redisx.DedupKey(otherHashes[1])); exists != 3 {
		t.Errorf("%d of the other resource's 3 keys remain, want all", exists)
	}

	// A signal seen again after resolution is new again.
	r, err := c.DedupResource(ctx, target, targetHashes[0], "anomaly-again", time.Minute)
	if err != nil {
		t.Fatalf("DedupResource after invalidation: %v", err)
	}
	if !r.New {
		t.Errorf("DedupResource after invalidation: got %+v, want New", r)
	}
	if n, err := c.InvalidateDedup(ctx, uniqueResource(t)); err != nil || n != 0 {
		t.Errorf("InvalidateDedup of an unknown resource: got %d, %v; want 0, nil", n, err)
	}
}

func TestDedupIndexOutlivesItsHashes(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	res := uniqueResource(t)
	prefix := unique(t)

	if _, err := c.DedupResource(ctx, res, prefix+"-long", "a", time.Hour); err != nil {
		t.Fatalf("DedupResource: %v", err)
	}
	// A later, shorter hash must not shorten the index below the long one.
	if _, err := c.DedupResource(ctx, res, prefix+"-short", "b", time.Minute); err != nil {
		t.Fatalf("DedupResource: %v", err)
	}
	ttl, err := c.Redis().PTTL(ctx, redisx.DedupIndexKey(res)).Result()
	if err != nil {
		t.Fatalf("PTTL: %v", err)
	}
	if ttl <= 59*time.Minute {
		t.Errorf("index TTL is %s, want close to 1h", ttl)
	}
	members, err := c.Redis().SMembers(ctx, redisx.DedupIndexKey(res)).Result()
	if err != nil {
		t.Fatalf("SMEMBERS: %v", err)
	}
	if len(members) != 2 {
		t.Errorf("index lists %v, want both hashes", members)
	}
}

func TestDedupRejectsBadInput(t *testing.T) {
	tests := map[string]struct {
		reason string
		hash   string
		value  string
		ttl    time.Duration
		res    platformv1alpha1.ResourceReference
	}{
		"EmptyValue":   {reason: "Existing must be able to name the first claimant.", hash: "h", ttl: time.Minute, res: platformv1alpha1.ResourceReference{Kind: "Pod", Name: "p"}},
		"EmptyHash":    {reason: "A hash is required.", value: "v", ttl: time.Minute, res: platformv1alpha1.ResourceReference{Kind: "Pod", Name: "p"}},
		"ColonInHash":  {reason: "A ':' could spell an index key.", hash: "res:x", value: "v", ttl: time.Minute, res: platformv1alpha1.ResourceReference{Kind: "Pod", Name: "p"}},
		"ZeroTTL":      {reason: "A dedup key must expire.", hash: "h", value: "v", res: platformv1alpha1.ResourceReference{Kind: "Pod", Name: "p"}},
		"NoKind":       {reason: "A resource needs a kind.", hash: "h", value: "v", ttl: time.Minute, res: platformv1alpha1.ResourceReference{Name: "p"}},
		"WhitespaceNS": {reason: "Whitespace only comes from a bug.", hash: "h", value: "v", ttl: time.Minute, res: platformv1alpha1.ResourceReference{Kind: "Pod", Namespace: "a b", Name: "p"}},
	}
	c := newClient(t, redisx.Config{})
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := c.DedupResource(testContext(t), tc.res, tc.hash, tc.value, tc.ttl); err == nil {
				t.Errorf("%s\nDedupResource accepted hash %q ttl %s resource %v", tc.reason, tc.hash, tc.ttl, tc.res)
			}
		})
	}
}

func countExisting(t *testing.T, c *redisx.Client, keys ...string) int64 {
	t.Helper()
	n, err := c.Redis().Exists(testContext(t), keys...).Result()
	if err != nil {
		t.Fatalf("EXISTS: %v", err)
	}
	return n
}
