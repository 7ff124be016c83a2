package redisx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults keep every call short: Redis is on the hot path of detection and
// remediation, and a hung call is worse than a quick ErrUnavailable.
const (
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second
	DefaultPoolTimeout  = 2 * time.Second
	DefaultMaxRetries   = 1
	DefaultDialAttempts = 2
)

// Config tunes the client. The zero value uses the defaults above. A
// setting left at zero here may still come from the URL's query
// (dial_timeout=, read_timeout=, ...), which wins over the defaults.
type Config struct {
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// PoolTimeout bounds the wait for a free connection when all are busy.
	PoolTimeout time.Duration
	// MaxRetries is how often a failed command is retried; -1 disables
	// retries, 0 means DefaultMaxRetries.
	MaxRetries int
	// DialAttempts is how many dials one connection attempt makes before
	// it gives up; 0 means DefaultDialAttempts.
	DialAttempts int
	// PoolSize is the number of connections; 0 keeps go-redis' default.
	PoolSize int
	// ClientName is shown by CLIENT LIST, to tell the services apart.
	ClientName string
	// CAFile is a PEM bundle that verifies a rediss:// server instead of
	// the system roots. It needs a rediss:// URL.
	CAFile string
	// PasswordFile holds the password (AUTH), read again for every new
	// connection so a rotated Secret is picked up. It replaces a password
	// in the URL; the user name, if any, still comes from the URL.
	PasswordFile string
}

// Client wraps a go-redis client with the platform's key layout and error
// classification. It is safe for concurrent use.
type Client struct {
	rdb *redis.Client
}

// New returns a client for a redis:// or rediss:// URL. It does not dial;
// use Ping to check that Redis answers.
func New(rawURL string, cfg Config) (*Client, error) {
	opt, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	applyConfig(opt, cfg)
	if err := applyTLS(opt, cfg.CAFile); err != nil {
		return nil, err
	}
	if err := applyPasswordFile(opt, cfg.PasswordFile); err != nil {
		return nil, err
	}
	return &Client{rdb: redis.NewClient(opt)}, nil
}

// ValidateURL reports what New would refuse in rawURL, without building a
// client, so that a service can reject a bad flag before it starts.
func ValidateURL(rawURL string) error {
	_, err := parseURL(rawURL)
	return err
}

// insecureQueryOptions are go-redis URL options that weaken TLS.
var insecureQueryOptions = []string{"skip_verify"}

// parseURL keeps the URL itself out of errors because it may carry a
// password.
func parseURL(rawURL string) (*redis.Options, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse redis URL: malformed URL")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("parse redis URL: scheme %q is not redis or rediss", u.Scheme)
	}
	for _, option := range insecureQueryOptions {
		if u.Query().Has(option) {
			return nil, fmt.Errorf("parse redis URL for host %q: option %s is refused: the server certificate is always verified; give a private CA with a CA file instead", u.Host, option)
		}
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse redis URL for host %q: %w", u.Host, err)
	}
	return opt, nil
}

// applyTLS raises a rediss:// client to TLS 1.3 (go-redis asks for 1.2)
// and verifies the server with caFile when one is given.
func applyTLS(opt *redis.Options, caFile string) error {
	if opt.TLSConfig == nil {
		if caFile != "" {
			return errors.New("redis CA file given for a redis:// URL: use rediss:// for TLS")
		}
		return nil
	}
	opt.TLSConfig.MinVersion = tls.VersionTLS13
	// Belt and braces: parseURL already refuses skip_verify.
	opt.TLSConfig.InsecureSkipVerify = false
	if caFile == "" {
		return nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("read redis CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("redis CA file %s holds no PEM certificate", caFile)
	}
	opt.TLSConfig.RootCAs = pool
	return nil
}

// applyPasswordFile makes every new connection authenticate with the
// password in path. It is read once here, so a missing file fails at
// start-up rather than at the first dial.
func applyPasswordFile(opt *redis.Options, path string) error {
	if path == "" {
		return nil
	}
	if _, err := readPassword(path); err != nil {
		return err
	}
	username := opt.Username
	opt.Password = ""
	opt.CredentialsProviderContext = func(context.Context) (string, string, error) {
		password, err := readPassword(path)
		return username, password, err
	}
	return nil
}

func readPassword(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read redis password file: %w", err)
	}
	password := strings.TrimRight(string(data), "\r\n")
	if password == "" {
		return "", fmt.Errorf("redis password file %s is empty", path)
	}
	return password, nil
}

func applyConfig(opt *redis.Options, cfg Config) {
	pick := func(explicit, fromURL, def time.Duration) time.Duration {
		switch {
		case explicit != 0:
			return explicit
		case fromURL != 0:
			return fromURL
		default:
			return def
		}
	}
	opt.DialTimeout = pick(cfg.DialTimeout, opt.DialTimeout, DefaultDialTimeout)
	opt.ReadTimeout = pick(cfg.ReadTimeout, opt.ReadTimeout, DefaultReadTimeout)
	opt.WriteTimeout = pick(cfg.WriteTimeout, opt.WriteTimeout, DefaultWriteTimeout)
	opt.PoolTimeout = pick(cfg.PoolTimeout, opt.PoolTimeout, DefaultPoolTimeout)

	switch {
	case cfg.MaxRetries != 0:
		opt.MaxRetries = cfg.MaxRetries
	case opt.MaxRetries == 0:
		opt.MaxRetries = DefaultMaxRetries
	}
	opt.DialerRetries = DefaultDialAttempts
	if cfg.DialAttempts > 0 {
		opt.DialerRetries = cfg.DialAttempts
	}
	// A short pause between dials: a refused connection will not accept a
	// second later either, and the caller is waiting.
	opt.DialerRetryTimeout = 50 * time.Millisecond
	if cfg.PoolSize > 0 {
		opt.PoolSize = cfg.PoolSize
	}
	if cfg.ClientName != "" {
		opt.ClientName = cfg.ClientName
	}
	// Let the caller's deadline cut a call short too, so that a reconcile
	// with little time left does not wait for the full read timeout.
	opt.ContextTimeoutEnabled = true
}

// Redis returns the underlying go-redis client, for commands this package
// does not wrap. Keys written through it should still start with Prefix.
func (c *Client) Redis() *redis.Client { return c.rdb }

// Close closes the connection pool. Locks still held can no longer renew
// and will report loss, so release them first.
func (c *Client) Close() error { return c.rdb.Close() }

// Ping reports whether Redis answers, as nil or an error matching
// ErrUnavailable.
func (c *Client) Ping(ctx context.Context) error {
	return wrapErr("ping redis", c.rdb.Ping(ctx).Err())
}

// Checker returns a readiness check with the signature of
// controller-runtime's healthz.Checker. Each probe pings with its own
// timeout, so a hung Redis makes the probe fail rather than hang.
func (c *Client) Checker(timeout time.Duration) func(*http.Request) error {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), timeout)
		defer cancel()
		return c.Ping(ctx)
	}
}
