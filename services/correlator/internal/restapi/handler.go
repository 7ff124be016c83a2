// Package restapi serves the correlator's incident API as REST/JSON under
// /api/v1/incidents, for people and scripts. It is a thin layer over the
// CorrelatorService implementation, not a second one: every route calls
// one of its methods. Around them it adds what a REST API open to people
// needs: fail-closed API keys with roles from a Secret, CORS that denies
// every origin not configured, a token bucket per key, and one audit line
// per request.
package restapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chatcli/aiops/libs/grpcx"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
)

// DevModeEnv is the environment variable that, set to exactly "true", lets
// requests without a key in as DevIdentity (an admin). Never in
// production.
const DevModeEnv = "CHATCLI_OPERATOR_DEV_MODE"

// DevIdentity is the key id of requests let in by dev mode.
const DevIdentity = "dev-mode"

// APIKeyHeader carries a key as an alternative to "Authorization: Bearer".
const APIKeyHeader = "X-API-Key"

const (
	// maxBodyBytes bounds a request body: {"reason": ...} of at most 1024
	// bytes, escaped.
	maxBodyBytes = 16 << 10
	// requestTimeout bounds the work of one request.
	requestTimeout = 30 * time.Second
	basePath       = "/api/v1/incidents"
)

// KeyProvider gives the current API keys; *KeySource is one.
type KeyProvider interface{ Keys() *Keys }

// Config configures NewHandler.
type Config struct {
	// Incidents is the CorrelatorService implementation the routes call.
	Incidents correlatorv1.CorrelatorServiceServer
	// Keys gives the current API keys.
	Keys KeyProvider
	// AllowedOrigins are the exact origins (scheme://host[:port]) browsers
	// may call from; empty denies every cross-origin request.
	AllowedOrigins []string
	// RateLimitRPS and RateLimitBurst size the token bucket of each key.
	RateLimitRPS   float64
	RateLimitBurst int
	// Audit receives one line per request.
	Audit *Auditor
	// DevMode lets requests without a key in as DevIdentity.
	DevMode bool
	Log     logr.Logger
	// Now is time.Now when nil.
	Now func() time.Time
}

// Handler is the REST API.
type Handler struct {
	cfg     Config
	origins map[string]bool
	limiter *keyLimiter
	// failures limits the requests with a wrong key per remote address,
	// so keys cannot be guessed at full speed.
	failures *keyLimiter
	mux      *http.ServeMux
	now      func() time.Time
}

type identity struct {
	id   string
	role Role
	dev  bool
}

type identityKey struct{}

// NewHandler returns the REST API over cfg.Incidents.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Incidents == nil || cfg.Keys == nil || cfg.Audit == nil {
		return nil, errors.New("the REST API needs the incident server, a key provider and an auditor")
	}
	if cfg.RateLimitRPS <= 0 || cfg.RateLimitBurst < 1 {
		return nil, fmt.Errorf("the REST API's rate limit must be positive, got %v/s burst %d", cfg.RateLimitRPS, cfg.RateLimitBurst)
	}
	h := &Handler{cfg: cfg, origins: map[string]bool{}, limiter: newKeyLimiter(cfg.RateLimitRPS, cfg.RateLimitBurst), now: cfg.Now}
	h.failures = newKeyLimiter(cfg.RateLimitRPS, cfg.RateLimitBurst)
	h.failures.maxBuckets = 10000
	if h.now == nil {
		h.now = time.Now
	}
	for _, o := range cfg.AllowedOrigins {
		norm, err := NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		h.origins[norm] = true
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc(basePath, h.list)
	h.mux.HandleFunc(basePath+"/by-id/{id}", h.getByID)
	h.mux.HandleFunc(basePath+"/{namespace}/{target}", h.issue)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, status.Error(codes.NotFound, "no such route"))
	})
	return h, nil
}

// NormalizeOrigin checks an allowed origin and returns it as browsers send
// it: scheme://host[:port], lowercase, no path. "*" is refused: allowing
// every origin must not be one character away.
func NormalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("CORS origin %q is not scheme://host[:port]", o)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// statusRecorder keeps the status a handler wrote, for the audit line.
type statusRecorder struct {
	http.ResponseWriter
	status int
	errMsg string
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// ServeHTTP runs CORS, authentication, the rate limit and the route, and
// audits the request whatever the outcome.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	rec := &statusRecorder{ResponseWriter: w}
	var who identity
	defer func() {
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		entry := AccessRecord{
			Time: start.UTC(), KeyID: who.id, DevMode: who.dev, Method: r.Method, Path: r.URL.EscapedPath(),
			Status: status, DurationMS: float64(h.now().Sub(start).Microseconds()) / 1000, Remote: r.RemoteAddr,
			Origin: truncate(r.Header.Get("Origin"), 256), Error: rec.errMsg,
		}
		if who.role != RoleNone {
			entry.Role = who.role.String()
		}
		if err := h.cfg.Audit.Record(entry); err != nil {
			h.cfg.Log.Error(err, "Could not write the audit line of a REST request", "path", entry.Path)
		}
	}()

	if !h.cors(rec, r) {
		return
	}
	who, ok := h.authenticate(rec, r)
	if !ok {
		return
	}
	if allowed, retry := h.limiter.allow(who.id, h.now()); !allowed {
		rec.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
		rec.errMsg = grpcx.ReasonRateLimited
		writeError(rec, grpcx.Error(codes.ResourceExhausted, grpcx.ReasonRateLimited, "rate limit of key "+who.id+" exceeded", map[string]string{"limit": "key"}))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), identityKey{}, who), requestTimeout)
	defer cancel()
	h.mux.ServeHTTP(rec, r.WithContext(ctx))
}

