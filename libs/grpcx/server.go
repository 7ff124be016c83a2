// Package grpcx holds the gRPC server and client settings every service
// shares: TLS 1.3 with certificates reloaded from disk, optional mTLS,
// bearer-token auth, keepalive, grpc.health.v1, Prometheus metrics, an audit
// log, panic recovery and per-peer rate limits on the server; the matching
// TLS, token, keepalive and round_robin settings on the client.
package grpcx

import (
	"errors"
	"fmt"
	"os"
	"strings"
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

// ServerConfig configures NewServer. CertFile, KeyFile and Token are
// required: a server never runs without TLS or authentication.
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
	// "authorization: Bearer <token>" metadata. grpc.health.v1 Check and
	// Watch are exempt so that probes need no secret. TokenFunc, when set,
	// is asked on every call instead, so that a rotated token (see
	// WatchTokenFile) takes effect without a restart.
	Token     string
	TokenFunc func() string

	// RateLimitRPS and RateLimitBurst size the token bucket of each peer
	// (see PeerIdentity); zero means DefaultRateLimitRPS and
	// DefaultRateLimitBurst.
	RateLimitRPS   float64
	RateLimitBurst int
	// MaxPeers bounds how many peers are tracked; zero means
	// DefaultMaxPeers. PeerIdleTimeout is how long an idle peer is kept;
	// zero means DefaultPeerIdleTimeout, and it is never shorter than the
	// time a bucket takes to refill.
	MaxPeers        int
	PeerIdleTimeout time.Duration

	// Registerer receives the server metrics; pass controller-runtime's
	// metrics.Registry. Registering on the same registry twice reuses the
	// collectors already there. Nil leaves the metrics unregistered.
	Registerer prometheus.Registerer
	// Logger receives the audit log, recovered panics and certificate
	// reloads. The zero Logger discards.
	Logger logr.Logger

	// Options are appended after the package's own server options, so they
	// can override keepalive or message-size settings, or add interceptors
	// with grpc.ChainUnaryInterceptor / ChainStreamInterceptor, which then
	// run innermost, after auth.
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

// NewServer builds a gRPC server from cfg. Interceptors run in this order,
// outermost first: panic recovery, metrics, audit log, rate limit, auth. So
// metrics and the audit log see every outcome, including rejections, and an
// unauthenticated flood is throttled before tokens are compared.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("gRPC server needs CertFile and KeyFile: it never runs without TLS")
	}
	if cfg.Token == "" && cfg.TokenFunc == nil {
		return nil, errors.New("gRPC server needs a Token: it never runs without authentication")
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
	limiter := newPeerLimiter(cfg.RateLimitRPS, cfg.RateLimitBurst, cfg.MaxPeers, cfg.PeerIdleTimeout)
	tokenFunc := cfg.TokenFunc
	if tokenFunc == nil {
		token := cfg.Token
		tokenFunc = func() string { return token }
	}
	auth := newTokenAuth(tokenFunc)

	opts := []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(tlsConfig)),
		grpc.KeepaliveEnforcementPolicy(serverEnforcement),
		grpc.KeepaliveParams(serverParameters),
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
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	return &Server{Server: gs, Health: hs}, nil
}

// WatchTokenFile reads a bearer token from a file, like ReadToken, and
// returns a function that answers the file's current token: it re-reads
// the file at most once a second and, when the new content is empty or
// unreadable, keeps the last good token; log hears of each reload and
// each new failure. A Secret rotated in its volume thus takes effect
// without a restart.
func WatchTokenFile(path string, log logr.Logger) (func() string, error) {
	r, err := newFileReloader(DefaultCertReloadInterval, parseToken, logReloads(log, "token"), path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	return r.get, nil
}

func parseToken(contents [][]byte) (string, error) {
	token := strings.TrimSpace(string(contents[0]))
	if token == "" {
		return "", errors.New("token file is empty")
	}
	return token, nil
}

// ReadToken reads a bearer token from a file, such as a mounted Secret, and
// trims surrounding whitespace (Secrets often end with a newline).
func ReadToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return token, nil
}
