package redisx

import (
	"context"
	"fmt"
	"time"
)

// renew extends the lock every TTL/3 until ctx is cancelled (Release) or
// the lock is lost. A failed call is retried at the next tick, but only
// while the lock is certain to outlive that tick: once the last confirmed
// extension could run out before the next attempt, the lock is reported
// lost, before Redis would let another owner in (clock drift aside).
func (l *Lock) renew(ctx context.Context, lastOK time.Time) {
	defer close(l.renewDone)
	interval := max(l.ttl/3, time.Millisecond)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		sent := time.Now()
		callCtx, cancel := context.WithTimeout(ctx, interval)
		n, err := refreshScript.Run(callCtx, l.c.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Int()
		cancel()
		switch {
		case ctx.Err() != nil:
			return // released while the call was in flight
		case err == nil && n == 1:
			// The extension took effect after sent, so it lasts at least
			// until sent+TTL.
			lastOK = sent
		case err == nil:
			l.markLost() // expired, or another token holds it
			return
		case !time.Now().Add(interval).Before(lastOK.Add(l.ttl)):
			l.markLost()
			return
		}
	}
}

func (l *Lock) markLost() {
	l.lostOnce.Do(func() { close(l.lost) })
}

// Lost returns a channel that is closed when the lock is found lost: a
// renewal or Refresh found it expired or held by another token, or Redis
// stayed unreachable too long to be sure it is still held. It is not closed
// by Release. Without renewal (LockOptions.NoRenew) only Refresh detects
// loss.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err returns nil while the lock is believed held and an error matching
// ErrLockLost once Lost is closed.
func (l *Lock) Err() error {
	select {
	case <-l.lost:
		return fmt.Errorf("lock %s: %w", l.key, ErrLockLost)
	default:
		return nil
	}
}

// Context returns a context that is cancelled when parent is done or the
// lock is lost, for work that must stop the moment it is no longer
// protected. context.Cause reports ErrLockLost in the latter case. Call the
// returned cancel when the work ends.
func (l *Lock) Context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		select {
		case <-l.lost:
			cancel(l.Err())
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}
