package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/chatcli/aiops/libs/grpcx"
)

// grpcRunnable serves gRPC on every replica: the servers are the stateless,
// horizontally scaled path, so they do not wait for leader election.
type grpcRunnable struct {
	server   *grpcx.Server
	listener net.Listener
	// drainTimeout is part of the service's shutdown budget: the rest is
	// left for reconcilers to finish before the Lease is released.
	drainTimeout time.Duration
	// serving backs the readiness check: ready only while Serve runs.
	serving atomic.Bool
}

// listen binds the gRPC port after Setup, so a failed Setup leaves no
// port bound.
func (r *grpcRunnable) listen(address string) error {
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("listen for gRPC on %s: %w", address, err)
	}
	r.listener = listener
	return nil
}

// ready is a readyz check: the server accepts calls.
func (r *grpcRunnable) ready(*http.Request) error {
	if !r.serving.Load() {
		return errors.New("gRPC server not serving")
	}
	return nil
}

// NeedLeaderElection is false: every replica serves.
func (r *grpcRunnable) NeedLeaderElection() bool { return false }

// Start serves until ctx ends, then drains in-flight calls for up to the
// shutdown timeout before closing the rest.
func (r *grpcRunnable) Start(ctx context.Context) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- r.server.Serve(r.listener) }()
	r.server.Health.Resume()
	r.serving.Store(true)
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve gRPC: %w", err)
	case <-ctx.Done():
	}
	r.serving.Store(false)
	drained := make(chan struct{})
	go func() {
		r.server.GracefulStop()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(r.drainTimeout):
		r.server.Stop()
	}
	return nil
}
