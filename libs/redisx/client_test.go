package redisx_test

import (
	"crypto/tls"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/testenv"
)

func TestNewAppliesTimeouts(t *testing.T) {
	type timeouts struct{ Dial, Read, Write, Pool time.Duration }
	tests := map[string]struct {
		reason string
		url    string
		cfg    redisx.Config
		want   timeouts
	}{
		"Defaults": {
			reason: "The zero Config keeps every call short.",
			url:    "redis://127.0.0.1:6379/0",
			want:   timeouts{redisx.DefaultDialTimeout, redisx.DefaultReadTimeout, redisx.DefaultWriteTimeout, redisx.DefaultPoolTimeout},
		},
		"Config": {
			reason: "Explicit settings win.",
			url:    "rediss://127.0.0.1:6380",
			cfg:    redisx.Config{DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Second, PoolTimeout: 4 * time.Second},
			want:   timeouts{time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second},
		},
		"URLQuery": {
			reason: "Settings in the URL win over the defaults but not over Config.",
			url:    "redis://127.0.0.1:6379?dial_timeout=3s&read_timeout=500ms",
			cfg:    redisx.Config{ReadTimeout: 1500 * time.Millisecond},
			want:   timeouts{3 * time.Second, 1500 * time.Millisecond, redisx.DefaultWriteTimeout, redisx.DefaultPoolTimeout},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := redisx.New(tc.url, tc.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer c.Close()
			o := c.Redis().Options()
			got := timeouts{o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n-want +got:\n%s", tc.reason, diff)
			}
			if o.MaxRetries != redisx.DefaultMaxRetries {
				t.Errorf("MaxRetries: got %d, want %d", o.MaxRetries, redisx.DefaultMaxRetries)
			}
		})
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	tests := map[string]struct {
		reason string
		url    string
	}{
		"HTTP":    {reason: "Only redis and rediss are accepted.", url: "http://127.0.0.1:6379"},
		"Unix":    {reason: "Sockets are not part of the platform's deployments.", url: "unix:///tmp/redis.sock"},
		"Empty":   {reason: "An empty URL is a configuration bug.", url: ""},
		"BadPort": {reason: "A malformed address is refused up front.", url: "redis://:s3cret@127.0.0.1:notaport"},
		"BadDB":   {reason: "A malformed database number is refused up front.", url: "redis://:s3cret@127.0.0.1:6379/abc"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := redisx.New(tc.url, redisx.Config{})
			if err == nil {
				t.Fatalf("%s\nNew(%q) succeeded", tc.reason, tc.url)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

func TestPingAndChecker(t *testing.T) {
	c := newClient(t, redisx.Config{})
	if err := c.Ping(testContext(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	check := c.Checker(time.Second)
	if err := check(httptest.NewRequest("GET", "/readyz", nil)); err != nil {
		t.Errorf("Checker: %v", err)
	}
}

func TestNewHardensTLS(t *testing.T) {
	pki, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		reason      string
		url         string
		cfg         redisx.Config
		wantErrPart string
		wantTLS     bool
		wantCA      bool
	}{
		"Plain":         {reason: "redis:// stays plain", url: "redis://127.0.0.1:6379"},
		"TLS13":         {reason: "rediss:// asks for TLS 1.3, not go-redis' 1.2", url: "rediss://127.0.0.1:6380", wantTLS: true},
		"PrivateCA":     {reason: "a CA file replaces the system roots", url: "rediss://127.0.0.1:6380", cfg: redisx.Config{CAFile: pki.CAFile}, wantTLS: true, wantCA: true},
		"SkipVerify":    {reason: "certificate checks cannot be turned off", url: "rediss://127.0.0.1:6380?skip_verify=true", wantErrPart: "skip_verify is refused"},
		"SkipVerifyOff": {reason: "the option is refused whatever its value, so no URL carries it", url: "rediss://127.0.0.1:6380?skip_verify=false", wantErrPart: "skip_verify is refused"},
		"CAWithoutTLS":  {reason: "a CA file means TLS was meant", url: "redis://127.0.0.1:6379", cfg: redisx.Config{CAFile: pki.CAFile}, wantErrPart: "use rediss://"},
		"CANotPEM":      {reason: "a CA file must hold certificates", url: "rediss://127.0.0.1:6380", cfg: redisx.Config{CAFile: pki.Server.KeyFile}, wantErrPart: "no PEM certificate"},
		"NoPassword":    {reason: "a missing password file fails at start-up", url: "redis://127.0.0.1:6379", cfg: redisx.Config{PasswordFile: pki.Dir + "/missing"}, wantErrPart: "password file"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := redisx.New(tc.url, tc.cfg)
			if tc.wantErrPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrPart) {
					t.Fatalf("%s: error %v, want one containing %q", tc.reason, err, tc.wantErrPart)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			defer c.Close()
			got := c.Redis().Options().TLSConfig
			if (got != nil) != tc.wantTLS {
				t.Fatalf("%s: TLS config %v, want TLS %v", tc.reason, got, tc.wantTLS)
			}
			if got == nil {
				return
			}
			if got.MinVersion != tls.VersionTLS13 || got.InsecureSkipVerify {
				t.Errorf("%s: MinVersion %x, InsecureSkipVerify %v; want TLS 1.3, verified", tc.reason, got.MinVersion, got.InsecureSkipVerify)
			}
			if (got.RootCAs != nil) != tc.wantCA || (tc.wantCA && !got.RootCAs.Equal(pki.CertPool())) {
				t.Errorf("%s: RootCAs %v, want the PKI's CA: %v", tc.reason, got.RootCAs, tc.wantCA)
			}
		})
	}
}

// TestTLSRedisWithPasswordFile talks to a redis-server that speaks only
// TLS 1.3 and requires a password, read from a file and re-read for new
// connections, so a rotated Secret takes effect without a restart.
func TestTLSRedisWithPasswordFile(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	pki, err := testenv.NewPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := testenv.StartLocalTLSRedis(ctx, dir, pki, "tls-redis-password")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	passwordFile := filepath.Join(dir, "password")
	if err := os.WriteFile(passwordFile, []byte("tls-redis-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c, err := redisx.New(srv.URL, redisx.Config{CAFile: pki.CAFile, PasswordFile: passwordFile})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping over TLS with the password file: %v", err)
	}

	// Without the private CA the server's certificate does not verify.
	untrusted, err := redisx.New(srv.URL, redisx.Config{PasswordFile: passwordFile, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer untrusted.Close()
	if err := untrusted.Ping(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Ping without the CA: got %v, want a certificate error", err)
	}
}
