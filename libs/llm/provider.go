// Package llm is the interface between the analyzer and the LLM providers:
// what a provider is asked (a trusted system prompt and scrubbed untrusted
// data, never mixed), how the untrusted part is fenced, and the strict
// parsers of the answers. BUILTIN, the offline analyzer, is a Provider like
// any other, so every answer goes through the same parser and validation.
package llm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/scrub"
)

// Task says what a request asks for; the answer's schema depends on it.
type Task string

const (
	// TaskAnalyze asks for an Analysis.
	TaskAnalyze Task = "analyze"
	// TaskAgenticStep asks for an AgenticDecision.
	TaskAgenticStep Task = "agentic_step"
	// TaskSummarize asks for a Summary.
	TaskSummarize Task = "summarize"
)

// Request is one completion. System is the platform's own text (a
// constant of this package, plus the repair note); Untrusted is the
// scrubbed, attacker-influenced data (logs, events, descriptions), which a
// provider puts into the prompt only through Fence.
type Request struct {
	Task      Task
	System    string
	Untrusted scrub.Text
	Model     string
	// MaxAnswerBytes bounds the answer; 0 means MaxAnswerBytes.
	MaxAnswerBytes int
	// MaxTokens and Temperature are the incident's Instance's choice
	// (spec.maxTokens, spec.temperature); zero and nil leave the
	// provider's settings (the analyzer's flags) in force.
	MaxTokens   int
	Temperature *float64
}

// Tuning is what an Instance chooses for the calls to its provider
// (spec.maxTokens, spec.temperature, spec.providerTimeout). Zero values
// leave the analyzer's flags in force.
type Tuning struct {
	MaxTokens   int
	Temperature *float64
	Timeout     time.Duration
}

// Response is a provider's raw answer, to be parsed by the task's parser.
type Response struct {
	Text  string
	Model string
	// InputTokens and OutputTokens are what the call cost, when the
	// provider says.
	InputTokens, OutputTokens int
}

// Provider completes requests.
type Provider interface {
	Name() platformv1alpha1.Provider
	Complete(ctx context.Context, req Request) (Response, error)
}

// Errors a provider returns, wrapped, so that the analyzer can tell a
// fallback from a failure.
var (
	// ErrNotConfigured: the provider has no credentials.
	ErrNotConfigured = errors.New("provider not configured")
	// ErrUnavailable: the provider failed or timed out.
	ErrUnavailable = errors.New("provider unavailable")
	// ErrBudgetExhausted: the token budget is spent.
	ErrBudgetExhausted = errors.New("token budget exhausted")
)

// Registry holds the configured providers by name.
type Registry struct {
	mu        sync.RWMutex
	providers map[platformv1alpha1.Provider]Provider
}

// NewRegistry returns a registry of the given providers.
func NewRegistry(providers ...Provider) *Registry {
	r := &Registry{providers: map[platformv1alpha1.Provider]Provider{}}
	for _, p := range providers {
		r.Register(p)
	}
	return r
}

// Register adds or replaces a provider.
func (r *Registry) Register(p Provider) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.providers[p.Name()] = p
}

// Get returns the provider of name, or ErrNotConfigured.
func (r *Registry) Get(name platformv1alpha1.Provider) (Provider, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p, ok := r.providers[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%s: %w", name, ErrNotConfigured)
}

// Names lists the registered providers, sorted.
func (r *Registry) Names() []platformv1alpha1.Provider {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []platformv1alpha1.Provider
	for n := range r.providers {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
