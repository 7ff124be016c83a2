package redisx

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// DefaultLockTTL is long enough to ride out a slow Redis call or a GC pause
// between renewals, and short enough that a crashed holder's lock frees up
// within one reconcile backoff.
const DefaultLockTTL = 15 * time.Second

// DefaultLockRetryInterval is how often AcquireWait polls a held lock.
const DefaultLockRetryInterval = 100 * time.Millisecond

// LockOptions tunes a lock. The zero value renews a DefaultLockTTL lock.
type LockOptions struct {
	// TTL is how long the lock outlives its last renewal (at least 1ms).
	TTL time.Duration
	// NoRenew turns off automatic renewal: the lock then expires TTL after
	// acquisition unless the holder calls Refresh.
	NoRenew bool
	// RetryInterval is AcquireWait's poll interval; jitter is added so
	// that waiters do not poll in step.
	RetryInterval time.Duration
}

func (o LockOptions) withDefaults() LockOptions {
	if o.TTL == 0 {
		o.TTL = DefaultLockTTL
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = DefaultLockRetryInterval
	}
	return o
}

// acquireScript takes KEYS[1] for token ARGV[1] with TTL ARGV[2] ms and, in
// the same step, increments the fencing counter KEYS[2] and returns it. A
// replay by the same token (the first reply was lost) returns the current
// fence instead of failing. Otherwise it returns {0, pttl of the holder}.
//
// The counter never stays below Redis's clock in milliseconds: if Redis
// loses its data (a restart without persistence) or some of it (a failover
// to a replica that missed the last increments), fences must still rise
// past every one handed out before. That holds while locks are taken less
// than once a millisecond on average.
var acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local now = redis.call('TIME')
  local floor = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  if tonumber(redis.call('GET', KEYS[2]) or '0') < floor then
    redis.call('SET', KEYS[2], string.format('%d', floor))
  end
  return {1, redis.call('INCR', KEYS[2])}
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, tonumber(redis.call('GET', KEYS[2]) or '0')}
end
return {0, redis.call('PTTL', KEYS[1])}
`)

// refreshScript extends KEYS[1] to ARGV[2] ms only while it holds ARGV[1].
var refreshScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// compareAndDeleteScript deletes KEYS[1] only while it holds ARGV[1], so a
// lock holder whose lock expired cannot delete its successor's lock, and a
// replica cannot release a dedup claim another replica has since made.
var compareAndDeleteScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lock is a held lock. Its methods are safe for concurrent use.
type Lock struct {
	c     *Client
	key   string
	token string
	fence int64
	ttl   time.Duration

	stopRenew context.CancelFunc
	renewDone chan struct{}
	lost      chan struct{}
	lostOnce  sync.Once
}

// Acquire takes the lock purpose on res without waiting. It returns an
// error matching ErrLockHeld when another owner holds it, and one matching
// ErrUnavailable when Redis does not answer (locks fail closed).
func (c *Client) Acquire(ctx context.Context, purpose string, res platformv1alpha1.ResourceReference, opts LockOptions) (*Lock, error) {
	opts = opts.withDefaults()
	if err := validateLock(purpose, res, opts); err != nil {
		return nil, err
	}
	l, _, err := c.tryAcquire(ctx, purpose, res, opts)
	return l, err
}

// AcquireWait is Acquire that retries while the lock is held, until ctx is
// done. On timeout its error matches both ErrLockHeld and ctx.Err().
func (c *Client) AcquireWait(ctx context.Context, purpose string, res platformv1alpha1.ResourceReference, opts LockOptions) (*Lock, error) {
	opts = opts.withDefaults()
	if err := validateLock(purpose, res, opts); err != nil {
		return nil, err
	}
	key := LockKey(purpose, res)
	waited := false
	for {
		l, holderTTL, err := c.tryAcquire(ctx, purpose, res, opts)
		if waited && err != nil && ctx.Err() != nil {
			// The deadline ran out during a poll: the lock was still held
			// as far as we know, which tells the caller more than the
			// interrupted call does.
			return nil, fmt.Errorf("wait for lock %s: %w (%w)", key, ErrLockHeld, ctx.Err())
		}
		if !errors.Is(err, ErrLockHeld) {
			return l, err
		}
		waited = true
		// Never sleep past the holder's expiry, and add jitter so waiters
		// spread out instead of all polling at once.
		wait := opts.RetryInterval
		if holderTTL > 0 && holderTTL < wait {
			wait = holderTTL
		}
		wait += mrand.N(wait/2 + 1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for lock %s: %w (%w)", key, ErrLockHeld, ctx.Err())
		case <-t.C:
		}
	}
}

// tryAcquire returns the lock, or ErrLockHeld with the holder's remaining
// TTL, or another error.
func (c *Client) tryAcquire(ctx context.Context, purpose string, res platformv1alpha1.ResourceReference, opts LockOptions) (*Lock, time.Duration, error) {
	key := LockKey(purpose, res)
	token := rand.Text()
	start := time.Now()
	vals, err := acquireScript.Run(ctx, c.rdb, []string{key, FenceKey(purpose, res)}, token, opts.TTL.Milliseconds()).Int64Slice()
	if err != nil {
		return nil, 0, wrapErr("acquire lock "+key, err)
	}
	if len(vals) != 2 {
		return nil, 0, fmt.Errorf("acquire lock %s: unexpected script reply %v", key, vals)
	}
	if vals[0] == 0 {
		return nil, time.Duration(vals[1]) * time.Millisecond, fmt.Errorf("acquire lock %s: %w", key, ErrLockHeld)
	}
	l := &Lock{
		c:         c,
		key:       key,
		token:     token,
		fence:     vals[1],
		ttl:       opts.TTL,
		renewDone: make(chan struct{}),
		lost:      make(chan struct{}),
	}
	if opts.NoRenew {
		l.stopRenew = func() {}
		close(l.renewDone)
		return l, 0, nil
	}
	renewCtx, cancel := context.WithCancel(context.Background())
	l.stopRenew = cancel
	go l.renew(renewCtx, start)
	return l, 0, nil
}

// Key returns the lock's Redis key.
func (l *Lock) Key() string { return l.key }

// Token returns the random token that marks this holder in Redis.
func (l *Lock) Token() string { return l.token }

// Fence returns the fencing token: every acquisition of the same lock gets a
// strictly greater value than the ones before it, so a resource that
// remembers the highest fence it has seen can refuse a stale holder.
func (l *Lock) Fence() int64 { return l.fence }

// Refresh extends the lock to a full TTL from now. It returns an error
// matching ErrNotHeld (and marks the lock lost) when the lock has expired
// or belongs to someone else.
func (l *Lock) Refresh(ctx context.Context) error {
	n, err := refreshScript.Run(ctx, l.c.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Int()
	if err != nil {
		return wrapErr("refresh lock "+l.key, err)
	}
	if n == 0 {
		l.markLost()
		return fmt.Errorf("refresh lock %s: %w", l.key, ErrNotHeld)
	}
	return nil
}

// Release stops renewal and deletes the lock if it still holds this token.
// It returns an error matching ErrNotHeld when the lock had expired or
// passed to another owner; nothing is deleted then, so a second Release
// is harmless and also reports ErrNotHeld.
func (l *Lock) Release(ctx context.Context) error {
	// Stop renewal first and wait for it, so that no renewal in flight can
	// race with the delete.
	l.stopRenew()
	<-l.renewDone
	n, err := compareAndDeleteScript.Run(ctx, l.c.rdb, []string{l.key}, l.token).Int()
	if err != nil {
		return wrapErr("release lock "+l.key, err)
	}
	if n == 0 {
		return fmt.Errorf("release lock %s: %w", l.key, ErrNotHeld)
	}
	return nil
}

func validateLock(purpose string, res platformv1alpha1.ResourceReference, opts LockOptions) error {
	if err := validateToken("lock purpose", purpose); err != nil {
		return err
	}
	if err := validateResource(res); err != nil {
		return fmt.Errorf("lock %s: %w", purpose, err)
	}
	if opts.TTL < time.Millisecond {
		return fmt.Errorf("lock %s: TTL must be at least 1ms", purpose)
	}
	return nil
}
