package grpcx_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/testenv"
)

func TestServerRequiresTLS13(t *testing.T) {
	pki := newPKI(t)
	ts := startServer(t, pki, nil)

	cases := map[string]struct {
		reason     string
		maxVersion uint16
		want       codes.Code
	}{
		"TLS 1.2 client": {reason: "servers accept TLS 1.3 only", maxVersion: tls.VersionTLS12, want: codes.Unavailable},
		"TLS 1.3 client": {reason: "the same client with TLS 1.3 gets through", maxVersion: tls.VersionTLS13, want: codes.OK},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tlsConfig := &tls.Config{RootCAs: pki.CertPool(), MaxVersion: tc.maxVersion}
			conn := dialRaw(t, ts.addr, tlsConfig, grpc.WithPerRPCCredentials(grpcx.BearerToken(testToken)))
			if got := status.Code(call(conn, pingMethod)); got != tc.want {
				t.Errorf("%s: Ping code = %v, want %v", tc.reason, got, tc.want)
			}

			// The handshake itself must fail, not some later step.
			raw, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: pki.CertPool(), MaxVersion: tc.maxVersion, NextProtos: []string{"h2"}})
			if (err != nil) != (tc.want != codes.OK) {
				t.Errorf("%s: TLS handshake error = %v", tc.reason, err)
			}
			if err == nil {
				raw.Close()
			}
		})
	}
}

func TestServerBearerToken(t *testing.T) {
	pki := newPKI(t)
	ts := startServer(t, pki, nil)

	cases := map[string]struct {
		reason    string
		dialToken string
		header    string
		method    string
		want      codes.Code
	}{
		"missing token":            {reason: "every call needs a token", method: pingMethod, want: codes.Unauthenticated},
		"wrong token":              {reason: "a wrong token is refused", dialToken: "wrong-token", method: pingMethod, want: codes.Unauthenticated},
		"token prefix":             {reason: "a prefix of the token is refused", dialToken: testToken[:4], method: pingMethod, want: codes.Unauthenticated},
		"right token":              {reason: "the configured token works", dialToken: testToken, method: pingMethod, want: codes.OK},
		"token without scheme":     {reason: "the Bearer scheme is required", header: testToken, method: pingMethod, want: codes.Unauthenticated},
		"lower-case scheme":        {reason: "the scheme is case insensitive", header: "bearer " + testToken, method: pingMethod, want: codes.OK},
		"stream without token":     {reason: "streams are checked too", method: countMethod, want: codes.Unauthenticated},
		"stream with right token":  {reason: "streams accept the token", dialToken: testToken, method: countMethod, want: codes.OK},
		"health check, no token":   {reason: "probes need no secret", method: healthCheck, want: codes.OK},
		"health list, no token":    {reason: "List names every service, so it needs the token", method: healthList, want: codes.Unauthenticated},
		"health list, right token": {reason: "List works with the token", dialToken: testToken, method: healthList, want: codes.OK},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := grpcx.ClientConfig{CAFile: pki.CAFile, Token: tc.dialToken}
			if tc.header != "" {
				cfg.Options = []grpc.DialOption{grpc.WithPerRPCCredentials(rawAuthorization(tc.header))}
			}
			conn := dial(t, ts.addr, cfg)
			if got := status.Code(call(conn, tc.method)); got != tc.want {
				t.Errorf("%s: code = %v, want %v", tc.reason, got, tc.want)
			}
		})
	}
}

func TestServerMutualTLS(t *testing.T) {
	pki := newPKI(t)
	ts := startServer(t, pki, func(c *grpcx.ServerConfig) { c.ClientCAFile = pki.CAFile })
	foreign := newPKI(t)

	cases := map[string]struct {
		reason    string
		cert, key string
		want      codes.Code
	}{
		"no client certificate":        {reason: "a client CA makes the certificate mandatory", want: codes.Unavailable},
		"certificate of another CA":    {reason: "only the configured CA is trusted", cert: foreign.Client.CertFile, key: foreign.Client.KeyFile, want: codes.Unavailable},
		"certificate of the client CA": {reason: "a signed client certificate works", cert: pki.Client.CertFile, key: pki.Client.KeyFile, want: codes.OK},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			conn := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, CertFile: tc.cert, KeyFile: tc.key, Token: testToken})
			if got := status.Code(call(conn, pingMethod)); got != tc.want {
				t.Errorf("%s: code = %v, want %v", tc.reason, got, tc.want)
			}
		})
	}
}

