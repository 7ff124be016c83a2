package grpcx_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chatcli/aiops/libs/grpcx"
)

func TestServerRateLimitsPerPeer(t *testing.T) {
	pki := newPKI(t)
	second, err := pki.IssueClient("client-b", "second-client")
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}

	cases := map[string]struct {
		reason string
		mTLS   bool
		// flooder and other are the two peers' client configs.
		flooder, other grpcx.ClientConfig
	}{
		"peers keyed by IP": {
			reason:  "without mTLS a peer is its source IP",
			flooder: grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken, Options: []grpc.DialOption{fromIP("127.0.0.1")}},
			other:   grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken, Options: []grpc.DialOption{fromIP("127.0.0.2")}},
		},
		"peers keyed by certificate CN": {
			reason:  "with mTLS a peer is its certificate, even from the same IP",
			mTLS:    true,
			flooder: grpcx.ClientConfig{CAFile: pki.CAFile, CertFile: pki.Client.CertFile, KeyFile: pki.Client.KeyFile, Token: testToken},
			other:   grpcx.ClientConfig{CAFile: pki.CAFile, CertFile: second.CertFile, KeyFile: second.KeyFile, Token: testToken},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// A bucket of three that refills once in 1000 s: nothing refills
			// during the test, so the outcome does not depend on timing.
			ts := startServer(t, pki, func(c *grpcx.ServerConfig) {
				c.RateLimitRPS, c.RateLimitBurst = 0.001, 3
				if tc.mTLS {
					c.ClientCAFile = pki.CAFile
				}
			})
			flooder := dial(t, ts.addr, tc.flooder)
			var got []codes.Code
			for range 5 {
				got = append(got, status.Code(call(flooder, pingMethod)))
			}
			want := []codes.Code{codes.OK, codes.OK, codes.OK, codes.ResourceExhausted, codes.ResourceExhausted}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: flooder's codes (-want +got):\n%s", tc.reason, diff)
			}

			// The bucket belongs to the peer, not to its connection or port.
			reconnected := dial(t, ts.addr, tc.flooder)
			if got := status.Code(call(reconnected, pingMethod)); got != codes.ResourceExhausted {
				t.Errorf("%s: flooder's new connection got %v, want ResourceExhausted", tc.reason, got)
			}

			other := dial(t, ts.addr, tc.other)
			if err := call(other, pingMethod); err != nil {
				t.Errorf("%s: the other peer was limited too: %v", tc.reason, err)
			}
			// Streams draw from the same bucket.
			if got := status.Code(call(flooder, countMethod)); got != codes.ResourceExhausted {
				t.Errorf("flooder's stream code = %v, want ResourceExhausted", got)
			}
		})
	}
}
