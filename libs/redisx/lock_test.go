package redisx_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onsi/gomega"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/redisx"
)

func TestLockMutualExclusionAndFencing(t *testing.T) {
	const (
		workers = 50
		rounds  = 5
	)
	ctx := testContext(t)
	c := newClient(t, redisx.Config{PoolSize: workers + 10})
	res := uniqueResource(t)

	var (
		holders    atomic.Int32
		violations atomic.Int32
		mu         sync.Mutex
		fences     []int64 // appended while holding the lock: acquisition order
		wg         sync.WaitGroup
	)
	opts := redisx.LockOptions{TTL: 10 * time.Second, RetryInterval: 10 * time.Millisecond}
	for range workers {
		wg.Go(func() {
			for range rounds {
				l, err := c.AcquireWait(ctx, "test", res, opts)
				if err != nil {
					t.Errorf("AcquireWait: %v", err)
					return
				}
				if holders.Add(1) != 1 {
					violations.Add(1)
				}
				mu.Lock()
				fences = append(fences, l.Fence())
				mu.Unlock()
				holders.Add(-1)
				if err := l.Release(ctx); err != nil {
					t.Errorf("Release: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	if n := violations.Load(); n != 0 {
		t.Errorf("%d acquisitions overlapped another holder", n)
	}
	if len(fences) != workers*rounds {
		t.Fatalf("got %d acquisitions, want %d", len(fences), workers*rounds)
	}
	for i := 1; i < len(fences); i++ {
		if fences[i] <= fences[i-1] {
			t.Fatalf("fence %d at acquisition %d is not greater than %d before it", fences[i], i, fences[i-1])
		}
	}
	stored, err := c.Redis().Get(ctx, redisx.FenceKey("test", res)).Int64()
	if err != nil {
		t.Fatalf("read fence counter: %v", err)
	}
	if last := fences[len(fences)-1]; stored != last {
		t.Errorf("fence counter is %d, want the last fence %d", stored, last)
	}
	if n, _ := c.Redis().Exists(ctx, redisx.LockKey("test", res)).Result(); n != 0 {
		t.Errorf("lock key still exists after every release")
	}
}

func TestLockOfCrashedHolderExpires(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	res := uniqueResource(t)

	// A holder that never renews behaves like one that crashed.
	crashed, err := c.Acquire(ctx, "remediate", res, redisx.LockOptions{TTL: 300 * time.Millisecond, NoRenew: true})
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if _, err := c.Acquire(ctx, "remediate", res, redisx.LockOptions{}); !errors.Is(err, redisx.ErrLockHeld) {
		t.Fatalf("Acquire while held: got %v, want ErrLockHeld", err)
	}

	var next *redisx.Lock
	g.Eventually(func() error {
		next, err = c.Acquire(ctx, "remediate", res, redisx.LockOptions{})
		return err
	}).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond).Should(gomega.Succeed())
	t.Cleanup(func() { _ = next.Release(context.Background()) })

	if next.Fence() <= crashed.Fence() {
		t.Errorf("next fence %d is not greater than the crashed holder's %d", next.Fence(), crashed.Fence())
	}
	if err := crashed.Release(ctx); !errors.Is(err, redisx.ErrNotHeld) {
		t.Errorf("stale Release: got %v, want ErrNotHeld", err)
	}
	if got, err := c.Redis().Get(ctx, next.Key()).Result(); err != nil || got != next.Token() {
		t.Errorf("after stale Release the lock holds %q (%v), want the new token %q", got, err, next.Token())
	}
}

func TestReleaseOnlyDeletesOwnToken(t *testing.T) {
	tests := map[string]struct {
		reason  string
		tamper  func(ctx context.Context, c *redisx.Client, key string) error
		wantErr error
		want    string // the lock key's value after Release; "" = gone
	}{
		"OwnToken": {
			reason: "The holder's release deletes its lock.",
			tamper: func(context.Context, *redisx.Client, string) error { return nil },
		},
		"OtherToken": {
			reason: "A release whose token no longer matches must not delete the new owner's lock.",
			tamper: func(ctx context.Context, c *redisx.Client, key string) error {
				return c.Redis().Set(ctx, key, "someone-else", time.Minute).Err()
			},
			wantErr: redisx.ErrNotHeld,
			want:    "someone-else",
		},
		"Expired": {
			reason: "A release after expiry has nothing to delete.",
			tamper: func(ctx context.Context, c *redisx.Client, key string) error {
				return c.Redis().Del(ctx, key).Err()
			},
			wantErr: redisx.ErrNotHeld,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			c := newClient(t, redisx.Config{})
			l, err := c.Acquire(ctx, "test", uniqueResource(t), redisx.LockOptions{NoRenew: true, TTL: time.Minute})
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			if err := tc.tamper(ctx, c, l.Key()); err != nil {
				t.Fatalf("tamper: %v", err)
			}
			if err := l.Release(ctx); !errors.Is(err, tc.wantErr) {
				t.Errorf("%s\nRelease: got %v, want %v", tc.reason, err, tc.wantErr)
			}
			got, err := c.Redis().Get(ctx, l.Key()).Result()
			if err != nil && !errors.Is(err, redisNil) {
				t.Fatalf("GET lock: %v", err)
			}
			if got != tc.want {
				t.Errorf("%s\nlock value after Release: got %q, want %q", tc.reason, got, tc.want)
			}
		})
	}
}

func TestRenewalKeepsLockBeyondTTL(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	res := uniqueResource(t)
	// Long enough that one slow renewal on a loaded CI machine is not a loss.
	const ttl = 2 * time.Second

	l, err := c.Acquire(ctx, "test", res, redisx.LockOptions{TTL: ttl})
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	// Hold it for several TTLs: it must stay ours the whole time.
	g.Consistently(func() error {
		if err := l.Err(); err != nil {
			return err
		}
		if got, err := c.Redis().Get(ctx, l.Key()).Result(); err != nil || got != l.Token() {
			return errors.New("lock no longer holds our token")
		}
		if _, err := c.Acquire(ctx, "test", res, redisx.LockOptions{}); !errors.Is(err, redisx.ErrLockHeld) {
			return errors.New("another owner could acquire the lock")
		}
		return nil
	}).WithTimeout(4 * ttl).WithPolling(50 * time.Millisecond).Should(gomega.Succeed())

	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if n, _ := c.Redis().Exists(ctx, l.Key()).Result(); n != 0 {
		t.Errorf("lock key exists after Release")
	}
}

func TestLockLossIsReported(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})

	l, err := c.Acquire(ctx, "test", uniqueResource(t), redisx.LockOptions{TTL: 600 * time.Millisecond})
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	work, cancel := l.Context(ctx)
	defer cancel()

	// Someone else takes the key over; the next renewal must notice.
	if err := c.Redis().Set(ctx, l.Key(), "intruder", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	g.Eventually(l.Lost()).WithTimeout(10 * time.Second).Should(gomega.BeClosed())
	g.Eventually(work.Done()).WithTimeout(10 * time.Second).Should(gomega.BeClosed())
	if !errors.Is(l.Err(), redisx.ErrLockLost) {
		t.Errorf("Err: got %v, want ErrLockLost", l.Err())
	}
	if !errors.Is(context.Cause(work), redisx.ErrLockLost) {
		t.Errorf("context cause: got %v, want ErrLockLost", context.Cause(work))
	}
	if err := l.Release(ctx); !errors.Is(err, redisx.ErrNotHeld) {
		t.Errorf("Release after loss: got %v, want ErrNotHeld", err)
	}
}

func TestAcquireWaitGivesUpWithContext(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	res := uniqueResource(t)
	l, err := c.Acquire(ctx, "test", res, redisx.LockOptions{})
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	defer l.Release(ctx)

	waitCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = c.AcquireWait(waitCtx, "test", res, redisx.LockOptions{RetryInterval: 20 * time.Millisecond})
	if !errors.Is(err, redisx.ErrLockHeld) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("AcquireWait: got %v, want ErrLockHeld and DeadlineExceeded", err)
	}
	if errors.Is(err, redisx.ErrUnavailable) {
		t.Errorf("AcquireWait: %v must not report Redis unavailable", err)
	}
}

func TestLockRejectsBadInput(t *testing.T) {
	tests := map[string]struct {
		reason  string
		purpose string
		res     platformv1alpha1.ResourceReference
		opts    redisx.LockOptions
	}{
		"EmptyPurpose":      {reason: "The purpose is part of the key.", res: platformv1alpha1.ResourceReference{Kind: "Pod", Namespace: "a", Name: "b"}},
		"ColonInPurpose":    {reason: "A ':' would make keys ambiguous.", purpose: "a:b", res: platformv1alpha1.ResourceReference{Kind: "Pod", Namespace: "a", Name: "b"}},
		"NoName":            {reason: "A resource needs a name.", purpose: "p", res: platformv1alpha1.ResourceReference{Kind: "Pod", Namespace: "a"}},
		"SlashInName":       {reason: "A '/' would make keys ambiguous.", purpose: "p", res: platformv1alpha1.ResourceReference{Kind: "Pod", Namespace: "a", Name: "b/c"}},
		"SubMillisecondTTL": {reason: "PX needs at least 1ms.", purpose: "p", res: platformv1alpha1.ResourceReference{Kind: "Pod", Namespace: "a", Name: "b"}, opts: redisx.LockOptions{TTL: time.Microsecond}},
	}
	c := newClient(t, redisx.Config{})
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := c.Acquire(testContext(t), tc.purpose, tc.res, tc.opts); err == nil {
				t.Errorf("%s\nAcquire accepted purpose %q resource %v", tc.reason, tc.purpose, tc.res)
			}
		})
	}
}

