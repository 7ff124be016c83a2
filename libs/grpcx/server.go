// Package grpcx holds the gRPC server and client settings every service
// shares: TLS 1.3 with certificates reloaded from disk, optional mTLS,
// bearer-token auth (current and next token, checked with the request
// headers, before the body is read), keepalive, explicit message, stream
// and header limits, grpc.health.v1, Prometheus metrics, an audit log,
// panic recovery and per-peer plus server-wide rate limits on the server;
// the matching TLS, token-file, keepalive and round_robin settings on the
// client, with PeerConfig for each peer's flags. Tokens is also the bearer
// check of the services' HTTP endpoints, and Error and Reason carry
// machine-readable google.rpc.ErrorInfo details.
package grpcx

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
)

// serverEnforcement rejects clients that ping more often than every 20 s
// (clients here ping every 30 s), and lets idle clients keep pinging so a
// dead connection is found before the next call needs it.
var serverEnforcement = keepalive.EnforcementPolicy{
	MinTime:             20 * time.Second,
	PermitWithoutStream: true,
}

// serverParameters bound connection age so that clients re-resolve
// headless Services and spread onto new replicas; the grace period lets
// in-flight calls (LLM analyses take a while) finish. Long-lived streams
// must expect to be closed and reopen themselves. Idle connections are
// pinged every minute to detect dead clients.
var serverParameters = keepalive.ServerParameters{
	MaxConnectionAge:      10 * time.Minute,
	MaxConnectionAgeGrace: 2 * time.Minute,
	Time:                  time.Minute,
	Timeout:               20 * time.Second,
}

// Limits on what one connection may ask of a server before the handlers
// run; see the ServerConfig fields of the same names.
const (
	// DefaultMaxRecvMsgSize holds the largest legal IngestSignals batch
	// with room to spare. A Signal whose bounded fields are all at their
	// limits (libs/signals: description 4096 bytes, value and threshold
	// 64 each; kind and namespace 63, name 253, a 36-byte UID, the longest
	// type, source and severity, a timestamp, and the protobuf tags and
	// lengths) is 4,723 bytes on the wire, so the batch limit of 1000
	// signals (grpcserver.MaxIngestBatch) makes 4,723,000 bytes (4.5 MiB),
	// over grpc's 4 MiB default. 8 MiB (8,388,608 bytes) leaves each signal
	// 3,665 bytes for its labels, which nothing bounds. TestDefaultMaxRecvMsgSizeHoldsTheLargestIngestBatch
	// recomputes the figure.
	DefaultMaxRecvMsgSize = 8 << 20
	// DefaultMaxConcurrentStreams is HTTP/2's recommended minimum (RFC 9113
	// section 5.1.2); grpc's default is unlimited. Calls over it wait in the
	// client for a free stream rather than fail.
	DefaultMaxConcurrentStreams = 100
	// DefaultMaxHeaderListSize fits the token, grpc's own headers and W3C
	// trace context with an 8 KiB baggage; grpc's default is 16 MiB.
	DefaultMaxHeaderListSize = 16 << 10
	// DefaultConnectionTimeout bounds the TLS handshake and HTTP/2 preface
	// of a new connection; in-cluster they take milliseconds, and grpc's
	// default of 120 s lets slow clients hold connections open for free.
	DefaultConnectionTimeout = 10 * time.Second
)

// ServerConfig configures NewServer. CertFile, KeyFile and Token (or
// TokenFunc) are required: a server never runs without TLS or
// authentication.
type ServerConfig struct {
	// CertFile and KeyFile are the PEM server certificate (chain) and key.
	// They are re-read when their contents change, without a restart.
	CertFile string
	KeyFile  string
	// ClientCAFile, when set, turns on mTLS: clients must present a
	// certificate signed by one of these CAs. It is reloaded like CertFile.
	ClientCAFile string
	// CertReloadInterval is the least time between two reads of the
	// certificate files; zero means DefaultCertReloadInterval.
	CertReloadInterval time.Duration

	// Token is the bearer token every call must carry in the
	// "authorization: Bearer <token>" metadata; it must pass ValidateToken.
	// grpc.health.v1 Check is exempt so that probes need no secret.
	// TokenFunc, when set, is asked on every call instead and both its
	// Current and Next tokens are accepted, so that a rotated token file
	// (see WatchTokenFile) takes effect without a restart or a gap.
	Token     string
	TokenFunc func() Tokens

	// RateLimitRPS and RateLimitBurst size the token bucket of each peer
	// (see PeerIdentity; IPv6 peers count by their /64); zero means
	// DefaultRateLimitRPS and DefaultRateLimitBurst.
	RateLimitRPS   float64
	RateLimitBurst int
	// GlobalRateLimitRPS and GlobalRateLimitBurst size the server-wide
	// bucket that a call takes a token from after its peer's; zero means
	// DefaultGlobalRateLimitRPS and DefaultGlobalRateLimitBurst.
	GlobalRateLimitRPS   float64
	GlobalRateLimitBurst int
	// MaxPeers bounds how many peers are tracked; zero means
	// DefaultMaxPeers. PeerIdleTimeout is how long an idle peer is kept;
	// zero means DefaultPeerIdleTimeout, and it is never shorter than the
	// time a bucket takes to refill.
	MaxPeers        int
	PeerIdleTimeout time.Duration

	// MaxRecvMsgSize is the largest request message, in bytes; zero means
	// DefaultMaxRecvMsgSize. Larger ones fail with ResourceExhausted.
	MaxRecvMsgSize int
	// MaxConcurrentStreams bounds the calls open at once on one connection;
	// zero means DefaultMaxConcurrentStreams.
	MaxConcurrentStreams uint32
	// MaxHeaderListSize bounds a call's headers (metadata), in bytes; zero
	// means DefaultMaxHeaderListSize.
	MaxHeaderListSize uint32
	// ConnectionTimeout bounds the setup of a new connection; zero means
	// DefaultConnectionTimeout.
	ConnectionTimeout time.Duration

	// Registerer receives the server metrics; pass controller-runtime's
	// metrics.Registry. Registering on the same registry twice reuses the
	// collectors already there. Nil leaves the metrics unregistered.
	Registerer prometheus.Registerer
	// Logger receives the audit log, recovered panics and certificate
	// reloads. The zero Logger discards.
	Logger logr.Logger

	// Options are appended after the package's own server options, so they
	// can override keepalive or the limits above, or add interceptors with
	// grpc.ChainUnaryInterceptor / ChainStreamInterceptor, which then run
	// innermost, after auth. A grpc.InTapHandle here would replace the
	// package's own: the interceptors would still check every call, but
	// only once its body is decoded.
	Options []grpc.ServerOption
}

