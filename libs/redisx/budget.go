package redisx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Budget is a limit on how much of something (remediations, pod deletions)
// a scope may spend per window.
//
// Windows are fixed and, for lengths that divide a day, aligned to UTC
// midnight (an hour window runs from hh:00 to hh:59:59 UTC). A fixed window is one key and one script call,
// and it is easy to explain in an audit; the price is that a burst
// straddling a boundary can spend up to twice the limit within one window
// length, which the blast-radius policy accepts.
type Budget struct {
	// Scope names what is limited, e.g. "remediation:ns/prod". It may
	// contain ':' but no whitespace.
	Scope string
	// Limit is the most that may be spent per window.
	Limit int64
	// Window is the window length, at least one second.
	Window time.Duration
}

// BudgetResult is the outcome of a spend.
type BudgetResult struct {
	// Allowed is true when the spend was recorded; false when it would
	// have passed the limit and nothing was recorded.
	Allowed bool
	// Used is the amount spent in the window, after this spend if allowed.
	Used int64
	// Remaining is Limit - Used, never negative.
	Remaining int64
	// WindowStart and WindowEnd bound the window the spend fell into.
	WindowStart time.Time
	WindowEnd   time.Time
}

// spendScript adds ARGV[1] to KEYS[1] unless that would pass ARGV[2], and
// gives a new key an expiry of one window (ARGV[3] ms). The expiry counts
// from the first spend, not the window start, so a Redis clock that runs
// behind ours can never end a window early and hand out a second budget.
var spendScript = redis.NewScript(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[1])
if used + n > tonumber(ARGV[2]) then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], n)
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1, used}
`)

// SpendBudget atomically spends n (at least 1) from b in the window that
// contains now, unless that would pass b.Limit.
func (c *Client) SpendBudget(ctx context.Context, b Budget, n int64, now time.Time) (BudgetResult, error) {
	if err := b.validate(); err != nil {
		return BudgetResult{}, err
	}
	if n < 1 {
		return BudgetResult{}, fmt.Errorf("budget %s: spend %d is not positive", b.Scope, n)
	}
	start := b.windowStart(now)
	key := BudgetKey(b.Scope, start)
	vals, err := spendScript.Run(ctx, c.rdb, []string{key}, n, b.Limit, b.Window.Milliseconds()).Int64Slice()
	if err != nil {
		return BudgetResult{}, wrapErr("spend budget "+key, err)
	}
	if len(vals) != 2 {
		return BudgetResult{}, fmt.Errorf("spend budget %s: unexpected script reply %v", key, vals)
	}
	return b.result(vals[0] == 1, vals[1], start), nil
}

// BudgetUsage reports what has been spent from b in the window that
// contains now, without spending. Allowed tells whether a spend of 1 would
// pass.
func (c *Client) BudgetUsage(ctx context.Context, b Budget, now time.Time) (BudgetResult, error) {
	if err := b.validate(); err != nil {
		return BudgetResult{}, err
	}
	start := b.windowStart(now)
	key := BudgetKey(b.Scope, start)
	used, err := c.rdb.Get(ctx, key).Int64()
	if errors.Is(err, redis.Nil) {
		used, err = 0, nil
	}
	if err != nil {
		return BudgetResult{}, wrapErr("read budget "+key, err)
	}
	return b.result(used < b.Limit, used, start), nil
}

func (b Budget) windowStart(now time.Time) time.Time {
	// Truncate counts from the zero time, which is aligned with the Unix
	// epoch for any window that divides a day.
	return now.UTC().Truncate(b.Window)
}

func (b Budget) result(allowed bool, used int64, start time.Time) BudgetResult {
	return BudgetResult{
		Allowed:     allowed,
		Used:        used,
		Remaining:   max(b.Limit-used, 0),
		WindowStart: start,
		WindowEnd:   start.Add(b.Window),
	}
}

func (b Budget) validate() error {
	if b.Scope == "" || strings.ContainsAny(b.Scope, " \t\r\n") {
		return fmt.Errorf("budget scope %q is empty or contains whitespace", b.Scope)
	}
	if b.Limit < 0 {
		return fmt.Errorf("budget %s: limit %d is negative", b.Scope, b.Limit)
	}
	if b.Window < time.Second {
		return fmt.Errorf("budget %s: window %s is shorter than 1s", b.Scope, b.Window)
	}
	return nil
}

// spendOnceScript is spendScript for a spend of 1 named ARGV[3]: a name
// already in the window's set KEYS[2] is allowed again without counting.
var spendOnceScript = redis.NewScript(`
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 1 then
  return {1, tonumber(redis.call('GET', KEYS[1]) or '0')}
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + 1 > tonumber(ARGV[1]) then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], 1)
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('PTTL', KEYS[2]) < 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return {1, used}
`)

// SpendBudgetOnce spends 1 from b for the spend named id, unless that would
// pass b.Limit. A spend of an id already made in the window is allowed and
// counts nothing, so a retried operation is paid for once.
func (c *Client) SpendBudgetOnce(ctx context.Context, b Budget, id string, now time.Time) (BudgetResult, error) {
	if err := b.validate(); err != nil {
		return BudgetResult{}, err
	}
	if err := validateToken("budget spend id", id); err != nil {
		return BudgetResult{}, err
	}
	start := b.windowStart(now)
	key := BudgetKey(b.Scope, start)
	vals, err := spendOnceScript.Run(ctx, c.rdb, []string{key, key + ":spends"}, b.Limit, b.Window.Milliseconds(), id).Int64Slice()
	if err != nil {
		return BudgetResult{}, wrapErr("spend budget "+key, err)
	}
	if len(vals) != 2 {
		return BudgetResult{}, fmt.Errorf("spend budget %s: unexpected script reply %v", key, vals)
	}
	return b.result(vals[0] == 1, vals[1], start), nil
}
