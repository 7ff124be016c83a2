package analysis_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

// TestAnalyzeReportsUsageAndCostAndSendsTheTuning: every call behind an
// answer counts (here the answer and its repair, 100+20 tokens each), the
// cost comes from the price table, an unpriced model leaves the cost
// unset, and the namespace's Instance tuning reaches the provider's wire.
func TestAnalyzeReportsUsageAndCostAndSendsTheTuning(t *testing.T) {
	tests := map[string]struct {
		prices   map[string]llm.Price
		wantCost *float64
	}{
		"Priced":   {prices: map[string]llm.Price{"claude-local": {InputPerMTok: 3, OutputPerMTok: 15}}, wantCost: ptr(0.0012)},
		"Unpriced": {prices: map[string]llm.Price{"another-model": {InputPerMTok: 3, OutputPerMTok: 15}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			saved := llm.Prices
			llm.Prices = tt.prices
			t.Cleanup(func() { llm.Prices = saved })
			srv := newLocal(t, func(n int, _ string) (int, string) {
				if n == 1 {
					return 200, claudeText("I believe it needs memory.")
				}
				return 200, claudeTool(`{"analysis":"OOM.","confidence":0.8,"recommendations":[],"suggestedActions":[]}`)
			})
			svc := service(provider(t, platformv1alpha1.ProviderClaudeAI, srv, map[string]string{"ANTHROPIC_API_KEY": "k"}))
			temp := 0.4
			var asked []string
			svc.Tune = func(_ context.Context, ns string, p platformv1alpha1.Provider) llm.Tuning {
				asked = append(asked, ns+"/"+string(p))
				return llm.Tuning{MaxTokens: 1234, Temperature: &temp}
			}
			resp, err := svc.Analyze(ctxT(t), analyzeRequest(platformv1alpha1.ProviderClaudeAI))
			if err != nil {
				t.Fatal(err)
			}
			u := resp.GetUsage()
			if u.GetInputTokens() != 200 || u.GetOutputTokens() != 40 || resp.GetServer() != nil {
				t.Errorf("usage = %v, server = %v; want 200 in, 40 out, no server", u, resp.GetServer())
			}
			switch {
			case tt.wantCost == nil && u.EstimatedCostUsd != nil:
				t.Errorf("cost = %v for an unpriced model", u.GetEstimatedCostUsd())
			case tt.wantCost != nil && (u.EstimatedCostUsd == nil || diff(u.GetEstimatedCostUsd(), *tt.wantCost) > 1e-12):
				t.Errorf("cost = %v, want %v", u.EstimatedCostUsd, *tt.wantCost)
			}
			if len(asked) != 1 || asked[0] != "shop/CLAUDEAI" {
				t.Errorf("tuning asked for %v", asked)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			for i, raw := range srv.bodies {
				var body struct {
					MaxTokens   int      `json:"max_tokens"`
					Temperature *float64 `json:"temperature"`
				}
				if err := json.Unmarshal([]byte(raw), &body); err != nil {
					t.Fatal(err)
				}
				if body.MaxTokens != 1234 || body.Temperature == nil || *body.Temperature != 0.4 {
					t.Errorf("call %d carried max_tokens %d, temperature %v; want the Instance's 1234 and 0.4", i+1, body.MaxTokens, body.Temperature)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func diff(a, b float64) float64 {
	if a > b {
		return a - b
	}
	return b - a
}

// deadlineProbe is a provider that reports the deadline of its call.
type deadlineProbe struct{ left time.Duration }

func (d *deadlineProbe) Name() platformv1alpha1.Provider { return platformv1alpha1.ProviderOpenAI }
func (d *deadlineProbe) Complete(ctx context.Context, _ llm.Request) (llm.Response, error) {
	if dl, ok := ctx.Deadline(); ok {
		d.left = time.Until(dl)
	}
	return llm.Response{Text: `{"analysis":"ok","confidence":0.5}`, Model: "probe"}, nil
}

// TestTheInstancesTimeoutBoundsTheCall: an Instance's providerTimeout
// replaces --provider-timeout for its provider's calls.
func TestTheInstancesTimeoutBoundsTheCall(t *testing.T) {
	tests := map[string]struct {
		tuned   time.Duration
		atMost  time.Duration
		atLeast time.Duration
	}{
		"Instance": {tuned: 2 * time.Second, atLeast: time.Second, atMost: 2 * time.Second},
		"Flag":     {atLeast: 20 * time.Second, atMost: 30 * time.Second},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			probe := &deadlineProbe{}
			svc := service(probe)
			svc.Timeout = 30 * time.Second
			svc.Tune = func(context.Context, string, platformv1alpha1.Provider) llm.Tuning {
				return llm.Tuning{Timeout: tt.tuned}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := svc.Analyze(ctx, analyzeRequest(platformv1alpha1.ProviderOpenAI)); err != nil {
				t.Fatal(err)
			}
			if probe.left < tt.atLeast || probe.left > tt.atMost {
				t.Errorf("the call had %v left, want between %v and %v", probe.left, tt.atLeast, tt.atMost)
			}
		})
	}
}
