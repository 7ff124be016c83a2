package app

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/chatcli/aiops/libs/grpcx"
)

// grpcRunnable serves gRPC on every replica: the servers are the stateless,
// horizontally scaled path, so they do not wait for leader election.
type grpcRunnable struct {
	server          *grpcx.Server
	listener        net.Listener
	shutdownTimeout time.Duration
}

// NeedLeaderElection is false: every replica serves.
func (r *grpcRunnable) NeedLeaderElection() bool { return false }

// Start serves until ctx ends, then drains in-flight calls for up to the
// shutdown timeout before closing the rest.
func (r *grpcRunnable) Start(ctx context.Context) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- r.server.Serve(r.listener) }()
	r.server.Health.Resume()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve gRPC: %w", err)
	case <-ctx.Done():
	}
	drained := make(chan struct{})
	go func() {
		r.server.GracefulStop()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(r.shutdownTimeout):
		r.server.Stop()
	}
	return nil
}
