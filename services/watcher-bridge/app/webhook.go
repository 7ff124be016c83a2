package watcherbridge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// webhookRunnable serves the Alertmanager webhook over HTTPS on every
// replica, like the gRPC ingest path. It presents the gRPC server's
// certificate; with --grpc-tls-client-ca-file set, Alertmanager must
// present a client certificate too.
type webhookRunnable struct {
	addr            string
	handler         http.Handler
	tls             *tls.Config
	shutdownTimeout time.Duration
}

func (w *webhookRunnable) NeedLeaderElection() bool { return false }

func (w *webhookRunnable) Start(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.Handle("/alertmanager", w.handler)
	server := &http.Server{
		Handler:           mux,
		TLSConfig:         w.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	listener, err := net.Listen("tcp", w.addr)
	if err != nil {
		return fmt.Errorf("listen for the webhook on %s: %w", w.addr, err)
	}
	served := make(chan error, 1)
	go func() { served <- server.ServeTLS(listener, "", "") }()
	select {
	case err := <-served:
		return fmt.Errorf("serve webhook: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), w.shutdownTimeout)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		// Requests still running past the grace are cut; Alertmanager
		// retries them against another replica.
		_ = server.Close()
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shut down webhook: %w", err)
		}
	}
	return nil
}
