package providers

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

func anthropicAnswer(content string) string {
	return `{"id":"msg_01","type":"message","role":"assistant","model":"claude-test-1","content":` + content +
		`,"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":1200,"output_tokens":80}}`
}

func anthropicToolUse(input string) string {
	return anthropicAnswer(`[{"type":"tool_use","id":"toolu_01","name":"submit_answer","input":` + input + `}]`)
}

func anthropicKeys(k string) string {
	return map[string]string{"ANTHROPIC_API_KEY": "sk-ant-test-key"}[k]
}

// TestAnthropicRequestAndAnswer: the Messages request carries the key as
// the SDK sends it (Authorization: Bearer), the model, max_tokens, the system prompt in "system", the
// fenced data in the user turn, and a forced tool with the answer schema;
// the tool call's input is the answer.
func TestAnthropicRequestAndAnswer(t *testing.T) {
	srv := newWire(t, func(_ int, _ recorded, w http.ResponseWriter) {
		writeJSON(w, 200, anthropicToolUse(validAnalysis))
	})
	s := srv.settings()
	temp := 0.2
	s.Temperature = &temp
	p, err := New(platformv1alpha1.ProviderClaudeAI, anthropicKeys, s)
	if err != nil {
		t.Fatal(err)
	}
	req := testRequest(t)
	req.Model = "claude-sonnet-4-5"
	resp, err := p.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := llm.ParseAnalysis(resp.Text); err != nil {
		t.Fatalf("answer does not parse: %v (%q)", err, resp.Text)
	}
	if resp.Model != "claude-test-1" || resp.InputTokens != 1200 || resp.OutputTokens != 80 {
		t.Errorf("response = %+v", resp)
	}
	got := srv.all()[0]
	if got.Method != "POST" || got.Path != "/v1/messages" {
		t.Errorf("request %s %s", got.Method, got.Path)
	}
	// SDK v2 sends the API key as a bearer credential.
	if got.Header.Get("Authorization") != "Bearer sk-ant-test-key" || got.Header.Get("Anthropic-Version") == "" {
		t.Errorf("auth headers: x-api-key=%q anthropic-version=%q authorization=%q", got.Header.Get("X-Api-Key"), got.Header.Get("Anthropic-Version"), got.Header.Get("Authorization"))
	}
	b := got.Body
	if b["model"] != "claude-sonnet-4-5" || b["max_tokens"] != float64(777) || b["temperature"] != 0.2 {
		t.Errorf("model/max_tokens/temperature = %v/%v/%v", b["model"], b["max_tokens"], b["temperature"])
	}
	system := b["system"].([]any)[0].(map[string]any)["text"].(string)
	msgs := b["messages"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["role"] != "user" {
		t.Fatalf("messages = %v", msgs)
	}
	user := msgs[0].(map[string]any)["content"].([]any)[0].(map[string]any)["text"].(string)
	checkScrubbedAndFenced(t, got.Raw, system, user)
	tool := b["tools"].([]any)[0].(map[string]any)
	props := tool["input_schema"].(map[string]any)["properties"].(map[string]any)
	if tool["name"] != answerTool || props["suggestedActions"] == nil || props["confidence"] == nil {
		t.Errorf("tool = %v", tool)
	}
	if tc := b["tool_choice"].(map[string]any); tc["type"] != "tool" || tc["name"] != answerTool {
		t.Errorf("tool_choice = %v", tc)
	}
}

// TestAnthropicErrors: each failure comes back as the CallError the chain
// acts on, with the provider's retry-after.
func TestAnthropicErrors(t *testing.T) {
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter)
		// hang answers nothing until the client gives up.
		hang    bool
		kind    llm.ErrorKind
		retry   time.Duration
		text    string
		timeout time.Duration
	}{
		{name: "429 with retry-after", respond: func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7")
			writeJSON(w, 429, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)
		}, kind: llm.KindRateLimited, retry: 7 * time.Second},
		{name: "500", respond: func(w http.ResponseWriter) {
			writeJSON(w, 500, `{"type":"error","error":{"type":"api_error","message":"boom"}}`)
		}, kind: llm.KindServer},
		{name: "529 overloaded", respond: func(w http.ResponseWriter) {
			writeJSON(w, 529, `{"type":"error","error":{"type":"overloaded_error","message":"busy"}}`)
		}, kind: llm.KindServer},
		{name: "401", respond: func(w http.ResponseWriter) {
			writeJSON(w, 401, `{"type":"error","error":{"type":"authentication_error","message":"bad key"}}`)
		}, kind: llm.KindAuth},
		{name: "timeout", hang: true, kind: llm.KindTimeout, timeout: 50 * time.Millisecond},
		{name: "text instead of a tool call", respond: func(w http.ResponseWriter) {
			writeJSON(w, 200, anthropicAnswer(`[{"type":"text","text":"Sure! The pod is OOMKilled."}]`))
		}, text: "Sure! The pod is OOMKilled."},
		{name: "stream cut mid-way", respond: func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "4000")
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"id":"msg_01","type":"message","content":[{"type":"tool`))
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
			p, err := New(platformv1alpha1.ProviderClaudeAI, anthropicKeys, srv.settings())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			resp, err := p.Complete(ctx, testRequest(t))
			if tt.kind == "" {
				if err != nil || resp.Text != tt.text {
					t.Fatalf("Complete = %q, %v; want %q", resp.Text, err, tt.text)
				}
				if _, perr := llm.ParseAnalysis(resp.Text); perr == nil {
					t.Fatal("a text answer parsed as an analysis")
				}
				return
			}
			var ce *llm.CallError
			if !errors.As(err, &ce) || ce.Kind != tt.kind || !errors.Is(err, llm.ErrUnavailable) {
				t.Fatalf("err = %v, want kind %s", err, tt.kind)
			}
			if ce.RetryAfter != tt.retry {
				t.Errorf("retry-after = %v, want %v", ce.RetryAfter, tt.retry)
			}
			if n := len(srv.all()); n != 1 {
				t.Errorf("the SDK made %d calls; its own retries must be off", n)
			}
		})
	}
}

func TestAnthropicNotConfigured(t *testing.T) {
	_, err := New(platformv1alpha1.ProviderClaudeAI, func(string) string { return "" }, Settings{})
	if !errors.Is(err, llm.ErrNotConfigured) {
		t.Fatalf("err = %v", err)
	}
}
