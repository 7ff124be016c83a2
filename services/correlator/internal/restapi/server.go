package restapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
)

// Server serves a Handler over TLS on every replica, as a manager
// Runnable.
type Server struct {
	handler  http.Handler
	listener net.Listener
	srv      *http.Server
	log      logr.Logger
	// drain bounds how long in-flight requests may finish on shutdown.
	drain time.Duration
}

// Listen opens address for h. tlsConfig is required (the gRPC server's
// certificate, reloaded as it changes, see grpcx.ServerTLSConfig); a nil
// one is allowed only on a loopback address, for tests.
func Listen(address string, tlsConfig *tls.Config, h http.Handler, log logr.Logger, drain time.Duration) (*Server, error) {
	lis, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("listen for the incident REST API on %s: %w", address, err)
	}
	if tlsConfig == nil {
		if tcp, ok := lis.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
			_ = lis.Close()
			return nil, fmt.Errorf("the incident REST API on %s needs TLS: plain HTTP is for loopback only", address)
		}
	} else {
		lis = tls.NewListener(lis, tlsConfig)
	}
	return &Server{
		handler:  h,
		listener: lis,
		log:      log,
		drain:    drain,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
		},
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Start serves until ctx ends, then drains.
func (s *Server) Start(ctx context.Context) error {
	errs := make(chan error, 1)
	go func() { errs <- s.srv.Serve(s.listener) }()
	s.log.Info("Serving the incident REST API", "address", s.listener.Addr().String())
	select {
	case err := <-errs:
		return fmt.Errorf("incident REST API: %w", err)
	case <-ctx.Done():
	}
	drain := s.drain
	if drain <= 0 {
		drain = 5 * time.Second
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := s.srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stop the incident REST API: %w", err)
	}
	_ = s.srv.Close()
	return nil
}

// NeedLeaderElection is false: every replica serves the API.
func (s *Server) NeedLeaderElection() bool { return false }
