package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"

	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/signals"
)

// testToken and nextToken pass grpcx.ValidateToken: 32 bytes or more.
const (
	testToken = "s3cret-token-for-tests-32-bytes-or-more"
	nextToken = "next-token-for-tests-32-bytes-or-more"
)

// memorySink stores signals by dedup key, the way the real pipeline does,
// so tests can assert what was stored rather than what was called.
type memorySink struct {
	mu     sync.Mutex
	stored map[string]signals.Signal
	order  []signals.Signal
	err    error
}

func (s *memorySink) Ingest(_ context.Context, batch []signals.Signal) ([]signals.IngestResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if s.stored == nil {
		s.stored = map[string]signals.Signal{}
	}
	results := make([]signals.IngestResult, len(batch))
	for i, sig := range batch {
		name := sig.AnomalyName(0)
		if _, dup := s.stored[sig.DedupKey()]; dup {
			results[i] = signals.IngestResult{Status: signals.IngestDuplicate, AnomalyName: name}
			continue
		}
		s.stored[sig.DedupKey()] = sig
		s.order = append(s.order, sig)
		results[i] = signals.IngestResult{Status: signals.IngestCreated, AnomalyName: name}
	}
	return results, nil
}

func (s *memorySink) signals() []signals.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]signals.Signal(nil), s.order...)
}