// cors answers preflights and refuses requests from origins that are not
// allowed. A request without an Origin (curl, scripts) is not a
// cross-origin one and passes.
func (h *Handler) cors(w *statusRecorder, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if !h.origins[strings.ToLower(origin)] {
		w.errMsg = "origin not allowed"
		writeError(w, status.Error(codes.PermissionDenied, "origin "+truncate(origin, 256)+" is not allowed"))
		return false
	}
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", origin)
	hdr.Add("Vary", "Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		hdr.Set("Access-Control-Allow-Methods", "GET, POST")
		hdr.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, "+APIKeyHeader)
		hdr.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	return true
}

// presentedKey is the key of "Authorization: Bearer <key>" or X-API-Key.
func presentedKey(r *http.Request) (string, bool) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, key, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", true
		}
		return strings.TrimSpace(key), true
	}
	if key := r.Header.Get(APIKeyHeader); key != "" {
		return key, true
	}
	return "", false
}

func (h *Handler) authenticate(w *statusRecorder, r *http.Request) (identity, bool) {
	key, presented := presentedKey(r)
	if !presented && h.cfg.DevMode {
		return identity{id: DevIdentity, role: RoleAdmin, dev: true}, true
	}
	if id, role, ok := h.cfg.Keys.Keys().Lookup(key); ok {
		return identity{id: id, role: role}, true
	}
	if allowed, retry := h.failures.allow(remoteHost(r), h.now()); !allowed {
		w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
		w.errMsg = "no valid API key, " + grpcx.ReasonRateLimited
		writeError(w, grpcx.Error(codes.ResourceExhausted, grpcx.ReasonRateLimited, "too many requests without a valid API key", map[string]string{"limit": "address"}))
		return identity{}, false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="chatcli-incidents"`)
	w.errMsg = "no valid API key"
	writeError(w, status.Error(codes.Unauthenticated, "a valid API key is required (Authorization: Bearer <key>)"))
	return identity{}, false
}

// remoteHost is the caller's address without the port, which changes with
// every connection.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authorize checks the method and the caller's role for it: GET needs
// viewer, POST operator.
func authorize(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if !slices.Contains(methods, r.Method) {
		w.Header().Set("Allow", strings.Join(methods, ", "))
		writeJSONError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "", r.Method+" is not allowed here")
		return false
	}
	need := RoleViewer
	if r.Method == http.MethodPost {
		need = RoleOperator
	}
	who, _ := r.Context().Value(identityKey{}).(identity)
	if who.role < need {
		if rec, ok := w.(*statusRecorder); ok {
			rec.errMsg = "role " + who.role.String() + " may not " + r.Method
		}
		writeError(w, status.Errorf(codes.PermissionDenied, "key %s (%s) may not %s here: it needs the %s role", who.id, who.role, r.Method, need))
		return false
	}
	return true
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	if !authorize(w, r, http.MethodGet) {
		return
	}
	req, err := ParseListQuery(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	resp, err := h.cfg.Incidents.ListIncidents(r.Context(), req)
	respond(w, resp, err)
}

func (h *Handler) getByID(w http.ResponseWriter, r *http.Request) {
	if !authorize(w, r, http.MethodGet) {
		return
	}
	resp, err := h.cfg.Incidents.GetIncident(r.Context(), &correlatorv1.GetIncidentRequest{
		Ref: &correlatorv1.GetIncidentRequest_IncidentId{IncidentId: r.PathValue("id")},
	})
	respond(w, resp, err)
}

// issue serves GET .../{namespace}/{name} and POST
// .../{namespace}/{name}:acknowledge, :resolve and :escalate.
func (h *Handler) issue(w http.ResponseWriter, r *http.Request) {
	ns, target := r.PathValue("namespace"), r.PathValue("target")
	name, verb, hasVerb := strings.Cut(target, ":")
	if !hasVerb {
		if !authorize(w, r, http.MethodGet) {
			return
		}
		resp, err := h.cfg.Incidents.GetIncident(r.Context(), &correlatorv1.GetIncidentRequest{
			Ref: &correlatorv1.GetIncidentRequest_Issue{Issue: &commonv1.ObjectRef{Namespace: ns, Name: name}},
		})
		respond(w, resp, err)
		return
	}
	if !slices.Contains([]string{"acknowledge", "resolve", "escalate"}, verb) {
		writeError(w, status.Error(codes.NotFound, "no such action: use :acknowledge, :resolve or :escalate"))
		return
	}
	if !authorize(w, r, http.MethodPost) {
		return
	}
	reason, err := parseReason(r)
	if err != nil {
		writeError(w, err)
		return
	}
	who, _ := r.Context().Value(identityKey{}).(identity)
	ref := &commonv1.ObjectRef{Namespace: ns, Name: name}
	var resp proto.Message
	switch verb {
	case "acknowledge":
		resp, err = h.cfg.Incidents.AcknowledgeIssue(r.Context(), &correlatorv1.AcknowledgeIssueRequest{Issue: ref, Requester: who.id, Reason: reason})
	case "resolve":
		resp, err = h.cfg.Incidents.ResolveIssue(r.Context(), &correlatorv1.ResolveIssueRequest{Issue: ref, Requester: who.id, Reason: reason})
	default:
		resp, err = h.cfg.Incidents.EscalateIssue(r.Context(), &correlatorv1.EscalateIssueRequest{Issue: ref, Requester: who.id, Reason: reason})
	}
	respond(w, resp, err)
}

// parseReason reads the optional body {"reason": "..."}. The requester is
// always the caller's key id, so the body cannot name another.
func parseReason(r *http.Request) (string, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		return "", status.Errorf(codes.InvalidArgument, "body: %v", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return "", nil
	}
	var in struct {
		Reason string `json:"reason"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return "", status.Errorf(codes.InvalidArgument, "body is not {\"reason\": \"...\"}: %v", err)
	}
	if dec.More() {
		return "", status.Error(codes.InvalidArgument, "body holds more than one JSON value")
	}
	return in.Reason, nil
}

