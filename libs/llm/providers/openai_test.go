package providers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

func chatCompletion(content string) string {
	return `{"id":"chatcmpl-1","object":"chat.completion","created":1764640000,"model":"served-model","choices":[{"index":0,"message":{"role":"assistant","content":` +
		mustJSON(content) + `,"refusal":null},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":900,"completion_tokens":60,"total_tokens":960}}`
}

// TestOpenAICompatibleRequests: each service gets a Chat Completions call
// at its base URL with its own credential, the system prompt as the
// system message, the fenced data as the user message, the model, the
// token bound and (where supported) the answer's JSON schema.
func TestOpenAICompatibleRequests(t *testing.T) {
	tests := []struct {
		provider   platformv1alpha1.Provider
		keys       map[string]string
		auth       string
		maxField   string
		jsonSchema bool
	}{
		{provider: platformv1alpha1.ProviderOpenAI, keys: map[string]string{"OPENAI_API_KEY": "sk-openai"}, auth: "Bearer sk-openai", maxField: "max_completion_tokens", jsonSchema: true},
		{provider: platformv1alpha1.ProviderOpenRouter, keys: map[string]string{"OPENROUTER_API_KEY": "sk-or"}, auth: "Bearer sk-or", maxField: "max_tokens", jsonSchema: true},
		{provider: platformv1alpha1.ProviderGitHubModels, keys: map[string]string{"GITHUB_MODELS_TOKEN": "ghp_models"}, auth: "Bearer ghp_models", maxField: "max_tokens", jsonSchema: true},
		{provider: platformv1alpha1.ProviderXAI, keys: map[string]string{"XAI_API_KEY": "xai-key"}, auth: "Bearer xai-key", maxField: "max_tokens", jsonSchema: true},
		{provider: platformv1alpha1.ProviderOllama, keys: map[string]string{}, maxField: "max_tokens", jsonSchema: true},
		{provider: platformv1alpha1.ProviderCopilot, keys: map[string]string{"GITHUB_COPILOT_TOKEN": "ghu_device", "COPILOT_MODEL": "gpt-4o"}, auth: "Bearer tid=session-1", maxField: "max_tokens"},
	}
	for _, tt := range tests {
		t.Run(string(tt.provider), func(t *testing.T) {
			srv := newWire(t, func(_ int, r recorded, w http.ResponseWriter) {
				if r.Path == "/copilot_internal/v2/token" {
					writeJSON(w, 200, `{"token":"tid=session-1","expires_at":`+mustJSON(time.Now().Add(time.Hour).Unix())+`}`)
					return
				}
				writeJSON(w, 200, chatCompletion(validAnalysis))
			})
			s := srv.settings()
			s.BaseURL = srv.URL + "/v1"
			keys := map[string]string{copilotTokenURLVar: srv.URL + "/copilot_internal/v2/token"}
			for k, v := range tt.keys {
				keys[k] = v
			}
			p, err := New(tt.provider, func(k string) string { return keys[k] }, s)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.Complete(context.Background(), testRequest(t))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := llm.ParseAnalysis(resp.Text); err != nil || resp.Model != "served-model" || resp.InputTokens != 900 || resp.OutputTokens != 60 {
				t.Fatalf("response %+v, parse: %v", resp, err)
			}
			reqs := srv.all()
			got := reqs[len(reqs)-1]
			if tt.provider == platformv1alpha1.ProviderCopilot {
				if len(reqs) != 2 || reqs[0].Header.Get("Authorization") != "token ghu_device" {
					t.Fatalf("the GitHub token was not exchanged first: %d requests", len(reqs))
				}
				for _, h := range []string{"Editor-Version", "Editor-Plugin-Version", "Copilot-Integration-Id"} {
					if got.Header.Get(h) == "" {
						t.Errorf("header %s missing", h)
					}
				}
				if got.Body["model"] != "gpt-4o" {
					t.Errorf("COPILOT_MODEL not used: %v", got.Body["model"])
				}
			}
			if got.Method != "POST" || got.Path != "/v1/chat/completions" {
				t.Errorf("request %s %s", got.Method, got.Path)
			}
			if a := strings.TrimSpace(got.Header.Get("Authorization")); a != tt.auth && (tt.auth != "" || a != "Bearer") {
				t.Errorf("Authorization = %q, want %q", a, tt.auth)
			}
			if got.Header.Get("OpenAI-Organization") != "" && tt.provider != platformv1alpha1.ProviderOpenAI {
				t.Errorf("OpenAI's organization header sent to %s", tt.provider)
			}
			if got.Body[tt.maxField] != float64(777) {
				t.Errorf("%s = %v", tt.maxField, got.Body[tt.maxField])
			}
			msgs := got.Body["messages"].([]any)
			if len(msgs) != 2 || msgs[0].(map[string]any)["role"] != "system" || msgs[1].(map[string]any)["role"] != "user" {
				t.Fatalf("messages = %v", msgs)
			}
			checkScrubbedAndFenced(t, got.Raw, msgs[0].(map[string]any)["content"].(string), msgs[1].(map[string]any)["content"].(string))
			rf, _ := got.Body["response_format"].(map[string]any)
			if tt.jsonSchema {
				schema, _ := rf["json_schema"].(map[string]any)
				if rf["type"] != "json_schema" || schema["name"] != "incident_analysis" || schema["schema"] == nil {
					t.Errorf("response_format = %v", rf)
				}
			} else if rf != nil {
				t.Errorf("response_format sent to a service without it: %v", rf)
			}
		})
	}
}

