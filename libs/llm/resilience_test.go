package llm

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// flaky fails with the scripted errors in order, then answers.
type flaky struct {
	mu    sync.Mutex
	errs  []error
	calls int
}

func (f *flaky) Name() platformv1alpha1.Provider { return platformv1alpha1.ProviderXAI }

func (f *flaky) Complete(context.Context, Request) (Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return Response{}, err
	}
	return Response{Text: "{}", Model: "grok-test", InputTokens: 1000, OutputTokens: 500}, nil
}

// fakeClock advances only when the policy sleeps, so waits are recorded
// rather than spent.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func policy(c *fakeClock) Policy {
	return Policy{MaxAttempts: 3, BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, BreakerThreshold: 2, BreakerCooldown: time.Minute, Sleep: c.Sleep, Now: c.Now}
}

func TestResilientRetries(t *testing.T) {
	rateLimited := &CallError{Kind: KindRateLimited, Status: 429, RetryAfter: 7 * time.Second}
	server := &CallError{Kind: KindServer, Status: 500}
	auth := &CallError{Kind: KindAuth, Status: 401}
	tests := []struct {
		name      string
		errs      []error
		wantErr   ErrorKind
		wantCalls int
		check     func(t *testing.T, waits []time.Duration)
	}{
		{name: "429 waits its retry-after", errs: []error{rateLimited}, wantCalls: 2, check: func(t *testing.T, w []time.Duration) {
			if len(w) != 1 || w[0] != 7*time.Second {
				t.Errorf("waits = %v, want [7s]", w)
			}
		}},
		{name: "5xx backs off exponentially", errs: []error{server, server}, wantCalls: 3, check: func(t *testing.T, w []time.Duration) {
			if len(w) != 2 || w[0] < 50*time.Millisecond || w[0] > 100*time.Millisecond || w[1] < 100*time.Millisecond || w[1] > 200*time.Millisecond {
				t.Errorf("waits = %v, want about 100ms then 200ms", w)
			}
		}},
		{name: "gives up after MaxAttempts", errs: []error{server, server, server, server}, wantErr: KindServer, wantCalls: 3},
		{name: "auth is not retried", errs: []error{auth}, wantErr: KindAuth, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1e9, 0)}
			f := &flaky{errs: tt.errs}
			_, err := NewResilient(f, policy(clock)).Complete(context.Background(), Request{})
			if KindOf(err) != tt.wantErr || f.calls != tt.wantCalls {
				t.Fatalf("err %v (kind %q), %d calls; want %q, %d", err, KindOf(err), f.calls, tt.wantErr, tt.wantCalls)
			}
			if tt.check != nil {
				tt.check(t, clock.waits)
			}
		})
	}
}

func TestResilientRetryAfterBeyondDeadline(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	f := &flaky{errs: []error{&CallError{Kind: KindRateLimited, RetryAfter: time.Hour}}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := NewResilient(f, policy(clock)).Complete(ctx, Request{})
	if KindOf(err) != KindRateLimited || f.calls != 1 || len(clock.waits) != 0 {
		t.Fatalf("err %v, %d calls, waits %v: a retry-after past the deadline must fail now", err, f.calls, clock.waits)
	}
}

// TestBreakerOpensAndCloses: two failed completions open it; it refuses
// calls without reaching the provider; after the cooldown one probe goes
// through, and its success closes it.
func TestBreakerOpensAndCloses(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	down := &CallError{Kind: KindServer, Status: 503}
	f := &flaky{errs: []error{down, down, down, down, down, down}}
	r := NewResilient(f, policy(clock))
	for range 2 {
		if _, err := r.Complete(context.Background(), Request{}); KindOf(err) != KindServer {
			t.Fatalf("err = %v", err)
		}
	}
	if !r.Open() {
		t.Fatal("the breaker is closed after two failed completions")
	}
	calls := f.calls
	if _, err := r.Complete(context.Background(), Request{}); !errors.Is(err, ErrCircuitOpen) || !errors.Is(err, ErrUnavailable) || f.calls != calls {
		t.Fatalf("open breaker: err %v, provider called %d times more", err, f.calls-calls)
	}
	if got := testutil.ToFloat64(breakerOpen.WithLabelValues(string(platformv1alpha1.ProviderXAI))); got != 1 {
		t.Errorf("chatcli_llm_circuit_open = %v", got)
	}
	clock.Advance(time.Minute)
	if _, err := r.Complete(context.Background(), Request{}); err != nil {
		t.Fatalf("probe after the cooldown: %v", err)
	}
	if r.Open() || testutil.ToFloat64(breakerOpen.WithLabelValues(string(platformv1alpha1.ProviderXAI))) != 0 {
		t.Fatal("a successful probe did not close the breaker")
	}
}

func TestMetricsCountTokensAndCost(t *testing.T) {
	Prices["grok-test"] = Price{InputPerMTok: 3, OutputPerMTok: 15}
	t.Cleanup(func() { delete(Prices, "grok-test") })
	in := testutil.ToFloat64(providerTokens.WithLabelValues("XAI", "grok-test", "input"))
	cost := testutil.ToFloat64(providerCost.WithLabelValues("XAI", "grok-test"))
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	if _, err := NewResilient(&flaky{}, policy(clock)).Complete(context.Background(), Request{}); err != nil {
		t.Fatal(err)
	}
	if d := testutil.ToFloat64(providerTokens.WithLabelValues("XAI", "grok-test", "input")) - in; d != 1000 {
		t.Errorf("input tokens +%v, want 1000", d)
	}
	// 1000 × $3/M + 500 × $15/M = $0.0105
	if d := testutil.ToFloat64(providerCost.WithLabelValues("XAI", "grok-test")) - cost; d < 0.01049 || d > 0.01051 {
		t.Errorf("cost +%v, want 0.0105", d)
	}
}
