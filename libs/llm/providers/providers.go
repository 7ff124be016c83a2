// Package providers holds the LLM providers behind llm.Provider: Anthropic
// (CLAUDEAI), OpenAI and the OpenAI-compatible services (OLLAMA,
// OPENROUTER, GITHUB_MODELS, XAI, COPILOT), Google Gemini (GOOGLEAI) and
// AWS Bedrock (BEDROCK). Each one is built from the variables of a Secret
// (the seed's names, see Keys) and per-Instance or per-flag Settings, puts
// the platform's system prompt and the fenced untrusted data in separate
// places of the request, asks for structured output where the provider
// supports it, and returns failures as *llm.CallError so that the chain in
// libs/llm can retry, fall back and count them. The SDKs' own retries are
// off: the chain retries once for all providers, the same way.
package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

// Keys looks up a variable of the provider's Secret (or of the analyzer's
// environment), "" when unset. Values are credentials: never log them.
type Keys func(name string) string

// MapKeys looks variables up in a Secret's data.
func MapKeys(data map[string][]byte) Keys {
	return func(name string) string { return strings.TrimSpace(string(data[name])) }
}

// Settings are what an Instance or a flag chooses for a provider. Zero
// values take the provider's defaults.
type Settings struct {
	Model       string
	BaseURL     string
	MaxTokens   int
	Temperature *float64
	// HTTPClient is the client the provider calls through; tests pass one
	// that trusts their local server. Its responses are bounded anyway.
	HTTPClient *http.Client
}

// DefaultMaxTokens bounds an answer when neither the Instance nor a flag
// does: an analysis is a few hundred tokens, the bound only stops runaways.
const DefaultMaxTokens = 4096

// maxResponseBytes bounds a provider's HTTP response body: an answer is at
// most llm.MaxAnswerBytes, and the envelope adds little.
const maxResponseBytes = 1 << 20

// New builds the provider of name from its keys and settings. A provider
// whose keys are missing returns an error wrapping llm.ErrNotConfigured.
func New(name platformv1alpha1.Provider, keys Keys, s Settings) (llm.Provider, error) {
	switch name {
	case platformv1alpha1.ProviderClaudeAI:
		return newAnthropic(keys, s)
	case platformv1alpha1.ProviderOpenAI, platformv1alpha1.ProviderOllama, platformv1alpha1.ProviderOpenRouter,
		platformv1alpha1.ProviderGitHubModels, platformv1alpha1.ProviderXAI, platformv1alpha1.ProviderCopilot:
		return newOpenAICompatible(name, keys, s)
	case platformv1alpha1.ProviderGoogleAI:
		return newGemini(keys, s)
	case platformv1alpha1.ProviderBedrock:
		return newBedrock(keys, s)
	}
	return nil, fmt.Errorf("%s: no such provider: %w", name, llm.ErrNotConfigured)
}