func TestOpenAIErrors(t *testing.T) {
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter)
		// hang answers nothing until the client gives up.
		hang    bool
		kind    llm.ErrorKind
		retry   time.Duration
		timeout time.Duration
	}{
		{name: "429 with retry-after-ms", respond: func(w http.ResponseWriter) {
			w.Header().Set("Retry-After-Ms", "1500")
			writeJSON(w, 429, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
		}, kind: llm.KindRateLimited, retry: 1500 * time.Millisecond},
		{name: "429 with retry-after date", respond: func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
			writeJSON(w, 429, `{"error":{"message":"Rate limit reached","type":"requests"}}`)
		}, kind: llm.KindRateLimited, retry: -1},
		{name: "503", respond: func(w http.ResponseWriter) {
			writeJSON(w, 503, `{"error":{"message":"overloaded","type":"server_error"}}`)
		}, kind: llm.KindServer},
		{name: "400", respond: func(w http.ResponseWriter) {
			writeJSON(w, 400, `{"error":{"message":"bad schema","type":"invalid_request_error"}}`)
		}, kind: llm.KindBadRequest},
		{name: "timeout", hang: true, kind: llm.KindTimeout, timeout: 50 * time.Millisecond},
		{name: "no choices", respond: func(w http.ResponseWriter) {
			writeJSON(w, 200, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[]}`)
		}, kind: llm.KindEmpty},
		{name: "body cut mid-way", respond: func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "5000")
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"id":"chatcmpl-1","choices":[{"mess`))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, kind: llm.KindNetwork},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newWire(t, func(_ int, r recorded, w http.ResponseWriter) {
				if tt.hang {
					<-r.gone
					return
				}
				tt.respond(w)
			})
			p, err := New(platformv1alpha1.ProviderOpenAI, func(k string) string { return map[string]string{"OPENAI_API_KEY": "sk"}[k] }, srv.settings())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err = p.Complete(ctx, testRequest(t))
			var ce *llm.CallError
			if !errors.As(err, &ce) || ce.Kind != tt.kind {
				t.Fatalf("err = %v, want kind %s", err, tt.kind)
			}
			switch {
			case tt.retry < 0 && ce.RetryAfter != maxRetryAfter:
				t.Errorf("retry-after from a date = %v, want capped at %v", ce.RetryAfter, maxRetryAfter)
			case tt.retry >= 0 && ce.RetryAfter != tt.retry:
				t.Errorf("retry-after = %v, want %v", ce.RetryAfter, tt.retry)
			}
			if n := len(srv.all()); n != 1 {
				t.Errorf("%d calls; the SDK's retries must be off", n)
			}
		})
	}
}

func TestKeylessOllamaNeedsBaseURL(t *testing.T) {
	none := func(string) string { return "" }
	if _, err := New(platformv1alpha1.ProviderOllama, none, Settings{}); !errors.Is(err, llm.ErrNotConfigured) {
		t.Fatalf("Ollama without a base URL: %v", err)
	}
	for _, p := range []platformv1alpha1.Provider{platformv1alpha1.ProviderOpenAI, platformv1alpha1.ProviderCopilot, platformv1alpha1.ProviderXAI} {
		if _, err := New(p, none, Settings{}); !errors.Is(err, llm.ErrNotConfigured) {
			t.Errorf("%s without a key: %v", p, err)
		}
	}
}
