package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/signals"
)

// Sink is where accepted alerts go; see signals.Sink for its contract.
type Sink = signals.Sink

// DefaultMaxBodyBytes bounds a request body when HandlerConfig leaves it 0.
const DefaultMaxBodyBytes int64 = 1 << 20

// futureSkew is how far ahead of our clock a startsAt may be before it is
// treated as clock skew and replaced by the time of receipt.
const futureSkew = time.Minute

// HandlerConfig configures the webhook endpoint.
type HandlerConfig struct {
	// Token is the bearer token Alertmanager must send; it must pass
	// grpcx.ValidateToken. TokenFunc, when set, is used instead and read on
	// every request, and both its Current and Next tokens are accepted, so
	// that a rotated Secret (see grpcx.WatchTokenFile) takes effect without
	// a restart or a gap. One of them is required.
	Token     string
	TokenFunc func() grpcx.Tokens
	// MaxBodyBytes bounds the request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	Mapper       *Mapper
	Sink         Sink
	Logger       logr.Logger
	// Now is the clock, used to replace a startsAt that lies in the future
	// (clock skew between Prometheus and us); nil means time.Now.
	Now func() time.Time
	// RateLimitRPS and RateLimitBurst bound the requests per client IP;
	// GlobalRateLimitRPS and GlobalRateLimitBurst all requests. Zero means
	// the Default* values.
	RateLimitRPS         float64
	RateLimitBurst       int
	GlobalRateLimitRPS   float64
	GlobalRateLimitBurst int
}

// Handler is the http.Handler for Alertmanager's webhook.
type Handler struct {
	cfg     HandlerConfig
	limiter *limiter
}

var _ http.Handler = (*Handler)(nil)

// NewHandler checks the config and returns the handler.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	switch {
	case cfg.Token == "" && cfg.TokenFunc == nil:
		return nil, errors.New("alertmanager handler: a token or a token func is required")
	case cfg.Mapper == nil:
		return nil, errors.New("alertmanager handler: a mapper is required")
	case cfg.Sink == nil:
		return nil, errors.New("alertmanager handler: a sink is required")
	case cfg.MaxBodyBytes < 0:
		return nil, fmt.Errorf("alertmanager handler: max body bytes %d is negative", cfg.MaxBodyBytes)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TokenFunc == nil {
		if err := grpcx.ValidateToken(cfg.Token); err != nil {
			return nil, fmt.Errorf("alertmanager handler: %w", err)
		}
		tokens := grpcx.Tokens{Current: cfg.Token}
		cfg.TokenFunc = func() grpcx.Tokens { return tokens }
	}
	rps, burst := orDefault(cfg.RateLimitRPS, DefaultRateLimitRPS), orDefaultInt(cfg.RateLimitBurst, DefaultRateLimitBurst)
	globalRPS, globalBurst := orDefault(cfg.GlobalRateLimitRPS, DefaultGlobalRateRPS), orDefaultInt(cfg.GlobalRateLimitBurst, DefaultGlobalRateBurst)
	return &Handler{cfg: cfg, limiter: newLimiter(rps, burst, globalRPS, globalBurst)}, nil
}

func orDefault(v, def float64) float64 {
	if v > 0 {
		return v
	}
	return def
}

func orDefaultInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Summary is the body of a successful response. Firing counts the alerts
// that became signals; Skipped the firing alerts that did not.
type Summary struct {
	Firing    int `json:"firing"`
	Resolved  int `json:"resolved"`
	Skipped   int `json:"skipped"`
	Created   int `json:"created"`
	Duplicate int `json:"duplicate"`
	Rejected  int `json:"rejected"`
	// Rejections counts the rejected signals by reason code (OutOfScope,
	// NotFound, ...); the details are in the watcher-bridge's log.
	Rejections map[signals.RejectCode]int `json:"rejections,omitempty"`
}

