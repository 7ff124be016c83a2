package redisx_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatcli/aiops/libs/redisx"
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
