package providers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// TestEveryProviderSendsTheInstancesTuning: an Instance's maxTokens and
// temperature travel on the request and win over the flags' (Settings);
// without them the flags' reach the wire. Each provider's local server
// reads them from the body in its own format.
func TestEveryProviderSendsTheInstancesTuning(t *testing.T) {
	flagTemp, instanceTemp := 0.9, 0.35
	tests := map[string]struct {
		provider platformv1alpha1.Provider
		keys     map[string]string
		answer   string
		// read returns the max tokens and the temperature of a request.
		read func(b map[string]any) (any, any)
	}{
		"CLAUDEAI": {
			provider: platformv1alpha1.ProviderClaudeAI, keys: map[string]string{"ANTHROPIC_API_KEY": "sk-ant"},
			answer: anthropicToolUse(validAnalysis),
			read:   func(b map[string]any) (any, any) { return b["max_tokens"], b["temperature"] },
		},
		"OPENAI": {
			provider: platformv1alpha1.ProviderOpenAI, keys: map[string]string{"OPENAI_API_KEY": "sk-openai"},
			answer: chatCompletion(validAnalysis),
			read:   func(b map[string]any) (any, any) { return b["max_completion_tokens"], b["temperature"] },
		},
		"OPENROUTER": {
			provider: platformv1alpha1.ProviderOpenRouter, keys: map[string]string{"OPENROUTER_API_KEY": "sk-or"},
			answer: chatCompletion(validAnalysis),
			read:   func(b map[string]any) (any, any) { return b["max_tokens"], b["temperature"] },
		},
		"GITHUB_MODELS": {
			provider: platformv1alpha1.ProviderGitHubModels, keys: map[string]string{"GITHUB_MODELS_TOKEN": "ghp"},
			answer: chatCompletion(validAnalysis),
			read:   func(b map[string]any) (any, any) { return b["max_tokens"], b["temperature"] },
		},
		"XAI": {
			provider: platformv1alpha1.ProviderXAI, keys: map[string]string{"XAI_API_KEY": "xai"},
			answer: chatCompletion(validAnalysis),
			read:   func(b map[string]any) (any, any) { return b["max_tokens"], b["temperature"] },
		},
		"OLLAMA": {
			provider: platformv1alpha1.ProviderOllama, keys: map[string]string{},
			answer: chatCompletion(validAnalysis),
			read:   func(b map[string]any) (any, any) { return b["max_tokens"], b["temperature"] },
		},
		"COPILOT": {
			provider: platformv1alpha1.ProviderCopilot, keys: map[string]string{"GITHUB_COPILOT_TOKEN": "ghu_device"},
			answer: chatCompletion(validAnalysis),
			read:   func(b map[string]any) (any, any) { return b["max_tokens"], b["temperature"] },
		},
		"GOOGLEAI": {
			provider: platformv1alpha1.ProviderGoogleAI, keys: map[string]string{"GOOGLEAI_API_KEY": "AIza"},
			answer: geminiAnswer(validAnalysis),
			read: func(b map[string]any) (any, any) {
				gc := b["generationConfig"].(map[string]any)
				return gc["maxOutputTokens"], gc["temperature"]
			},
		},
		"BEDROCK": {
			provider: platformv1alpha1.ProviderBedrock,
			keys:     map[string]string{"BEDROCK_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDLOCALTEST", "AWS_SECRET_ACCESS_KEY": "local-secret"},
			answer:   converseToolUse(validAnalysis),
			read: func(b map[string]any) (any, any) {
				ic := b["inferenceConfig"].(map[string]any)
				// Converse carries a float32: compare at its precision.
				if f, ok := ic["temperature"].(float64); ok {
					return ic["maxTokens"], float64(float32(f))
				}
				return ic["maxTokens"], nil
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newWire(t, func(_ int, r recorded, w http.ResponseWriter) {
				if strings.HasSuffix(r.Path, "/copilot_internal/v2/token") {
					writeJSON(w, 200, `{"token":"tid=session-1","expires_at":`+mustJSON(time.Now().Add(time.Hour).Unix())+`}`)
					return
				}
				writeJSON(w, 200, tt.answer)
			})
			keys := map[string]string{copilotTokenURLVar: srv.URL + "/copilot_internal/v2/token"}
			for k, v := range tt.keys {
				keys[k] = v
			}
			s := Settings{BaseURL: srv.URL + "/v1", HTTPClient: srv.Client(), MaxTokens: 777, Temperature: &flagTemp}
			switch tt.provider {
			case platformv1alpha1.ProviderClaudeAI, platformv1alpha1.ProviderGoogleAI:
				s.BaseURL = srv.URL
			case platformv1alpha1.ProviderBedrock:
				s.BaseURL = ""
				keys["BEDROCK_ENDPOINT_URL"] = srv.URL
				keys["CHATCLI_BEDROCK_CA_BUNDLE"] = caBundle(t, srv)
			}
			p, err := New(tt.provider, func(k string) string { return keys[k] }, s)
			if err != nil {
				t.Fatal(err)
			}

			req := testRequest(t)
			req.MaxTokens, req.Temperature = 321, &instanceTemp
			if _, err := p.Complete(context.Background(), req); err != nil {
				t.Fatalf("with the Instance's tuning: %v", err)
			}
			if _, err := p.Complete(context.Background(), testRequest(t)); err != nil {
				t.Fatalf("with the flags' tuning: %v", err)
			}
			var calls []recorded
			for _, r := range srv.all() {
				if !strings.HasSuffix(r.Path, "/copilot_internal/v2/token") {
					calls = append(calls, r)
				}
			}
			if len(calls) != 2 {
				t.Fatalf("%d completion requests, want 2", len(calls))
			}
			if maxTokens, temp := tt.read(calls[0].Body); maxTokens != float64(321) || temp != float64(float32(instanceTemp)) && temp != instanceTemp {
				t.Errorf("the Instance's request carried max tokens %v and temperature %v, want 321 and %v", maxTokens, temp, instanceTemp)
			}
			if maxTokens, temp := tt.read(calls[1].Body); maxTokens != float64(777) || temp != float64(float32(flagTemp)) && temp != flagTemp {
				t.Errorf("the flags' request carried max tokens %v and temperature %v, want 777 and %v", maxTokens, temp, flagTemp)
			}
		})
	}
}