// Configured builds every provider whose keys are present, for a registry.
// Providers without keys are skipped; a provider whose keys are present but
// wrong (an unreadable CA bundle) is an error.
func Configured(keys Keys, s Settings, names ...platformv1alpha1.Provider) ([]llm.Provider, error) {
	var out []llm.Provider
	var errs []error
	for _, n := range names {
		p, err := New(n, keys, s)
		switch {
		case errors.Is(err, llm.ErrNotConfigured):
			continue
		case err != nil:
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

func notConfigured(name platformv1alpha1.Provider, missing string) error {
	return fmt.Errorf("%s: %s is not set: %w", name, missing, llm.ErrNotConfigured)
}

// maxTokens is the request's bound (its Instance's), else the settings'
// (the flag's), else DefaultMaxTokens.
func (s Settings) maxTokens(req llm.Request) int {
	switch {
	case req.MaxTokens > 0:
		return req.MaxTokens
	case s.MaxTokens > 0:
		return s.MaxTokens
	}
	return DefaultMaxTokens
}

// temperature is the request's (its Instance's), else the settings' (the
// flag's); nil keeps the provider's default.
func (s Settings) temperature(req llm.Request) *float64 {
	if req.Temperature != nil {
		return req.Temperature
	}
	return s.Temperature
}

// model picks the request's model, else the Instance's, else the Secret's,
// else the provider's default.
func model(req llm.Request, s Settings, fromKeys, fallback string) string {
	for _, m := range []string{req.Model, s.Model, fromKeys} {
		if m != "" {
			return m
		}
	}
	return fallback
}

func firstKey(keys Keys, names ...string) string {
	for _, n := range names {
		if v := keys(n); v != "" {
			return v
		}
	}
	return ""
}

// httpClient is the settings' client with bounded response bodies.
func (s Settings) httpClient() *http.Client {
	base := s.HTTPClient
	if base == nil {
		base = &http.Client{}
	}
	c := *base
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = boundedTransport{rt}
	return &c
}

// boundedTransport cuts response bodies at maxResponseBytes, so that a
// hostile or broken endpoint cannot make the analyzer buffer gigabytes.
type boundedTransport struct{ next http.RoundTripper }

func (t boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	resp.Body = &boundedBody{r: io.LimitReader(resp.Body, maxResponseBytes+1), c: resp.Body}
	return resp, nil
}

type boundedBody struct {
	r io.Reader
	c io.Closer
	n int64
}

var errResponseTooLarge = fmt.Errorf("response body exceeds %d bytes", maxResponseBytes)

func (b *boundedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > maxResponseBytes {
		return n, errResponseTooLarge
	}
	return n, err
}

func (b *boundedBody) Close() error { return b.c.Close() }

// statusError is the CallError of an HTTP error response.
func statusError(status int, h http.Header, detail string) *llm.CallError {
	return &llm.CallError{Kind: llm.StatusKind(status), Status: status, RetryAfter: retryAfter(h, time.Now()), Detail: shorten(detail, 120)}
}

// transportError is the CallError of a call that got no HTTP answer.
func transportError(ctx context.Context, err error) *llm.CallError {
	var nerr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &llm.CallError{Kind: llm.KindTimeout, Detail: "deadline exceeded"}
	case errors.As(err, &nerr) && nerr.Timeout():
		return &llm.CallError{Kind: llm.KindTimeout, Detail: "network timeout"}
	case errors.Is(err, errResponseTooLarge):
		return &llm.CallError{Kind: llm.KindServer, Detail: errResponseTooLarge.Error()}
	}
	return &llm.CallError{Kind: llm.KindNetwork, Detail: shorten(scrubURL(err.Error()), 160)}
}

// retryAfter reads retry-after-ms, then retry-after (seconds or an HTTP
// date). Absurd values are capped: the chain's deadline bounds them anyway.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil {
			return waitOf(ms, time.Millisecond)
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return waitOf(s, time.Second)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return capRetry(t.Sub(now))
	}
	return 0
}

const maxRetryAfter = 5 * time.Minute

func capRetry(d time.Duration) time.Duration { return min(d, maxRetryAfter) }

// waitOf converts n units to a wait, in floats first so that a huge or NaN
// header cannot overflow the Duration.
func waitOf(n float64, unit time.Duration) time.Duration {
	if !(n > 0) { // also NaN
		return 0
	}
	if n*float64(unit) >= float64(maxRetryAfter) {
		return maxRetryAfter
	}
	return time.Duration(n * float64(unit))
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// scrubURL drops query strings from an error message: Gemini's key could
// travel there in other clients, and no URL detail helps an operator more
// than the host.
func scrubURL(msg string) string {
	if i := strings.Index(msg, "?"); i >= 0 {
		if j := strings.IndexAny(msg[i:], "\" "); j >= 0 {
			return msg[:i] + msg[i+j:]
		}
		return msg[:i]
	}
	return msg
}

// userPrompt is the user turn: the fenced untrusted data, never the system
// prompt, which every provider sends in its own field.
func userPrompt(req llm.Request) string {
	return "The data of this request follows. Answer in the JSON format of your instructions.\n" + llm.Fence(req.Untrusted)
}