func TestServerReloadsRotatedCertificate(t *testing.T) {
	pki := newPKI(t)
	ts := startServer(t, pki, func(c *grpcx.ServerConfig) { c.CertReloadInterval = grpcx.DefaultCertReloadInterval / 100 })

	before, err := servedCertificate(t, ts, pki)
	if err != nil {
		t.Fatalf("first connection: %v", err)
	}
	if before.SerialNumber.Cmp(pki.Server.Certificate.SerialNumber) != 0 {
		t.Fatalf("served serial %v, want the initial leaf %v", before.SerialNumber, pki.Server.Certificate.SerialNumber)
	}
	// An open connection keeps working through the rotation.
	kept := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken})
	if err := call(kept, pingMethod); err != nil {
		t.Fatalf("Ping before rotation: %v", err)
	}

	// Overwrite server.crt and server.key with a new leaf of the same CA,
	// one file after the other, as a careless rotation would.
	rotated, err := pki.IssueServer("server-rotated")
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	for _, move := range [][2]string{{rotated.CertFile, pki.Server.CertFile}, {rotated.KeyFile, pki.Server.KeyFile}} {
		if err := os.Rename(move[0], move[1]); err != nil {
			t.Fatalf("rotate: %v", err)
		}
	}

	eventually(t, "a new connection sees the rotated certificate", func() bool {
		cert, err := servedCertificate(t, ts, pki)
		return err == nil && cert.SerialNumber.Cmp(rotated.Certificate.SerialNumber) == 0
	})
	after, err := servedCertificate(t, ts, pki)
	if err != nil {
		t.Fatalf("connection after rotation: %v", err)
	}
	if after.Subject.CommonName != "server-rotated" {
		t.Errorf("served CN %q, want server-rotated", after.Subject.CommonName)
	}
	if err := call(kept, pingMethod); err != nil {
		t.Errorf("Ping on the connection opened before rotation: %v", err)
	}
}

func TestServerRecoversFromPanics(t *testing.T) {
	pki := newPKI(t)
	ts := startServer(t, pki, nil)
	conn := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken})

	for _, method := range []string{panicMethod, panicStreamMethod} {
		t.Run(method, func(t *testing.T) {
			if got := status.Code(call(conn, method)); got != codes.Internal {
				t.Errorf("code = %v, want Internal", got)
			}
			if err := call(conn, pingMethod); err != nil {
				t.Errorf("Ping after the panic: %v", err)
			}
			if len(ts.logs.find(t, map[string]any{"msg": "Recovered from panic in gRPC handler", "method": method})) == 0 {
				t.Errorf("no log of the recovered panic in %q", ts.logs.raw())
			}
		})
	}
}

func TestServerAuditLog(t *testing.T) {
	pki := newPKI(t)

	cases := map[string]struct {
		reason   string
		mTLS     bool
		wantPeer string
	}{
		"TLS peer":  {reason: "without mTLS the peer is its IP, without port", wantPeer: "ip:127.0.0.1"},
		"mTLS peer": {reason: "with mTLS the peer is its certificate CN", mTLS: true, wantPeer: "cn:" + testenv.DefaultClientCN},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken}
			ts := startServer(t, pki, func(c *grpcx.ServerConfig) {
				if tc.mTLS {
					c.ClientCAFile = pki.CAFile
				}
			})
			if tc.mTLS {
				cfg.CertFile, cfg.KeyFile = pki.Client.CertFile, pki.Client.KeyFile
			}
			conn := dial(t, ts.addr, cfg)
			if err := call(conn, pingMethod); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			entries := ts.logs.find(t, map[string]any{"msg": "Handled gRPC call", "method": pingMethod})
			if len(entries) != 1 {
				t.Fatalf("want one audit entry for Ping, got %v", entries)
			}
			got := map[string]any{"logger": entries[0]["logger"], "peer": entries[0]["peer"], "code": entries[0]["code"], "kind": entries[0]["kind"]}
			want := map[string]any{"logger": "grpc/audit", "peer": tc.wantPeer, "code": "OK", "kind": "unary"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: audit entry (-want +got):\n%s", tc.reason, diff)
			}
			if _, ok := entries[0]["duration"]; !ok {
				t.Errorf("audit entry has no duration: %v", entries[0])
			}
			for _, line := range ts.logs.raw() {
				if strings.Contains(line, testToken) {
					t.Errorf("log line leaks the token: %s", line)
				}
			}
		})
	}
}

