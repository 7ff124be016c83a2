package providers

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

// BenchmarkRoundTrip is each provider's overhead against a local TLS
// server that answers at once: build the request, call, read and parse
// the answer. It reports the p99 of one round trip as p99-ns/op.
func BenchmarkRoundTrip(b *testing.B) {
	cases := []struct {
		name   platformv1alpha1.Provider
		keys   map[string]string
		answer string
	}{
		{platformv1alpha1.ProviderClaudeAI, map[string]string{"ANTHROPIC_API_KEY": "k"}, anthropicToolUse(validAnalysis)},
		{platformv1alpha1.ProviderOpenAI, map[string]string{"OPENAI_API_KEY": "k"}, chatCompletion(validAnalysis)},
		{platformv1alpha1.ProviderCopilot, map[string]string{"GITHUB_COPILOT_TOKEN": "tid=session"}, chatCompletion(validAnalysis)},
		{platformv1alpha1.ProviderGoogleAI, map[string]string{"GOOGLEAI_API_KEY": "k"}, geminiAnswer(validAnalysis)},
		{platformv1alpha1.ProviderBedrock, map[string]string{"BEDROCK_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"}, converseToolUse(validAnalysis)},
	}
	for _, c := range cases {
		b.Run(string(c.name), func(b *testing.B) {
			srv := newWire(b, func(_ int, _ recorded, w http.ResponseWriter) { writeJSON(w, 200, c.answer) })
			p, err := New(c.name, func(k string) string { return c.keys[k] }, srv.settings())
			if err != nil {
				b.Fatal(err)
			}
			req := testRequest(b)
			ctx := context.Background()
			durations := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				resp, err := p.Complete(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := llm.ParseAnalysis(resp.Text); err != nil {
					b.Fatal(err)
				}
				durations = append(durations, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(durations)
			if n := len(durations); n > 0 {
				b.ReportMetric(float64(durations[(n*99)/100].Nanoseconds()), "p99-ns/op")
			}
		})
	}
}
