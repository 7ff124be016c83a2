package grpcx_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/chatcli/aiops/libs/grpcx"
)

func TestDNSTarget(t *testing.T) {
	cases := map[string]struct {
		host string
		port int
		want string
	}{
		"service name": {host: "analyzer.chatcli.svc", port: 9090, want: "dns:///analyzer.chatcli.svc:9090"},
		"IPv6 literal": {host: "::1", port: 9090, want: "dns:///[::1]:9090"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := grpcx.DNSTarget(tc.host, tc.port); got != tc.want {
				t.Errorf("DNSTarget(%q, %d) = %q, want %q", tc.host, tc.port, got, tc.want)
			}
		})
	}
}

func TestDialDNSTarget(t *testing.T) {
	// localhost resolves to 127.0.0.1 and maybe ::1; the server listens on
	// 127.0.0.1 only, and round_robin uses whichever address is up.
	pki := newPKI(t)
	ts := startServer(t, pki, nil)
	_, portText, err := net.SplitHostPort(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatal(err)
	}
	conn := dial(t, grpcx.DNSTarget("localhost", port), grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken})
	if err := call(conn, pingMethod); err != nil {
		t.Errorf("Ping through %s: %v", grpcx.DNSTarget("localhost", port), err)
	}
}

func TestDialCAPEM(t *testing.T) {
	// A CA given as bytes (read from a Secret, say) verifies the server
	// just like the same CA in a file.
	pki := newPKI(t)
	ts := startServer(t, pki, nil)
	caPEM, err := os.ReadFile(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	conn := dial(t, ts.addr, grpcx.ClientConfig{CAPEM: caPEM, Token: testToken})
	if err := call(conn, pingMethod); err != nil {
		t.Errorf("Ping with CAPEM: %v", err)
	}

	// A different CA in CAPEM must not verify the server.
	other := newPKI(t)
	otherPEM, err := os.ReadFile(other.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	conn = dial(t, ts.addr, grpcx.ClientConfig{CAPEM: otherPEM, Token: testToken})
	if err := call(conn, pingMethod); status.Code(err) != codes.Unavailable {
		t.Errorf("Ping with a foreign CAPEM: got %v, want Unavailable", err)
	}
}

func TestBearerTokenNeedsTLS(t *testing.T) {
	_, err := grpc.NewClient("127.0.0.1:1",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcx.BearerToken(testToken)))
	if err == nil {
		t.Error("a client sending the token without TLS was created")
	}
}

func TestConfigValidation(t *testing.T) {
	pki := newPKI(t)
	caPEM, err := os.ReadFile(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	shortTokenFile := filepath.Join(t.TempDir(), "short-token")
	writeFile(t, shortTokenFile, "short-token\n")

	servers := map[string]struct {
		reason string
		cfg    grpcx.ServerConfig
	}{
		"no certificate":   {reason: "TLS is mandatory", cfg: grpcx.ServerConfig{Token: testToken}},
		"no token":         {reason: "auth is mandatory", cfg: grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile}},
		"key mismatch":     {reason: "the key must match the certificate", cfg: grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Client.KeyFile, Token: testToken}},
		"client CA absent": {reason: "a configured client CA must load", cfg: grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, ClientCAFile: filepath.Join(pki.Dir, "missing.crt"), Token: testToken}},
		"client CA no PEM": {reason: "a client CA must hold certificates", cfg: grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, ClientCAFile: pki.Server.KeyFile, Token: testToken}},
		"short token":      {reason: "a token must have MinTokenLength bytes", cfg: grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, Token: testToken[:grpcx.MinTokenLength-1]}},
	}
	for name, tc := range servers {
		t.Run("server/"+name, func(t *testing.T) {
			if _, err := grpcx.NewServer(tc.cfg); err == nil {
				t.Errorf("%s: NewServer accepted %+v", tc.reason, tc.cfg)
			}
		})
	}

	clients := map[string]struct {
		reason string
		cfg    grpcx.ClientConfig
	}{
		"no CA":             {reason: "TLS is mandatory", cfg: grpcx.ClientConfig{Token: testToken}},
		"certificate only":  {reason: "a client certificate needs its key", cfg: grpcx.ClientConfig{CAFile: pki.CAFile, CertFile: pki.Client.CertFile}},
		"CA absent":         {reason: "the CA must load", cfg: grpcx.ClientConfig{CAFile: filepath.Join(pki.Dir, "missing.crt")}},
		"CA file and PEM":   {reason: "exactly one CA source", cfg: grpcx.ClientConfig{CAFile: pki.CAFile, CAPEM: caPEM}},
		"CA PEM garbage":    {reason: "CAPEM must hold certificates", cfg: grpcx.ClientConfig{CAPEM: []byte("not a certificate")}},
		"token and file":    {reason: "exactly one token source", cfg: grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken, TokenFile: shortTokenFile}},
		"token file absent": {reason: "the token file must load", cfg: grpcx.ClientConfig{CAFile: pki.CAFile, TokenFile: filepath.Join(pki.Dir, "missing-token")}},
		"token file short":  {reason: "the token file's token must be long enough", cfg: grpcx.ClientConfig{CAFile: pki.CAFile, TokenFile: shortTokenFile}},
	}
	for name, tc := range clients {
		t.Run("client/"+name, func(t *testing.T) {
			if conn, err := grpcx.Dial("127.0.0.1:1", tc.cfg); err == nil {
				conn.Close()
				t.Errorf("%s: Dial accepted %+v", tc.reason, tc.cfg)
			}
		})
	}
}

