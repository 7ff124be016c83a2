package app

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
	// listener is bound at set-up, so that a taken port fails the start
	// and readiness implies the webhook accepts connections.
	listener        net.Listener
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
	served := make(chan error, 1)
	go func() { served <- server.ServeTLS(w.listener, "", "") }()
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