// TestServerPicksUpARotatedToken rotates the token file under a running
// server through the three steps Tokens documents: while the file holds a
// next token both are accepted, so no caller is refused at any step; once
// the old token leaves the file it is refused, without a restart. An
// emptied or invalid file keeps the last good tokens rather than locking
// every caller out.
func TestServerPicksUpARotatedToken(t *testing.T) {
	pki := newPKI(t)
	oldToken, newToken := longToken("old"), longToken("new")
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, oldToken+"\n")
	tokens, err := grpcx.WatchTokenFile(tokenFile, logr.Discard())
	if err != nil {
		t.Fatalf("WatchTokenFile: %v", err)
	}
	ts := startServer(t, pki, func(c *grpcx.ServerConfig) { c.Token, c.TokenFunc = "", tokens })
	callWith := func(tok string) codes.Code {
		return status.Code(call(dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: tok}), pingMethod))
	}
	accepted := func(want map[string]codes.Code) func() bool {
		return func() bool {
			for tok, code := range want {
				if callWith(tok) != code {
					return false
				}
			}
			return true
		}
	}
	if got := callWith(oldToken); got != codes.OK {
		t.Fatalf("old token before rotation: %s", got)
	}

	steps := []struct {
		reason  string
		content string
		want    map[string]codes.Code
	}{
		{reason: "step 1: the next token is accepted next to the current one", content: oldToken + "\n" + newToken + "\n",
			want: map[string]codes.Code{oldToken: codes.OK, newToken: codes.OK}},
		{reason: "step 2: swapped, both are still accepted", content: newToken + "\n" + oldToken + "\n",
			want: map[string]codes.Code{oldToken: codes.OK, newToken: codes.OK}},
		{reason: "step 3: the old token is refused", content: newToken,
			want: map[string]codes.Code{oldToken: codes.Unauthenticated, newToken: codes.OK}},
	}
	before := map[string]codes.Code{oldToken: codes.OK}
	for _, s := range steps {
		writeFile(t, tokenFile, s.content)
		// No gap: a token accepted before and after the step works at
		// once, whether the server has read the new file yet or not.
		for tok, code := range s.want {
			if was, ok := before[tok]; ok && was == codes.OK && code == codes.OK {
				if got := callWith(tok); got != codes.OK {
					t.Errorf("%s: a token accepted on both sides of the step was refused: %s", s.reason, got)
				}
			}
		}
		eventually(t, s.reason, accepted(s.want))
		before = s.want
	}

	for _, broken := range []string{"\n", "short\n"} {
		writeFile(t, tokenFile, broken)
		time.Sleep(2 * grpcx.DefaultCertReloadInterval)
		if got := callWith(newToken); got != codes.OK {
			t.Errorf("a token file holding %q must keep the last good token: %s", broken, got)
		}
	}
}

// TestServerRefusesEveryoneWhenTheTokenIsEmpty: a token source that loses
// its token must not let a bare "Bearer " through.
func TestServerRefusesEveryoneWhenTheTokenIsEmpty(t *testing.T) {
	pki := newPKI(t)
	ts := startServer(t, pki, func(c *grpcx.ServerConfig) { c.Token, c.TokenFunc = "", func() grpcx.Tokens { return grpcx.Tokens{} } })
	for _, header := range []string{"Bearer  ", "Bearer x"} {
		conn := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Options: []grpc.DialOption{grpc.WithPerRPCCredentials(rawAuthorization(header))}})
		if got := status.Code(call(conn, pingMethod)); got != codes.Unauthenticated {
			t.Errorf("header %q: %s, want Unauthenticated", header, got)
		}
	}
}
