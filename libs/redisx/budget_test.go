package redisx_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatcli/aiops/libs/redisx"
)

func TestSpendBudget(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	b := redisx.Budget{Scope: "remediation:" + unique(t), Limit: 3, Window: time.Hour}
	w1 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	w2 := w1.Add(time.Hour)

	type want struct {
		Allowed         bool
		Used, Remaining int64
	}
	steps := []struct {
		reason string
		n      int64
		now    time.Time
		want   want
	}{
		{"The first spend is allowed.", 1, w1.Add(5 * time.Minute), want{true, 1, 2}},
		{"A spend up to the limit is allowed.", 2, w1.Add(10 * time.Minute), want{true, 3, 0}},
		{"A spend past the limit is refused.", 1, w1.Add(20 * time.Minute), want{false, 3, 0}},
		{"The last second of the window is the same window.", 1, w2.Add(-time.Second), want{false, 3, 0}},
		{"A new window starts from zero.", 1, w2, want{true, 1, 2}},
		{"A spend bigger than what is left is refused whole.", 3, w2.Add(time.Minute), want{false, 1, 2}},
		{"What is left can still be spent.", 2, w2.Add(2 * time.Minute), want{true, 3, 0}},
	}
	for i, s := range steps {
		got, err := c.SpendBudget(ctx, b, s.n, s.now)
		if err != nil {
			t.Fatalf("step %d: SpendBudget: %v", i, err)
		}
		if diff := cmp.Diff(s.want, want{got.Allowed, got.Used, got.Remaining}); diff != "" {
			t.Errorf("step %d: %s\nSpendBudget(%d, %s) -want +got:\n%s", i, s.reason, s.n, s.now.Format(time.TimeOnly), diff)
		}
	}

	usage, err := c.BudgetUsage(ctx, b, w1.Add(30*time.Minute))
	if err != nil {
		t.Fatalf("BudgetUsage: %v", err)
	}
	if usage.Used != 3 || usage.Allowed || !usage.WindowStart.Equal(w1) || !usage.WindowEnd.Equal(w2) {
		t.Errorf("BudgetUsage of the first window: got %+v", usage)
	}
	ttl, err := c.Redis().PTTL(ctx, redisx.BudgetKey(b.Scope, w1)).Result()
	if err != nil {
		t.Fatalf("PTTL: %v", err)
	}
	if ttl <= 0 || ttl > b.Window {
		t.Errorf("budget key TTL is %s, want within (0, %s]", ttl, b.Window)
	}
	if empty, err := c.BudgetUsage(ctx, b, w2.Add(time.Hour)); err != nil || empty.Used != 0 || !empty.Allowed {
		t.Errorf("BudgetUsage of an unused window: got %+v, %v", empty, err)
	}
}

func TestSpendBudgetIsAtomic(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	b := redisx.Budget{Scope: unique(t), Limit: 5, Window: time.Hour}
	now := time.Now()

	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			r, err := c.SpendBudget(ctx, b, 1, now)
			if err != nil {
				t.Errorf("SpendBudget: %v", err)
				return
			}
			if r.Allowed {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != int32(b.Limit) {
		t.Errorf("%d spends allowed, want exactly the limit %d", n, b.Limit)
	}
}

func TestSpendBudgetRejectsBadInput(t *testing.T) {
	tests := map[string]struct {
		reason string
		b      redisx.Budget
		n      int64
	}{
		"EmptyScope":     {reason: "The scope is part of the key.", b: redisx.Budget{Limit: 1, Window: time.Hour}, n: 1},
		"NegativeLimit":  {reason: "A negative limit is a bug.", b: redisx.Budget{Scope: "s", Limit: -1, Window: time.Hour}, n: 1},
		"TinyWindow":     {reason: "Windows are at least a second.", b: redisx.Budget{Scope: "s", Limit: 1, Window: time.Millisecond}, n: 1},
		"NothingToSpend": {reason: "A spend of zero is meaningless; use BudgetUsage.", b: redisx.Budget{Scope: "s", Limit: 1, Window: time.Hour}},
	}
	c := newClient(t, redisx.Config{})
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := c.SpendBudget(testContext(t), tc.b, tc.n, time.Now()); err == nil {
				t.Errorf("%s\nSpendBudget accepted %+v n=%d", tc.reason, tc.b, tc.n)
			}
		})
	}
}

func TestSpendBudgetOnceCountsARetryOnce(t *testing.T) {
	ctx := testContext(t)
	c := newClient(t, redisx.Config{})
	b := redisx.Budget{Scope: "anomalies:" + unique(t), Limit: 2, Window: time.Hour}
	w1 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		reason      string
		id          string
		now         time.Time
		wantAllowed bool
		wantUsed    int64
	}{
		{"The first spend counts.", "a", w1, true, 1},
		{"A retry of it is allowed and counts nothing.", "a", w1.Add(time.Minute), true, 1},
		{"Another spend counts.", "b", w1.Add(2 * time.Minute), true, 2},
		{"A third id passes the limit.", "c", w1.Add(3 * time.Minute), false, 2},
		{"A retry of a paid spend is still allowed at the limit.", "b", w1.Add(4 * time.Minute), true, 2},
		{"A new window forgets the ids.", "a", w1.Add(time.Hour), true, 1},
	}
	for i, s := range steps {
		got, err := c.SpendBudgetOnce(ctx, b, s.id, s.now)
		if err != nil {
			t.Fatalf("step %d: SpendBudgetOnce: %v", i, err)
		}
		if got.Allowed != s.wantAllowed || got.Used != s.wantUsed {
			t.Errorf("step %d: %s got allowed=%v used=%d, want %v %d", i, s.reason, got.Allowed, got.Used, s.wantAllowed, s.wantUsed)
		}
	}
	if _, err := c.SpendBudgetOnce(ctx, b, "with space", w1); err == nil {
		t.Error("an id with whitespace was accepted")
	}
}