// ServeHTTP checks, in order, the method, the token, the content type and
// the size, then parses, maps and ingests. Every refusal happens before
// the Sink is called, so a refused request changes nothing.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.cfg.Logger.WithValues("remote", r.RemoteAddr)
	// Refusals are the caller's to see in the response; at Info they would
	// let a flood fill the logs.
	quiet := log.V(1)
	if !h.limiter.allow(r) {
		w.Header().Set("Retry-After", "1")
		refuse(w, quiet, http.StatusTooManyRequests, "too many requests; retry later")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		refuse(w, log.V(1), http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed; use POST", r.Method))
		return
	}
	if code, msg := h.authenticate(r); code != 0 {
		switch {
		case code != http.StatusUnauthorized:
			log.Error(nil, "Refused Alertmanager webhook: no token is configured")
		case r.Header.Get("Authorization") == "":
			w.Header().Set("WWW-Authenticate", `Bearer realm="watcher-bridge"`)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="watcher-bridge", error="invalid_token"`)
		}
		refuse(w, quiet, code, msg)
		return
	}
	if msg := checkContentType(r.Header.Get("Content-Type")); msg != "" {
		refuse(w, quiet, http.StatusUnsupportedMediaType, msg)
		return
	}
	body, code, msg := h.readBody(w, r)
	if code != 0 {
		refuse(w, quiet, code, msg)
		return
	}
	p, err := Parse(body)
	if err != nil {
		refuse(w, quiet, http.StatusBadRequest, err.Error())
		return
	}
	log = log.WithValues("receiver", p.Receiver, "groupKey", p.GroupKey)
	if p.TruncatedAlerts > 0 {
		log.Info("Received a truncated alert group; raise max_alerts in Alertmanager to see every alert", "truncatedAlerts", p.TruncatedAlerts)
	}
	h.ingest(r.Context(), log, w, p)
}

// refuse answers a request that changes nothing. The message never holds
// the token.
func refuse(w http.ResponseWriter, log logr.Logger, code int, msg string) {
	log.Info("Refused Alertmanager webhook", "status", code, "reason", msg)
	writeError(w, code, msg)
}

func (h *Handler) ingest(ctx context.Context, log logr.Logger, w http.ResponseWriter, p *Payload) {
	firing, resolved, skipped := h.cfg.Mapper.Map(p)
	for _, s := range skipped {
		log.Info("Skipped alert", "alertname", s.Alertname, "fingerprint", s.Fingerprint, "reason", s.Reason)
	}
	for _, r := range resolved {
		log.Info("Recorded resolved alert", "alertname", r.Alertname, "fingerprint", r.Fingerprint, "resource", r.Resource.String())
	}
	sum := Summary{Firing: len(firing), Resolved: len(resolved), Skipped: len(skipped)}
	if len(firing) > 0 {
		now := h.cfg.Now()
		for i := range firing {
			if firing[i].DetectedAt.After(now.Add(futureSkew)) {
				firing[i].DetectedAt = now
			}
		}
		results, err := h.cfg.Sink.Ingest(ctx, firing)
		if err != nil {
			log.Error(err, "Failed to ingest Alertmanager alerts; Alertmanager will retry", "signals", len(firing))
			writeError(w, http.StatusServiceUnavailable, "signals could not be stored; retry later")
			return
		}
		if len(results) != len(firing) {
			log.Info("Sink answered for a different number of signals", "signals", len(firing), "results", len(results))
		}
		for i, res := range results {
			switch res.Status {
			case signals.IngestCreated:
				sum.Created++
			case signals.IngestDuplicate:
				sum.Duplicate++
			default:
				sum.Rejected++
				if sum.Rejections == nil {
					sum.Rejections = map[signals.RejectCode]int{}
				}
				sum.Rejections[res.Code]++
				if i < len(firing) {
					log.Info("Rejected signal", "type", firing[i].Type, "resource", firing[i].Resource.String(), "code", res.Code, "reason", res.Reason)
				}
			}
		}
	}
	log.Info("Ingested Alertmanager alerts", "firing", sum.Firing, "resolved", sum.Resolved, "skipped", sum.Skipped,
		"created", sum.Created, "duplicate", sum.Duplicate, "rejected", sum.Rejected)
	writeJSON(w, http.StatusOK, sum)
}

// authenticate returns 0 when the request carries an accepted token, or
// the status and message to refuse it with. grpcx.Tokens.Check compares in
// constant time, as the gRPC servers do, so that the token cannot be
// guessed byte by byte.
func (h *Handler) authenticate(r *http.Request) (int, string) {
	err := h.cfg.TokenFunc().Check(r.Header.Get("Authorization"))
	switch {
	case err == nil:
		return 0, ""
	case errors.Is(err, grpcx.ErrNoTokenConfigured):
		// A server without a token fails closed; 503 lets Alertmanager
		// retry once the Secret is mounted.
		return http.StatusServiceUnavailable, "webhook token is not configured"
	default:
		return http.StatusUnauthorized, err.Error()
	}
}

// checkContentType accepts application/json and any +json type.
func checkContentType(header string) string {
	if header == "" {
		return "missing content type; want application/json"
	}
	mt, _, err := mime.ParseMediaType(header)
	if err != nil {
		return fmt.Sprintf("content type %q is malformed; want application/json", header)
	}
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return fmt.Sprintf("content type %q is not supported; want application/json", mt)
	}
	return ""
}

func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, string) {
	limit := h.cfg.MaxBodyBytes
	tooLarge := fmt.Sprintf("payload larger than %d bytes", limit)
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, http.StatusRequestEntityTooLarge, tooLarge
		}
		return nil, http.StatusBadRequest, "could not read the request body"
	}
	return body, 0, ""
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	// The client may be gone; there is nothing left to tell it.
	_ = json.NewEncoder(w).Encode(v)
}
