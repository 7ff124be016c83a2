package redisx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// DedupResult is the outcome of a dedup claim.
type DedupResult struct {
	// New is true when this call created the key: the signal had not been
	// seen within the TTL, and the caller should create the Anomaly.
	New bool
	// Existing is the value stored by whoever claimed the hash first (the
	// Anomaly name) when New is false. A replayed claim whose first reply
	// was lost also lands here, with Existing equal to the caller's value.
	Existing string
}

// dedupScript claims KEYS[1] with SET NX PX and, when KEYS[2] is given,
// records the hash in that resource index in the same step, so that an
// invalidation can never miss a hash that was just claimed. The index TTL
// is only ever raised, so the index outlives every hash it lists.
//
// ARGV: value, ttl ms, hash, index ttl ms.
var dedupScript = redis.NewScript(`
local created = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
local existing = ''
if not created then
  existing = redis.call('GET', KEYS[1]) or ''
end
if #KEYS == 2 then
  redis.call('SADD', KEYS[2], ARGV[3])
  local ttl = tonumber(ARGV[4])
  if redis.call('PTTL', KEYS[2]) < ttl then
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
end
if created then
  return {1, ''}
end
return {0, existing}
`)

// invalidateScript deletes every dedup key listed in the index KEYS[1] and
// the index itself, atomically, and returns how many dedup keys existed.
// ARGV[1] is the dedup key prefix.
var invalidateScript = redis.NewScript(`
local cleared = 0
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  cleared = cleared + redis.call('DEL', ARGV[1] .. hash)
end
redis.call('DEL', KEYS[1])
return cleared
`)

// Dedup claims hash for value (the Anomaly name) for ttl. Exactly one of
// several concurrent callers sees New; the others get the stored value.
func (c *Client) Dedup(ctx context.Context, hash, value string, ttl time.Duration) (DedupResult, error) {
	if err := validateDedup(hash, value, ttl); err != nil {
		return DedupResult{}, err
	}
	return c.dedup(ctx, []string{DedupKey(hash)}, hash, value, ttl)
}

// DedupResource is Dedup that also lists hash under res, so that
// InvalidateDedup(res) clears it when the resource's incident resolves.
func (c *Client) DedupResource(ctx context.Context, res platformv1alpha1.ResourceReference, hash, value string, ttl time.Duration) (DedupResult, error) {
	if err := validateDedup(hash, value, ttl); err != nil {
		return DedupResult{}, err
	}
	if err := validateResource(res); err != nil {
		return DedupResult{}, fmt.Errorf("dedup %s: %w", hash, err)
	}
	return c.dedup(ctx, []string{DedupKey(hash), DedupIndexKey(res)}, hash, value, ttl)
}

func (c *Client) dedup(ctx context.Context, keys []string, hash, value string, ttl time.Duration) (DedupResult, error) {
	ms := ttl.Milliseconds()
	vals, err := dedupScript.Run(ctx, c.rdb, keys, value, ms, hash, ms).Slice()
	if err != nil {
		return DedupResult{}, wrapErr("dedup "+hash, err)
	}
	if len(vals) != 2 {
		return DedupResult{}, fmt.Errorf("dedup %s: unexpected script reply %v", hash, vals)
	}
	created, _ := vals[0].(int64)
	existing, _ := vals[1].(string)
	if created == 1 {
		return DedupResult{New: true}, nil
	}
	return DedupResult{Existing: existing}, nil
}

// InvalidateDedup deletes every dedup key listed for res and the index
// itself, in one atomic step, and returns how many dedup keys it cleared
// (hashes that had already expired are not counted).
func (c *Client) InvalidateDedup(ctx context.Context, res platformv1alpha1.ResourceReference) (int, error) {
	if err := validateResource(res); err != nil {
		return 0, fmt.Errorf("invalidate dedup: %w", err)
	}
	n, err := invalidateScript.Run(ctx, c.rdb, []string{DedupIndexKey(res)}, DedupKey("")).Int()
	if err != nil {
		return 0, wrapErr("invalidate dedup of "+res.String(), err)
	}
	return n, nil
}

func validateDedup(hash, value string, ttl time.Duration) error {
	if err := validateToken("dedup hash", hash); err != nil {
		return err
	}
	// An empty value could not be told apart from "no value" in Existing.
	if value == "" {
		return fmt.Errorf("dedup %s: value is empty", hash)
	}
	// PX needs at least one millisecond; a zero TTL would mean "forever",
	// which dedup keys must never be.
	if ttl < time.Millisecond {
		return errors.New("dedup TTL must be at least 1ms")
	}
	return nil
}
