package grpcx

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// DefaultCertReloadInterval is how often, at most, certificate files are
// re-read. Checks happen during handshakes, so an idle server reads nothing.
const DefaultCertReloadInterval = time.Second

// fileReloader holds a value parsed from a set of files and re-reads them at
// most once per interval, when a handshake asks for the value. It compares
// contents rather than mtimes: Kubernetes updates Secret volumes by swapping
// a symlink, and a rewrite within the mtime granularity would be missed.
type fileReloader[T any] struct {
	paths    []string
	parse    func(contents [][]byte) (T, error)
	interval time.Duration
	now      func() time.Time
	// report is told about every reload and every new failure; it may be nil.
	report func(paths []string, err error)

	mu       sync.Mutex
	value    T
	contents [][]byte
	lastErr  string
	checked  time.Time
}

func newFileReloader[T any](interval time.Duration, parse func([][]byte) (T, error), report func([]string, error), paths ...string) (*fileReloader[T], error) {
	if interval <= 0 {
		interval = DefaultCertReloadInterval
	}
	r := &fileReloader[T]{paths: paths, parse: parse, interval: interval, now: time.Now, report: report}
	contents, err := r.read()
	if err != nil {
		return nil, err
	}
	value, err := parse(contents)
	if err != nil {
		return nil, fmt.Errorf("parse %v: %w", paths, err)
	}
	r.value, r.contents, r.checked = value, contents, r.now()
	return r, nil
}

// get returns the current value, reloading it first when the interval has
// passed and the files changed. A failed reload keeps the last good value: a
// half-finished rotation (new certificate, old key) must not break
// handshakes, and the next check retries.
func (r *fileReloader[T]) get() T {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.checked) < r.interval {
		return r.value
	}
	r.checked = now
	contents, err := r.read()
	if err != nil {
		r.fail(err)
		return r.value
	}
	if equalContents(contents, r.contents) {
		return r.value
	}
	value, err := r.parse(contents)
	if err != nil {
		r.fail(fmt.Errorf("parse %v: %w", r.paths, err))
		return r.value
	}
	r.value, r.contents, r.lastErr = value, contents, ""
	if r.report != nil {
		r.report(r.paths, nil)
	}
	return r.value
}

// fail reports a failed reload once per distinct error, so a broken file
// does not log on every check.
func (r *fileReloader[T]) fail(err error) {
	if err.Error() == r.lastErr {
		return
	}
	r.lastErr = err.Error()
	if r.report != nil {
		r.report(r.paths, err)
	}
}

func (r *fileReloader[T]) read() ([][]byte, error) {
	contents := make([][]byte, len(r.paths))
	for i, p := range r.paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		contents[i] = data
	}
	return contents, nil
}

func equalContents(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// parseKeyPair parses a PEM certificate (chain) and its private key.
func parseKeyPair(contents [][]byte) (*tls.Certificate, error) {
	pair, err := tls.X509KeyPair(contents[0], contents[1])
	if err != nil {
		return nil, fmt.Errorf("load key pair: %w", err)
	}
	return &pair, nil
}

// parseCertPool parses a PEM bundle of CA certificates.
func parseCertPool(contents [][]byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(contents[0]) {
		return nil, errors.New("no PEM certificate found")
	}
	return pool, nil
}

// loadCertPool reads a CA bundle once.
func loadCertPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool, err := parseCertPool([][]byte{data})
	if err != nil {
		return nil, fmt.Errorf("parse CA file %s: %w", path, err)
	}
	return pool, nil
}

// serverTLSConfig builds a TLS 1.3 server config whose key pair and client
// CAs are re-read from disk as they change. Every handshake gets a config
// built from the current files through GetConfigForClient.
func serverTLSConfig(cfg ServerConfig, report func([]string, error)) (*tls.Config, error) {
	pair, err := newFileReloader(cfg.CertReloadInterval, parseKeyPair, report, cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load server key pair: %w", err)
	}
	var clientCAs *fileReloader[*x509.CertPool]
	if cfg.ClientCAFile != "" {
		clientCAs, err = newFileReloader(cfg.CertReloadInterval, parseCertPool, report, cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("load client CA: %w", err)
		}
	}
	perHandshake := func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c := &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{*pair.get()},
		}
		if clientCAs != nil {
			c.ClientAuth = tls.RequireAndVerifyClientCert
			c.ClientCAs = clientCAs.get()
		}
		return c, nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, GetConfigForClient: perHandshake}, nil
}

// clientTLSConfig builds a TLS 1.3 client config. The CA bundle (CAPEM,
// else CAFile) is read once; the optional client key pair is re-read as it
// changes, so a rotated client certificate is used on the next connection.
func clientTLSConfig(cfg ClientConfig) (*tls.Config, error) {
	var roots *x509.CertPool
	var err error
	if len(cfg.CAPEM) > 0 {
		if roots, err = parseCertPool([][]byte{cfg.CAPEM}); err != nil {
			return nil, fmt.Errorf("parse CAPEM: %w", err)
		}
	} else if roots, err = loadCertPool(cfg.CAFile); err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots, ServerName: cfg.ServerName}
	if cfg.CertFile == "" && cfg.KeyFile == "" {
		return c, nil
	}
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("client certificate needs both CertFile and KeyFile")
	}
	pair, err := newFileReloader(cfg.CertReloadInterval, parseKeyPair, nil, cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load client key pair: %w", err)
	}
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return pair.get(), nil
	}
	return c, nil
}
