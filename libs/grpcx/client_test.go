package grpcx_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

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

	servers := map[string]struct {
		reason string
		cfg    grpcx.ServerConfig
	}{
		"no certificate":   {reason: "TLS is mandatory", cfg: grpcx.ServerConfig{Token: testToken}},
		"no token":         {reason: "auth is mandatory", cfg: grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile}},
		"key mismatch":     {reason: "the key must match the certificate", cfg: grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Client.KeyFile, Token: testToken}},
		"client CA absent": {reason: "a configured client CA must load", cfg: grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, ClientCAFile: filepath.Join(pki.Dir, "missing.crt"), Token: testToken}},
		"client CA no PEM": {reason: "a client CA must hold certificates", cfg: grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, ClientCAFile: pki.Server.KeyFile, Token: testToken}},
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
		"no CA":            {reason: "TLS is mandatory", cfg: grpcx.ClientConfig{Token: testToken}},
		"certificate only": {reason: "a client certificate needs its key", cfg: grpcx.ClientConfig{CAFile: pki.CAFile, CertFile: pki.Client.CertFile}},
		"CA absent":        {reason: "the CA must load", cfg: grpcx.ClientConfig{CAFile: filepath.Join(pki.Dir, "missing.crt")}},
		"CA file and PEM":  {reason: "exactly one CA source", cfg: grpcx.ClientConfig{CAFile: pki.CAFile, CAPEM: caPEM}},
		"CA PEM garbage":   {reason: "CAPEM must hold certificates", cfg: grpcx.ClientConfig{CAPEM: []byte("not a certificate")}},
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

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		content string
		want    string
		wantErr bool
	}{
		"trailing newline": {content: "abc\n", want: "abc"},
		"blank":            {content: " \n", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := grpcx.ReadToken(path)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ReadToken = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
