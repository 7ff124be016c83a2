package grpcx_test

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"

	"github.com/chatcli/aiops/libs/grpcx"
)

func TestPeerConfigAddFlags(t *testing.T) {
	fs := flag.NewFlagSet("correlator", flag.ContinueOnError)
	var remediator, analyzer grpcx.PeerConfig
	remediator.AddFlags(fs, "remediator")
	analyzer.AddFlags(fs, "analyzer")

	for _, name := range []string{"address", "ca-file", "token-file", "tls-cert-file", "tls-key-file"} {
		for _, peer := range []string{"remediator", "analyzer"} {
			f := fs.Lookup(peer + "-" + name)
			if f == nil {
				t.Errorf("--%s-%s is not registered", peer, name)
				continue
			}
			if f.DefValue != "" {
				t.Errorf("--%s-%s defaults to %q; no peer flag has a default", peer, name, f.DefValue)
			}
		}
	}
	if usage := fs.Lookup("analyzer-address").Usage; !strings.Contains(usage, "dns:///analyzer.<namespace>.svc:<port>") {
		t.Errorf("--analyzer-address help does not show the dns:/// form: %q", usage)
	}
	if usage := fs.Lookup("analyzer-token-file").Usage; !strings.Contains(usage, "at least 32 bytes") {
		t.Errorf("--analyzer-token-file help does not state the minimum length: %q", usage)
	}

	err := fs.Parse([]string{
		"--remediator-address=dns:///remediator.chatcli.svc:9090",
		"--remediator-ca-file=/etc/grpc/ca.crt",
		"--remediator-token-file=/etc/grpc/token",
		"--analyzer-address=analyzer:9090",
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := grpcx.PeerConfig{Peer: "remediator", Address: "dns:///remediator.chatcli.svc:9090", CAFile: "/etc/grpc/ca.crt", TokenFile: "/etc/grpc/token"}
	if diff := cmp.Diff(want, remediator); diff != "" {
		t.Errorf("remediator config (-want +got):\n%s", diff)
	}
	if analyzer.Address != "analyzer:9090" || analyzer.Peer != "analyzer" {
		t.Errorf("analyzer config = %+v", analyzer)
	}
}

func TestPeerConfigValidate(t *testing.T) {
	valid := grpcx.PeerConfig{Peer: "watcher", Address: "dns:///watcher.chatcli.svc:9090", CAFile: "ca.crt", TokenFile: "token"}
	cases := map[string]struct {
		reason string
		mutate func(*grpcx.PeerConfig)
		want   []string
	}{
		"valid":              {reason: "the dns:/// form of a pool", mutate: func(*grpcx.PeerConfig) {}},
		"host and port":      {reason: "one address", mutate: func(p *grpcx.PeerConfig) { p.Address = "10.0.0.7:9090" }},
		"dns with authority": {reason: "a named resolver", mutate: func(p *grpcx.PeerConfig) { p.Address = "dns://10.96.0.10/watcher.chatcli.svc:9090" }},
		"mTLS":               {reason: "certificate and key together", mutate: func(p *grpcx.PeerConfig) { p.CertFile, p.KeyFile = "tls.crt", "tls.key" }},
		"nothing set": {
			reason: "every missing flag is reported at once",
			mutate: func(p *grpcx.PeerConfig) { *p = grpcx.PeerConfig{Peer: "watcher"} },
			want: []string{
				"--watcher-address is required",
				"--watcher-ca-file is required: calls to the watcher always use TLS",
				"--watcher-token-file is required: the watcher authenticates every call",
			},
		},
		"no port": {
			mutate: func(p *grpcx.PeerConfig) { p.Address = "dns:///watcher.chatcli.svc" },
			want:   []string{`--watcher-address "dns:///watcher.chatcli.svc": want host:port, such as dns:///remediator.chatcli.svc:9090`},
		},
		"two slashes": {
			mutate: func(p *grpcx.PeerConfig) { p.Address = "dns://watcher.chatcli.svc:9090" },
			want:   []string{`--watcher-address "dns://watcher.chatcli.svc:9090": a dns target needs three slashes: "dns:///host:port"`},
		},
		"other scheme": {
			mutate: func(p *grpcx.PeerConfig) { p.Address = "https://watcher:9090" },
			want:   []string{`--watcher-address "https://watcher:9090": scheme "https" is not supported: use dns:///host:port or host:port`},
		},
		"certificate without key": {
			mutate: func(p *grpcx.PeerConfig) { p.CertFile = "tls.crt" },
			want:   []string{"--watcher-tls-cert-file and --watcher-tls-key-file go together"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := valid
			tc.mutate(&p)
			var got []string
			if err := p.Validate(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: Validate (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestPeerConfigDial(t *testing.T) {
	pki := newPKI(t)
	ts := startServer(t, pki, nil)
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, testToken+"\n")

	p := grpcx.PeerConfig{Peer: "remediator", Address: ts.addr, CAFile: pki.CAFile, TokenFile: tokenFile}
	conn, err := p.Dial(logr.Discard())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer conn.Close()
	if err := call(conn, pingMethod); err != nil {
		t.Errorf("Ping: %v", err)
	}

	p.TokenFile = ""
	if _, err := p.Dial(logr.Discard()); err == nil || !strings.Contains(err.Error(), "--remediator-token-file is required") {
		t.Errorf("Dial without a token file: %v, want the Validate error", err)
	}
}
