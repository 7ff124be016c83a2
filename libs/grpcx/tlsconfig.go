package grpcx

import (
	"crypto/tls"

	"github.com/go-logr/logr"
)

// ServerTLSConfig returns the TLS 1.3 configuration NewServer uses, with
// the same reloading of CertFile, KeyFile and ClientCAFile, for a service's
// other listeners (an HTTPS webhook) that present the same certificate.
// Only the TLS fields of cfg are read.
func ServerTLSConfig(cfg ServerConfig, log logr.Logger) (*tls.Config, error) {
	return serverTLSConfig(cfg, logReloads(log, "certificate"))
}

// logReloads is the report of a file reloader: each reload, and each new
// failure, which keeps the last good value.
func logReloads(log logr.Logger, what string) func(paths []string, err error) {
	return func(paths []string, err error) {
		if err != nil {
			log.Error(err, "Kept the previous "+what+": reload failed", "files", paths)
			return
		}
		log.Info("Reloaded the "+what, "files", paths)
	}
}
