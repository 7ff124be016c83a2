package providers

import (
	"context"
	"errors"
	"net/http"
	"testing"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

func geminiAnswer(text string) string {
	return `{"candidates":[{"content":{"parts":[{"text":` + mustJSON(text) + `}],"role":"model"},"finishReason":"STOP","index":0}],` +
		`"usageMetadata":{"promptTokenCount":1100,"candidatesTokenCount":70,"totalTokenCount":1170},"modelVersion":"gemini-2.5-flash-001"}`
}

// TestGeminiGenerateContent: the key in x-goog-api-key and never in the
// URL, the system prompt in systemInstruction, the fenced data in the user
// content, the token bound and the JSON schema in generationConfig.
func TestGeminiGenerateContent(t *testing.T) {
	var query string
	srv := newWire(t, func(_ int, _ recorded, w http.ResponseWriter) { writeJSON(w, 200, geminiAnswer(validAnalysis)) })
	srv.Config.Handler = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { query = r.URL.RawQuery; next.ServeHTTP(w, r) })
	}(srv.Config.Handler)
	keys := map[string]string{"GOOGLEAI_API_KEY": "AIza-local-key"}
	p, err := New(platformv1alpha1.ProviderGoogleAI, func(k string) string { return keys[k] }, srv.settings())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Complete(context.Background(), testRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := llm.ParseAnalysis(resp.Text); err != nil || resp.InputTokens != 1100 || resp.OutputTokens != 70 || resp.Model != "gemini-2.5-flash-001" {
		t.Fatalf("response %+v, parse: %v", resp, err)
	}
	got := srv.all()[0]
	if got.Path != "/v1beta/models/"+geminiDefaultModel+":generateContent" || query != "" {
		t.Errorf("request %s ?%s", got.Path, query)
	}
	if got.Header.Get("X-Goog-Api-Key") != "AIza-local-key" {
		t.Errorf("x-goog-api-key = %q", got.Header.Get("X-Goog-Api-Key"))
	}
	b := got.Body
	system := b["systemInstruction"].(map[string]any)["parts"].([]any)[0].(map[string]any)["text"].(string)
	user := b["contents"].([]any)[0].(map[string]any)["parts"].([]any)[0].(map[string]any)["text"].(string)
	checkScrubbedAndFenced(t, got.Raw, system, user)
	gc := b["generationConfig"].(map[string]any)
	if gc["maxOutputTokens"] != float64(777) || gc["responseMimeType"] != "application/json" || gc["responseJsonSchema"] == nil {
		t.Errorf("generationConfig = %v", gc)
	}
}

func TestGeminiErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		header string
		kind   llm.ErrorKind
		detail string
	}{
		{name: "429", status: 429, header: "12", body: `{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}`, kind: llm.KindRateLimited, detail: "RESOURCE_EXHAUSTED"},
		{name: "500", status: 500, body: `{"error":{"code":500,"message":"internal","status":"INTERNAL"}}`, kind: llm.KindServer, detail: "INTERNAL"},
		{name: "blocked", status: 200, body: `{"promptFeedback":{"blockReason":"SAFETY"}}`, kind: llm.KindEmpty, detail: "prompt blocked: SAFETY"},
		{name: "not a response", status: 200, body: `<html>proxy error</html>`, kind: llm.KindServer, detail: "the answer is not a generateContent response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newWire(t, func(_ int, _ recorded, w http.ResponseWriter) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				writeJSON(w, tt.status, tt.body)
			})
			p, err := New(platformv1alpha1.ProviderGoogleAI, func(k string) string { return map[string]string{"GEMINI_API_KEY": "k"}[k] }, srv.settings())
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Complete(context.Background(), testRequest(t))
			var ce *llm.CallError
			if !errors.As(err, &ce) || ce.Kind != tt.kind || ce.Detail != tt.detail {
				t.Fatalf("err = %#v, want %s %q", err, tt.kind, tt.detail)
			}
			if tt.header == "12" && ce.RetryAfter.Seconds() != 12 {
				t.Errorf("retry-after = %v", ce.RetryAfter)
			}
		})
	}
}

// FuzzParseGeminiResponse: any body gives an answer or a CallError, never
// a panic, and an answer's token counts are not negative.
func FuzzParseGeminiResponse(f *testing.F) {
	f.Add([]byte(geminiAnswer(validAnalysis)))
	f.Add([]byte(`{"candidates":[{"content":{"parts":[]}}]}`))
	f.Add([]byte(`{"candidates":null,"usageMetadata":{"promptTokenCount":-5}}`))
	f.Add([]byte(`{"promptFeedback":{"blockReason":"OTHER"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := parseGeminiResponse(body)
		var ce *llm.CallError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error of another type: %v", err)
		}
		if resp.InputTokens < 0 || resp.OutputTokens < 0 || len(resp.Model) > 256 {
			t.Fatalf("response out of bounds: %+v", resp)
		}
		if err == nil && resp.Text == "" {
			t.Fatal("an empty answer without an error")
		}
	})
}

// FuzzRetryAfter: any header value gives a wait within [0, maxRetryAfter].
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"7", "1.5", "-3", "1e300", "NaN", "Wed, 21 Oct 2099 07:28:00 GMT", "soon"} {
		f.Add(s, "")
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, after, afterMs string) {
		h := http.Header{}
		h.Set("Retry-After", after)
		h.Set("Retry-After-Ms", afterMs)
		if d := retryAfter(h, nowForFuzz); d < 0 || d > maxRetryAfter {
			t.Fatalf("retryAfter(%q, %q) = %v", after, afterMs, d)
		}
	})
}