// logBuffer captures every log line, debug included.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.buf.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 1})
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newTestHandler(t *testing.T, sink *memorySink, logs *logBuffer, mutate func(*HandlerConfig)) *Handler {
	t.Helper()
	cfg := HandlerConfig{
		Token:        testToken,
		MaxBodyBytes: 64 << 10,
		Mapper:       defaultMapper(t),
		Sink:         sink,
		Logger:       logs.logger(),
		Now:          func() time.Time { return time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC) },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func post(h http.Handler, body io.Reader, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/alertmanager", body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerIngestsTestdataOnce(t *testing.T) {
	sink, logs := &memorySink{}, &logBuffer{}
	h := newTestHandler(t, sink, logs, nil)

	first := post(h, bytes.NewReader(readTestdata(t)), nil)
	second := post(h, bytes.NewReader(readTestdata(t)), nil)

	for name, tc := range map[string]struct {
		rec  *httptest.ResponseRecorder
		want Summary
	}{
		"first":  {first, Summary{Firing: 2, Resolved: 1, Created: 2}},
		"second": {second, Summary{Firing: 2, Resolved: 1, Duplicate: 2}},
	} {
		if tc.rec.Code != http.StatusOK {
			t.Fatalf("%s POST: status %d, body %s", name, tc.rec.Code, tc.rec.Body)
		}
		var got Summary
		if err := json.Unmarshal(tc.rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s POST summary (-want +got):\n%s", name, diff)
		}
	}
	// The resolved alert is recorded in the summary, never stored.
	if diff := cmp.Diff(wantCheckoutSignals(), sink.signals()); diff != "" {
		t.Errorf("stored signals (-want +got):\n%s", diff)
	}
	if strings.Contains(logs.String(), testToken) {
		t.Errorf("the token was logged:\n%s", logs)
	}
}

func TestHandlerOnlyResolvedStoresNothing(t *testing.T) {
	sink := &memorySink{err: errors.New("must not be called")}
	h := newTestHandler(t, sink, &logBuffer{}, nil)
	resolved := with(alert(map[string]string{"alertname": "HighErrorRate", "namespace": "a", "deployment": "web"}), "status", "resolved")
	rec := post(h, bytes.NewReader(body(t, map[string]any{"status": "resolved"}, resolved)), nil)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"firing":0,"resolved":1,"skipped":0,"created":0,"duplicate":0,"rejected":0}` {
		t.Errorf("POST: status %d, body %s", rec.Code, rec.Body)
	}
}

func TestHandlerClampsFutureStart(t *testing.T) {
	sink := &memorySink{}
	h := newTestHandler(t, sink, &logBuffer{}, nil)
	a := with(alert(map[string]string{"alertname": "HighErrorRate", "namespace": "a", "deployment": "web"}), "startsAt", "2025-03-14T11:00:00Z")
	if rec := post(h, bytes.NewReader(body(t, nil, a)), nil); rec.Code != http.StatusOK {
		t.Fatalf("POST: status %d, body %s", rec.Code, rec.Body)
	}
	got := sink.signals()
	if len(got) != 1 || !got[0].DetectedAt.Equal(time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("a startsAt 90 minutes ahead should become the time of receipt; got %+v", got)
	}
}

func TestHandlerRefusals(t *testing.T) {
	big := body(t, map[string]any{"commonAnnotations": map[string]string{"pad": strings.Repeat("x", 2048)}})
	cases := map[string]struct {
		reason    string
		method    string
		body      io.Reader
		header    map[string]string
		sinkErr   error
		token     func() grpcx.Tokens
		want      int
		wantError string
		wantAuth  string
	}{
		"Get": {
			method: http.MethodGet, want: http.StatusMethodNotAllowed,
			wantError: "method GET is not allowed; use POST",
		},
		"NoToken": {
			header: map[string]string{"Authorization": ""}, want: http.StatusUnauthorized,
			wantError: "missing bearer token", wantAuth: `Bearer realm="watcher-bridge"`,
		},
		"WrongToken": {
			header: map[string]string{"Authorization": "Bearer " + testToken + "x"}, want: http.StatusUnauthorized,
			wantError: "invalid bearer token", wantAuth: `Bearer realm="watcher-bridge", error="invalid_token"`,
		},
		"OldTokenAfterRotation": {
			reason: "Once the next token became the only one, the old one is refused.",
			token:  func() grpcx.Tokens { return grpcx.Tokens{Current: nextToken} }, want: http.StatusUnauthorized,
			wantError: "invalid bearer token", wantAuth: `Bearer realm="watcher-bridge", error="invalid_token"`,
		},
		"BearerWithoutToken": {
			header: map[string]string{"Authorization": "Bearer"}, want: http.StatusUnauthorized,
			wantError: "authorization must use the Bearer scheme", wantAuth: `Bearer realm="watcher-bridge", error="invalid_token"`,
		},
		"BasicAuth": {
			header: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, want: http.StatusUnauthorized,
			wantError: "authorization must use the Bearer scheme", wantAuth: `Bearer realm="watcher-bridge", error="invalid_token"`,
		},
		"NoServerToken": {
			reason: "A server without a token refuses everything, retryably.",
			token:  func() grpcx.Tokens { return grpcx.Tokens{} }, want: http.StatusServiceUnavailable,
			wantError: "webhook token is not configured",
		},
		"TextPlain": {
			header: map[string]string{"Content-Type": "text/plain; charset=utf-8"}, want: http.StatusUnsupportedMediaType,
			wantError: `content type "text/plain" is not supported; want application/json`,
		},
		"NoContentType": {
			header: map[string]string{"Content-Type": ""}, want: http.StatusUnsupportedMediaType,
			wantError: "missing content type; want application/json",
		},
		"TooLarge": {
			reason: "A declared length over the limit is refused before reading.",
			body:   bytes.NewReader(big), want: http.StatusRequestEntityTooLarge,
			wantError: "payload larger than 2048 bytes",
		},
		"TooLargeChunked": {
			reason: "Without a length, the body is cut at the limit.",
			body:   io.MultiReader(bytes.NewReader(big)), want: http.StatusRequestEntityTooLarge,
			wantError: "payload larger than 2048 bytes",
		},
		"Malformed": {
			body: strings.NewReader(`{"version": "4", "alerts": [}`), want: http.StatusBadRequest,
			wantError: "malformed JSON at byte 29: invalid character '}' looking for beginning of value",
		},
		"WrongVersion": {
			body: bytes.NewReader(body(t, map[string]any{"version": "3"})), want: http.StatusBadRequest,
			wantError: `version: got "3", want "4"`,
		},
		"SinkDown": {
			reason:  "When the store is down Alertmanager must retry, so 503.",
			body:    bytes.NewReader(body(t, nil, alert(map[string]string{"alertname": "HighErrorRate", "namespace": "a", "deployment": "web"}))),
			sinkErr: errors.New("dial tcp 10.0.0.1:6379: connection refused"), want: http.StatusServiceUnavailable,
			wantError: "signals could not be stored; retry later",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sink, logs := &memorySink{err: tc.sinkErr}, &logBuffer{}
			h := newTestHandler(t, sink, logs, func(c *HandlerConfig) {
				c.MaxBodyBytes = 2048
				c.TokenFunc = tc.token
			})
			if tc.body == nil {
				tc.body = strings.NewReader(`{"version":"4","status":"firing","alerts":[]}`)
			}
			if tc.method == "" {
				tc.method = http.MethodPost
			}
			req := httptest.NewRequest(tc.method, "/alertmanager", tc.body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+testToken)
			for k, v := range tc.header {
				if req.Header.Del(k); v != "" {
					req.Header.Set(k, v)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			var got struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("%s\nbody %q is not JSON: %v", tc.reason, rec.Body, err)
			}
			if diff := cmp.Diff(
				[]any{tc.want, tc.wantError, tc.wantAuth},
				[]any{rec.Code, got.Error, rec.Header().Get("WWW-Authenticate")},
			); diff != "" {
				t.Errorf("%s\n(status, error, WWW-Authenticate) (-want +got):\n%s", tc.reason, diff)
			}
			if tc.want == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != http.MethodPost {
				t.Errorf("405 without Allow: POST; headers %v", rec.Header())
			}
			if stored := sink.signals(); len(stored) != 0 {
				t.Errorf("%s\na refused request stored %+v", tc.reason, stored)
			}
			if strings.Contains(logs.String(), testToken) {
				t.Errorf("the token was logged:\n%s", logs)
			}
		})
	}
}

func TestNewHandlerChecksConfig(t *testing.T) {
	m := defaultMapper(t)
	cases := map[string]struct {
		cfg  HandlerConfig
		want string
	}{
		"NoToken":    {HandlerConfig{Mapper: m, Sink: &memorySink{}}, "alertmanager handler: a token or a token func is required"},
		"NoMapper":   {HandlerConfig{Token: testToken, Sink: &memorySink{}}, "alertmanager handler: a mapper is required"},
		"NoSink":     {HandlerConfig{Token: testToken, Mapper: m}, "alertmanager handler: a sink is required"},
		"Negative":   {HandlerConfig{Token: testToken, Mapper: m, Sink: &memorySink{}, MaxBodyBytes: -1}, "alertmanager handler: max body bytes -1 is negative"},
		"ShortToken": {HandlerConfig{Token: "s3cret", Mapper: m, Sink: &memorySink{}}, "alertmanager handler: token is 6 bytes, shorter than the minimum of 32: generate one with `openssl rand -hex 32`"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewHandler(tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Errorf("NewHandler: got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestHandlerAcceptsTheNextTokenDuringRotation: while the token file holds
// a next token, Alertmanagers configured with either token get in, so the
// Secret can be rotated without refusing a single webhook.
func TestHandlerAcceptsTheNextTokenDuringRotation(t *testing.T) {
	h := newTestHandler(t, &memorySink{}, &logBuffer{}, func(c *HandlerConfig) {
		c.TokenFunc = func() grpcx.Tokens { return grpcx.Tokens{Current: testToken, Next: nextToken} }
	})
	for _, token := range []string{testToken, nextToken} {
		rec := post(h, strings.NewReader(`{"version":"4","status":"firing","alerts":[]}`), map[string]string{"Authorization": "Bearer " + token})
		if rec.Code != http.StatusOK {
			t.Errorf("token %.8s...: status %d, body %s", token, rec.Code, rec.Body)
		}
	}
}

// TestHandlerRateLimits checks that a client past its burst gets 429 with
// Retry-After before its token or body is looked at, that another client is
// still served, and that refusals stay out of the Info log.
func TestHandlerRateLimits(t *testing.T) {
	sink := &memorySink{}
	logs := &logBuffer{}
	h := newTestHandler(t, sink, logs, func(c *HandlerConfig) { c.RateLimitRPS, c.RateLimitBurst = 0.001, 2 })
	send := func(remote, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/alertmanager", strings.NewReader("{}"))
		req.RemoteAddr = remote
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for range 2 {
		if code := send("192.0.2.1:4000", "wrong-token").Code; code != http.StatusUnauthorized {
			t.Fatalf("within the burst: %d, want 401", code)
		}
	}
	rec := send("192.0.2.1:4001", testToken)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("past the burst: %d (Retry-After %q), want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if code := send("192.0.2.2:4000", "wrong-token").Code; code != http.StatusUnauthorized {
		t.Errorf("another client: %d, want 401: limits are per client", code)
	}
	if strings.Contains(logs.String(), `"level"=0 "msg"="Refused Alertmanager webhook"`) {
		t.Errorf("refusals logged at Info:\n%s", logs.String())
	}
}
