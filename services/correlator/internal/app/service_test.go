package app

import (
	"flag"
	"io"
	"testing"

	"github.com/chatcli/aiops/libs/bootstrap"
)

// TestIncidentAPIFlags: the REST API's flags parse next to every existing
// one, and what would open it to the world is refused; so is an Issue
// retention shorter than the Anomalies'.
func TestIncidentAPIFlags(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "")
	base := []string{"--grpc-tls-cert-file=c", "--grpc-tls-key-file=k", "--grpc-token-file=t",
		"--remediator-address=r:9090", "--remediator-ca-file=ca", "--remediator-token-file=t",
		"--watcher-address=w:9090", "--watcher-ca-file=ca", "--watcher-token-file=t"}
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults with a namespace", []string{"--incident-api-keys-namespace=chatcli"}, true},
		{"disabled needs no namespace", []string{"--incident-api-bind-address=0"}, true},
		{"no namespace: found at setup", nil, true},
		{"origins", []string{"--incident-api-keys-namespace=chatcli", "--incident-api-cors-origins=https://a.example.com, http://localhost:3000"}, true},
		{"every origin is refused", []string{"--incident-api-keys-namespace=chatcli", "--incident-api-cors-origins=*"}, false},
		{"rate limit must be positive", []string{"--incident-api-keys-namespace=chatcli", "--incident-api-rate-limit-rps=0"}, false},
		{"audit path", []string{"--incident-api-keys-namespace=chatcli", "--audit-log-path=/tmp/audit.jsonl"}, true},
		{"issues kept longer than their Anomalies", []string{"--incident-api-keys-namespace=chatcli", "--issue-retention=720h", "--anomaly-retention=168h"}, true},
		{"issues may not go before their Anomalies", []string{"--incident-api-keys-namespace=chatcli", "--issue-retention=24h", "--anomaly-retention=168h"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("correlator", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			_, err := bootstrap.ParseCommandLine(Service(), fs, append(append([]string{}, base...), tc.args...))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