// Server is a grpc.Server with the health service registered. Register the
// service implementations on it, then Serve.
type Server struct {
	*grpc.Server
	// Health serves grpc.health.v1. The overall status ("") starts SERVING;
	// set per-service or overall status with SetServingStatus.
	Health *health.Server
}

// GracefulStop marks every health status NOT_SERVING, so probes and
// balancers stop sending new calls, then waits for in-flight calls.
func (s *Server) GracefulStop() {
	s.Health.Shutdown()
	s.Server.GracefulStop()
}

// Stop marks every health status NOT_SERVING and closes all connections.
func (s *Server) Stop() {
	s.Health.Shutdown()
	s.Server.Stop()
}

// NewServer builds a gRPC server from cfg.
//
// A call meets the rate limits and the token check first in grpc's tap
// handle, when its headers arrive and before its body is read, so a caller
// without a token or out of tokens costs no message decode. Then the
// interceptors run, outermost first: panic recovery, metrics, audit log,
// rate limit, auth. Metrics and the audit log see every outcome, including
// the tap's refusals; the last two interceptors check only calls the tap
// did not (grpc.Server.ServeHTTP), rate limits before tokens, so that an
// unauthenticated flood is throttled before tokens are compared.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("gRPC server needs CertFile and KeyFile: it never runs without TLS")
	}
	if cfg.Token == "" && cfg.TokenFunc == nil {
		return nil, errors.New("gRPC server needs a Token: it never runs without authentication")
	}
	tokenFunc := cfg.TokenFunc
	if tokenFunc == nil {
		if err := ValidateToken(cfg.Token); err != nil {
			return nil, fmt.Errorf("gRPC server token: %w", err)
		}
		tokens := Tokens{Current: cfg.Token}
		tokenFunc = func() Tokens { return tokens }
	}
	log := cfg.Logger.WithName("grpc")
	tlsConfig, err := serverTLSConfig(cfg, logReloads(log, "certificate"))
	if err != nil {
		return nil, fmt.Errorf("configure gRPC server TLS: %w", err)
	}
	metrics, err := newServerMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	audit := auditLogger{log: log.WithName("audit")}
	limiter := newPeerLimiter(cfg.RateLimitRPS, cfg.RateLimitBurst, cfg.MaxPeers, cfg.PeerIdleTimeout, cfg.GlobalRateLimitRPS, cfg.GlobalRateLimitBurst)
	auth := newTokenAuth(tokenFunc)
	g := &gate{limiter: limiter, auth: auth, metrics: metrics, audit: audit}

	opts := []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(tlsConfig)),
		grpc.KeepaliveEnforcementPolicy(serverEnforcement),
		grpc.KeepaliveParams(serverParameters),
		grpc.MaxRecvMsgSize(orDefault(cfg.MaxRecvMsgSize, DefaultMaxRecvMsgSize)),
		grpc.MaxConcurrentStreams(orDefault(cfg.MaxConcurrentStreams, DefaultMaxConcurrentStreams)),
		grpc.MaxHeaderListSize(orDefault(cfg.MaxHeaderListSize, DefaultMaxHeaderListSize)),
		grpc.ConnectionTimeout(orDefault(cfg.ConnectionTimeout, DefaultConnectionTimeout)),
		grpc.InTapHandle(g.tap),
		grpc.ChainUnaryInterceptor(
			recoveryUnary(log),
			metrics.unary(),
			audit.unary(),
			limiter.unary(),
			auth.unary(),
		),
		grpc.ChainStreamInterceptor(
			recoveryStream(log),
			metrics.stream(),
			audit.stream(),
			limiter.stream(),
			auth.stream(),
		),
	}
	gs := grpc.NewServer(append(opts, cfg.Options...)...)
	g.server = gs
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	return &Server{Server: gs, Health: hs}, nil
}

// orDefault is v, or def when v is zero or negative.
func orDefault[T int | uint32 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