// ParseListQuery turns the query of GET /api/v1/incidents into a
// ListIncidentsRequest: namespace, state and severity (each repeatable or
// comma-separated; states by name, case-insensitive), kind, name, uid,
// page_size, page_token. An unknown parameter is refused, so a typo does
// not silently list everything.
func ParseListQuery(q url.Values) (*correlatorv1.ListIncidentsRequest, error) {
	req := &correlatorv1.ListIncidentsRequest{}
	var res commonv1.ResourceRef
	for param, values := range q {
		switch param {
		case "namespace", "kind", "name", "uid", "page_size", "page_token":
			if len(values) != 1 {
				return nil, status.Errorf(codes.InvalidArgument, "%s is given %d times", param, len(values))
			}
		case "state", "severity":
		default:
			return nil, status.Errorf(codes.InvalidArgument, "unknown query parameter %q", truncate(param, 64))
		}
		if len(values) == 0 {
			continue
		}
		v := values[0]
		switch param {
		case "namespace":
			req.Namespace = v
		case "kind":
			res.Kind = v
		case "name":
			res.Name = v
		case "uid":
			res.Uid = v
		case "page_token":
			req.PageToken = v
		case "page_size":
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "page_size %q is not a number", truncate(v, 32))
			}
			req.PageSize = int32(n)
		case "state":
			for _, s := range splitList(values) {
				st, ok := correlatorv1.IncidentState_value["INCIDENT_STATE_"+strings.ToUpper(s)]
				if !ok || st == 0 {
					return nil, status.Errorf(codes.InvalidArgument, "state %q is not Detected, Analyzing, Remediating, Resolved or Escalated", truncate(s, 32))
				}
				req.States = append(req.States, correlatorv1.IncidentState(st))
			}
		case "severity":
			for _, s := range splitList(values) {
				req.Severities = append(req.Severities, strings.ToLower(s))
			}
		}
	}
	if res.Kind != "" || res.Name != "" || res.Uid != "" {
		req.Resource = &res
	}
	return req, nil
}

func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

var jsonOut = protojson.MarshalOptions{}

func respond(w http.ResponseWriter, resp proto.Message, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := jsonOut.Marshal(resp)
	if err != nil {
		writeError(w, status.Errorf(codes.Internal, "encode the response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// HTTPStatus maps a gRPC code to the HTTP status of the REST API. It is
// grpc-gateway's mapping except FailedPrecondition, which is 409 Conflict:
// the request is well formed and conflicts with the incident's state.
func HTTPStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499
	case codes.InvalidArgument, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted, codes.FailedPrecondition:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeError writes err as {"error": {"code", "status", "reason",
// "message"}}.
func writeError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	if rec, ok := w.(*statusRecorder); ok && rec.errMsg == "" {
		rec.errMsg = cmp.Or(grpcx.Reason(err), st.Code().String())
	}
	writeJSONError(w, HTTPStatus(st.Code()), strings.ToUpper(codeName(st.Code())), grpcx.Reason(err), st.Message())
}

func writeJSONError(w http.ResponseWriter, httpStatus int, statusName, reason, msg string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": httpStatus, "status": statusName, "reason": reason, "message": msg,
	}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(append(body, '\n'))
}

// codeName is the code's name in the google.rpc style (NOT_FOUND).
func codeName(c codes.Code) string {
	if c == codes.OK {
		return "OK"
	}
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return b.String()
}
