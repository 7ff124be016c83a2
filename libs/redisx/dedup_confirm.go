package redisx

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// confirmScript turns a short claim into the full dedup entry: it stores
// the final value with the full TTL (only if the claim still exists) and
// raises the resource index's TTL to match, so that InvalidateDedup can
// find the hash for as long as it lives.
//
// KEYS: dedup key, index key. ARGV: value, ttl ms.
var confirmScript = redis.NewScript(`
local ok = redis.call('SET', KEYS[1], ARGV[1], 'XX', 'PX', ARGV[2])
local ttl = tonumber(ARGV[2])
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
if ok then
  return 1
end
return 0
`)

// ConfirmDedup gives a claim made by DedupResource its final value and
// full TTL. It reports whether the claim still existed; when it had
// expired, nothing is stored and the next sighting claims afresh.
func (c *Client) ConfirmDedup(ctx context.Context, res platformv1alpha1.ResourceReference, hash, value string, ttl time.Duration) (bool, error) {
	if err := validateDedup(hash, value, ttl); err != nil {
		return false, err
	}
	if err := validateResource(res); err != nil {
		return false, fmt.Errorf("confirm dedup %s: %w", hash, err)
	}
	n, err := confirmScript.Run(ctx, c.rdb, []string{DedupKey(hash), DedupIndexKey(res)}, value, ttl.Milliseconds()).Int()
	if err != nil {
		return false, wrapErr("confirm dedup "+hash, err)
	}
	return n == 1, nil
}

// ReleaseDedup deletes a claim that still holds value, so that a signal
// whose Anomaly could not be created is not hidden by its own claim.
func (c *Client) ReleaseDedup(ctx context.Context, hash, value string) error {
	if err := validateToken("dedup hash", hash); err != nil {
		return err
	}
	if err := compareAndDeleteScript.Run(ctx, c.rdb, []string{DedupKey(hash)}, value).Err(); err != nil {
		return wrapErr("release dedup "+hash, err)
	}
	return nil
}
