package analysis_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/testenv"
	"github.com/chatcli/aiops/services/analyzer/internal/analysis"
)

// costly answers every call with 600 tokens spent.
type costly struct{ calls atomic.Int32 }

func (c *costly) Name() platformv1alpha1.Provider { return platformv1alpha1.ProviderOpenAI }

func (c *costly) Complete(context.Context, llm.Request) (llm.Response, error) {
	c.calls.Add(1)
	return llm.Response{Text: goodAnalysis, Model: "gpt-local", InputTokens: 500, OutputTokens: 100}, nil
}

// TestTokenBudget (real Redis): the per-incident budget lets calls through
// until it is spent, then BUILTIN answers and the analysis and model say
// why; another incident has its own budget until the daily one is spent;
// without fallback a spent budget is BudgetExhausted.
func TestTokenBudget(t *testing.T) {
	r, err := testenv.StartRedis(ctxT(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	rc, err := redisx.New(r.URL, redisx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	p := &costly{}
	svc := service(p)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	svc.Budget = &analysis.TokenBudget{Redis: rc, PerIncident: 1000, PerDay: 2000, Now: func() time.Time { return now }}
	ask := func(issue string) (string, string) {
		t.Helper()
		req := analyzeRequest(platformv1alpha1.ProviderOpenAI)
		req.IssueName = issue
		resp, err := svc.AnalyzeIssue(ctxT(t), req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetProvider(), resp.GetModel() + " | " + resp.GetAnalysis()
	}
	steps := []struct {
		issue, provider string
		note            bool
	}{
		{"web-oom", "OPENAI", false}, // 600 of 1000
		{"web-oom", "OPENAI", false}, // 1000 of 1000 (saturated)
		{"web-oom", "BUILTIN", true}, // spent
		{"db-oom", "OPENAI", false},  // its own budget; the day is at 1600 of 2000
		{"db-oom", "OPENAI", false},  // the day reaches 2000
		{"api-oom", "BUILTIN", true}, // the day is spent for everyone
	}
	for i, s := range steps {
		provider, detail := ask(s.issue)
		if provider != s.provider || strings.Contains(detail, "token budget is spent") != s.note || strings.Contains(detail, analysis.BudgetFallbackModel) != s.note {
			t.Fatalf("step %d (%s): %s %q", i+1, s.issue, provider, detail)
		}
	}
	if n := p.calls.Load(); n != 4 {
		t.Errorf("the provider was called %d times, want 4", n)
	}
	svc.Fallback = false
	if _, err := svc.AnalyzeIssue(ctxT(t), analyzeRequest(platformv1alpha1.ProviderOpenAI)); err == nil || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("without fallback: %v, want BudgetExhausted", err)
	}
	// A new day has a new daily budget.
	now = now.Add(24 * time.Hour)
	svc.Fallback = true
	if provider, _ := ask("api-oom"); provider != "OPENAI" {
		t.Fatalf("next day: %s", provider)
	}
}
