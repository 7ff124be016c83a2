package redisx_test

import (
	"testing"
	"time"

	"github.com/chatcli/aiops/libs/redisx"
)

// TestConfirmDedupKeepsTheIndexAsLongAsTheKey guards the promise that
// InvalidateDedup finds every live hash: a short claim confirmed with a
// long TTL must leave the index living at least as long as the key.
func TestConfirmDedupKeepsTheIndexAsLongAsTheKey(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	res, hash := uniqueResource(t), unique(t)

	if _, err := c.DedupResource(ctx, res, hash, "~pending", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	existed, err := c.ConfirmDedup(ctx, res, hash, "anomaly-a", 30*time.Minute)
	if err != nil || !existed {
		t.Fatalf("ConfirmDedup = %v, %v; want true, nil", existed, err)
	}
	// Read the index first: its TTL only falls while we read the key's.
	indexTTL := c.Redis().PTTL(ctx, redisx.DedupIndexKey(res)).Val()
	keyTTL := c.Redis().PTTL(ctx, redisx.DedupKey(hash)).Val()
	if keyTTL < 29*time.Minute || indexTTL < keyTTL {
		t.Fatalf("key TTL %s, index TTL %s: want the key near 30m and the index at least as long", keyTTL, indexTTL)
	}
	if got := c.Redis().Get(ctx, redisx.DedupKey(hash)).Val(); got != "anomaly-a" {
		t.Errorf("value = %q, want anomaly-a", got)
	}
	if n, err := c.InvalidateDedup(ctx, res); err != nil || n != 1 {
		t.Errorf("InvalidateDedup = %d, %v; want 1", n, err)
	}
}

func TestConfirmDedupOfAnExpiredClaimStoresNothing(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	existed, err := c.ConfirmDedup(ctx, uniqueResource(t), unique(t), "anomaly-a", time.Minute)
	if err != nil || existed {
		t.Fatalf("ConfirmDedup = %v, %v; want false, nil", existed, err)
	}
}

func TestReleaseDedupDeletesOnlyItsOwnClaim(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	tests := map[string]struct {
		reason  string
		release string
		want    int64
	}{
		"OwnValue":   {reason: "the claimant releases its claim", release: "~pending-1", want: 0},
		"OtherValue": {reason: "a claim someone else confirmed stays", release: "~pending-2", want: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			hash := unique(t)
			if _, err := c.Dedup(ctx, hash, "~pending-1", time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := c.ReleaseDedup(ctx, hash, tc.release); err != nil {
				t.Fatal(err)
			}
			if got := c.Redis().Exists(ctx, redisx.DedupKey(hash)).Val(); got != tc.want {
				t.Errorf("%s: key exists = %d, want %d", tc.reason, got, tc.want)
			}
		})
	}
}
