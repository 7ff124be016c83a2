package llm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Policy is how a provider's calls are retried and when its breaker opens.
// Zero fields take the defaults below.
type Policy struct {
	// MaxAttempts is the calls made for one completion, retries included.
	MaxAttempts int
	// BaseBackoff doubles per retry up to MaxBackoff, with jitter; a
	// provider's retry-after wins when it is longer.
	BaseBackoff, MaxBackoff time.Duration
	// BreakerThreshold consecutive failed completions open the breaker for
	// BreakerCooldown; then one probe is let through, and its outcome
	// closes or reopens it.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// Sleep waits or fails when ctx ends; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock of the breaker.
	Now func() time.Time
	// MetricsLabel is the provider label of the wrapped provider's
	// metrics; its name when empty. A stand-in for a provider (a ChatCLI
	// server) sets its own, so its breaker and errors are not counted as
	// the provider's.
	MetricsLabel string
}

func (p Policy) withDefaults() Policy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	if p.BaseBackoff <= 0 {
		p.BaseBackoff = 500 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 20 * time.Second
	}
	if p.BreakerThreshold <= 0 {
		p.BreakerThreshold = 5
	}
	if p.BreakerCooldown <= 0 {
		p.BreakerCooldown = 30 * time.Second
	}
	if p.Sleep == nil {
		p.Sleep = sleepCtx
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return p
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Resilient wraps a provider with retries, a circuit breaker and the
// metrics of every call. The analyzer registers every network provider
// wrapped; BUILTIN needs none of it.
type Resilient struct {
	next   Provider
	policy Policy

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	probing   bool
}

// NewResilient wraps p.
func NewResilient(p Provider, policy Policy) *Resilient {
	return &Resilient{next: p, policy: policy.withDefaults()}
}

// Name is the wrapped provider's.
func (r *Resilient) Name() platformv1alpha1.Provider { return r.next.Name() }

func (r *Resilient) label() platformv1alpha1.Provider {
	if r.policy.MetricsLabel != "" {
		return platformv1alpha1.Provider(r.policy.MetricsLabel)
	}
	return r.next.Name()
}

// Complete calls the provider, retrying what may succeed later.
func (r *Resilient) Complete(ctx context.Context, req Request) (Response, error) {
	if err := r.admit(); err != nil {
		providerErrors.WithLabelValues(string(r.label()), modelLabel(req.Model), string(KindOf(err))).Inc()
		return Response{}, err
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		start := r.policy.Now()
		resp, err := r.next.Complete(ctx, req)
		observeCall(r.label(), req.Model, resp, err, r.policy.Now().Sub(start))
		if err == nil {
			r.record(true)
			return resp, nil
		}
		lastErr = err
		var ce *CallError
		if !errors.As(err, &ce) || !ce.Retryable() || attempt >= r.policy.MaxAttempts {
			break
		}
		wait := max(ce.RetryAfter, r.backoff(attempt))
		if dl, ok := ctx.Deadline(); ok && r.policy.Now().Add(wait).After(dl) {
			break // the wait would outlast the call's deadline
		}
		if r.policy.Sleep(ctx, wait) != nil {
			break
		}
	}
	if errors.Is(lastErr, context.Canceled) {
		r.release() // the caller left: this says nothing about the provider
	} else {
		r.record(!countsAgainst(lastErr))
	}
	return Response{}, lastErr
}

// release ends a probe without a verdict.
func (r *Resilient) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probing = false
}

// countsAgainst says whether a failure says something about the provider
// (down, throttling, refusing our key), rather than about one request.
func countsAgainst(err error) bool {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Retryable() || ce.Kind == KindAuth
	}
	return true
}

func (r *Resilient) backoff(attempt int) time.Duration {
	d := r.policy.BaseBackoff << (attempt - 1)
	if d <= 0 || d > r.policy.MaxBackoff {
		d = r.policy.MaxBackoff
	}
	// Full jitter over the upper half keeps replicas from retrying in step.
	return d/2 + rand.N(d/2+1)
}

// admit lets a call through unless the breaker is open; after the
// cooldown it lets exactly one probe through.
func (r *Resilient) admit() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.openUntil.IsZero() {
		return nil
	}
	if r.policy.Now().Before(r.openUntil) || r.probing {
		return fmt.Errorf("%s: %w", r.Name(), ErrCircuitOpen)
	}
	r.probing = true
	return nil
}

func (r *Resilient) record(ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	wasProbe := r.probing
	r.probing = false
	if ok {
		r.failures, r.openUntil = 0, time.Time{}
		breakerOpen.WithLabelValues(string(r.label())).Set(0)
		return
	}
	r.failures++
	if wasProbe || r.failures >= r.policy.BreakerThreshold {
		r.openUntil = r.policy.Now().Add(r.policy.BreakerCooldown)
		breakerOpen.WithLabelValues(string(r.label())).Set(1)
	}
}

// Open says whether the breaker refuses calls now.
func (r *Resilient) Open() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.openUntil.IsZero() && r.policy.Now().Before(r.openUntil)
}