// TestFencesRiseAfterRedisLosesItsData: the fencing counter is gone after
// a restart without persistence, or behind after a failover to a replica
// that missed the last increments; either way the next holder's fence
// must be greater than any handed out before, or a stale holder would win.
func TestFencesRiseAfterRedisLosesItsData(t *testing.T) {
	tests := map[string]struct {
		lose func(ctx context.Context, c *redisx.Client, key string) error
	}{
		"CounterGone": {lose: func(ctx context.Context, c *redisx.Client, key string) error { return c.Redis().Del(ctx, key).Err() }},
		"CounterBehind": {lose: func(ctx context.Context, c *redisx.Client, key string) error {
			return c.Redis().Set(ctx, key, 5, 0).Err()
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			c := newClient(t, redisx.Config{})
			res := uniqueResource(t)
			var before int64
			for range 3 {
				l, err := c.Acquire(ctx, "test", res, redisx.LockOptions{})
				if err != nil {
					t.Fatal(err)
				}
				before = l.Fence()
				if err := l.Release(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.lose(ctx, c, redisx.FenceKey("test", res)); err != nil {
				t.Fatal(err)
			}
			// Three acquisitions take well under 10 ms: the clock has
			// moved past the fences they got.
			time.Sleep(10 * time.Millisecond)
			after, err := c.Acquire(ctx, "test", res, redisx.LockOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer after.Release(ctx)
			if after.Fence() <= before {
				t.Errorf("fence after the loss %d is not greater than %d before it", after.Fence(), before)
			}
		})
	}
}