// TestClientPicksUpARotatedTokenFile rotates a client's token file while
// the server switches to accepting only the new token: the next call
// carries the new token and succeeds, over the same connection, without a
// redial.
func TestClientPicksUpARotatedTokenFile(t *testing.T) {
	pki := newPKI(t)
	oldToken, newToken := longToken("old"), longToken("new")
	var accepted atomic.Pointer[grpcx.Tokens]
	accepted.Store(&grpcx.Tokens{Current: oldToken})
	ts := startServer(t, pki, func(c *grpcx.ServerConfig) {
		c.Token, c.TokenFunc = "", func() grpcx.Tokens { return *accepted.Load() }
	})

	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, oldToken+"\n")
	// A tiny interval makes every call look at the file, so "the next
	// call" below is exact rather than eventual.
	conn := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, TokenFile: tokenFile, CertReloadInterval: time.Nanosecond})
	if err := call(conn, pingMethod); err != nil {
		t.Fatalf("Ping with the old token: %v", err)
	}

	accepted.Store(&grpcx.Tokens{Current: newToken})
	if got := status.Code(call(conn, pingMethod)); got != codes.Unauthenticated {
		t.Fatalf("Ping with the old token after the server moved on: %s, want Unauthenticated", got)
	}
	writeFile(t, tokenFile, newToken+"\n")
	if err := call(conn, pingMethod); err != nil {
		t.Errorf("Ping after the token file was rotated: %v", err)
	}

	// A broken file keeps the last good token.
	writeFile(t, tokenFile, "\n")
	if err := call(conn, pingMethod); err != nil {
		t.Errorf("Ping after the token file was emptied: %v", err)
	}
}

// TestClientSendsTheCurrentToken: of a token file's two lines the client
// sends the first, the current token; the second is only for servers.
func TestClientSendsTheCurrentToken(t *testing.T) {
	pki := newPKI(t)
	current, next := longToken("current"), longToken("next")
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, current+"\n"+next+"\n")

	cases := map[string]struct {
		serverToken string
		want        codes.Code
	}{
		"server accepts the current token": {serverToken: current, want: codes.OK},
		"server accepts the next token":    {serverToken: next, want: codes.Unauthenticated},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, pki, func(c *grpcx.ServerConfig) { c.Token = tc.serverToken })
			conn := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, TokenFile: tokenFile})
			if got := status.Code(call(conn, pingMethod)); got != tc.want {
				t.Errorf("code = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestBearerTokenFile(t *testing.T) {
	pki := newPKI(t)
	ts := startServer(t, pki, nil)
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, testToken)
	creds, err := grpcx.BearerTokenFile(tokenFile, logr.Discard())
	if err != nil {
		t.Fatalf("BearerTokenFile: %v", err)
	}
	conn := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Options: []grpc.DialOption{grpc.WithPerRPCCredentials(creds)}})
	if err := call(conn, pingMethod); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if _, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(creds)); err == nil {
		t.Error("a client sending the token file's token without TLS was created")
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	current, next := longToken("current"), longToken("next")
	cases := map[string]struct {
		content string
		want    string
		wantErr string
	}{
		"trailing newline":   {content: current + "\n", want: current},
		"current and next":   {content: current + "\n" + next + "\n", want: current},
		"blank lines around": {content: "\n  " + current + "  \n\n", want: current},
		"blank":              {content: " \n", wantErr: "token file is empty"},
		"short":              {content: "abc\n", wantErr: "current token (line 1): token is 3 bytes, shorter than the minimum of 32"},
		"short next":         {content: current + "\nabc\n", wantErr: "next token (line 2): token is 3 bytes, shorter than the minimum of 32"},
		"three tokens":       {content: current + "\n" + next + "\n" + next + "\n", wantErr: "token file holds 3 tokens"},
		"space in a token":   {content: current + " " + next, wantErr: "token holds a space, control or non-ASCII byte"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := grpcx.ReadToken(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("ReadToken error = %v, want one containing %q", err, tc.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), "abc") {
					t.Errorf("the error shows the token: %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ReadToken = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
