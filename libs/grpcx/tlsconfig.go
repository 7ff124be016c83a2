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
	return serverTLSConfig(cfg, func(paths []string, err error) {
		if err != nil {
			log.Error(err, "Kept previous certificate: reload failed", "files", paths)
			return
		}
		log.Info("Reloaded certificate", "files", paths)
	})
}
