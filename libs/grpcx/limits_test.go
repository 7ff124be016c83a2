package grpcx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

// upload sends payload to Upload and returns the error and how many times
// grpc entered Upload's handler, where the body is decoded, meanwhile.
func upload(conn *grpc.ClientConn, payload []byte, opts ...grpc.CallOption) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := uploads.Load()
	err := conn.Invoke(ctx, uploadMethod, wrapperspb.Bytes(payload), &emptypb.Empty{}, opts...)
	return uploads.Load() - before, err
}

// TestServerRefusesBeforeDecoding: a 4 MiB request without a valid token,
// or over the caller's rate limit, is refused from its headers; grpc never
// enters the handler, so the body is never decoded. The audit log still
// records the refusal.
func TestServerRefusesBeforeDecoding(t *testing.T) {
	pki := newPKI(t)
	big := make([]byte, 4<<20)

	cases := map[string]struct {
		reason  string
		token   string
		burst   int
		warmups int
		want    codes.Code
		wantRan int64
	}{
		"no token":    {reason: "no token, no decode", want: codes.Unauthenticated},
		"wrong token": {reason: "a wrong token, no decode", token: longToken("wrong"), want: codes.Unauthenticated},
		"rate limited": {reason: "a throttled caller, no decode, even with the right token",
			token: testToken, burst: 1, warmups: 1, want: codes.ResourceExhausted},
		"right token": {reason: "the control: an authenticated caller is decoded", token: testToken, want: codes.OK, wantRan: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, pki, func(c *grpcx.ServerConfig) {
				if tc.burst > 0 {
					c.RateLimitRPS, c.RateLimitBurst = 0.001, tc.burst
				}
			})
			conn := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: tc.token})
			for range tc.warmups {
				if err := call(conn, pingMethod); err != nil {
					t.Fatalf("warm-up Ping: %v", err)
				}
			}
			ran, err := upload(conn, big)
			if got := status.Code(err); got != tc.want {
				t.Errorf("%s: code = %v (%v), want %v", tc.reason, got, err, tc.want)
			}
			if ran != tc.wantRan {
				t.Errorf("%s: the handler ran %d times, want %d", tc.reason, ran, tc.wantRan)
			}
			if tc.want != codes.OK {
				entries := ts.logs.find(t, map[string]any{"msg": "Handled gRPC call", "method": uploadMethod, "code": tc.want.String()})
				if len(entries) != 1 || entries[0]["kind"] != "unary" {
					t.Errorf("want one unary audit entry of the refusal, got %v", entries)
				}
			}
		})
	}
}

// TestServerRefusesUnknownMethodsWithoutAToken: the tap answers before the
// method is looked up, so an anonymous caller cannot probe for services,
// and the audit log names no method it does not serve.
func TestServerRefusesUnknownMethodsWithoutAToken(t *testing.T) {
	pki := newPKI(t)
	ts := startServer(t, pki, nil)
	conn := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile})
	if got := status.Code(call(conn, "/no.such.Service/Method")); got != codes.Unauthenticated {
		t.Errorf("unknown method without a token: %v, want Unauthenticated", got)
	}
	if entries := ts.logs.find(t, map[string]any{"msg": "Handled gRPC call", "method": "unknown", "kind": "unknown"}); len(entries) != 1 {
		t.Errorf("want one audit entry for an unknown method, got %v", entries)
	}
	authed := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken})
	if got := status.Code(call(authed, "/no.such.Service/Method")); got != codes.Unimplemented {
		t.Errorf("unknown method with the token: %v, want Unimplemented", got)
	}
}

func TestServerRateLimitCarriesAReason(t *testing.T) {
	pki := newPKI(t)
	ts := startServer(t, pki, func(c *grpcx.ServerConfig) { c.RateLimitRPS, c.RateLimitBurst = 0.001, 1 })
	conn := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken})
	_ = call(conn, pingMethod)
	err := call(conn, pingMethod)
	if grpcx.Reason(err) != grpcx.ReasonRateLimited || grpcx.ErrorMetadata(err)["limit"] != "peer" {
		t.Errorf("throttled call: %v, reason %q, metadata %v; want %s with limit=peer", err, grpcx.Reason(err), grpcx.ErrorMetadata(err), grpcx.ReasonRateLimited)
	}
}

func TestServerMessageAndHeaderLimits(t *testing.T) {
	pki := newPKI(t)
	ts := startServer(t, pki, func(c *grpcx.ServerConfig) { c.MaxRecvMsgSize = 1024 })
	conn := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken})

	if _, err := upload(conn, make([]byte, 512)); err != nil {
		t.Errorf("a message under MaxRecvMsgSize: %v", err)
	}
	if _, err := upload(conn, make([]byte, 2048)); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a message over MaxRecvMsgSize: %v, want ResourceExhausted", err)
	}

	// Metadata over DefaultMaxHeaderListSize never reaches the handler.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "padding", strings.Repeat("x", grpcx.DefaultMaxHeaderListSize))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	before := uploads.Load()
	err := conn.Invoke(ctx, uploadMethod, wrapperspb.Bytes(nil), &emptypb.Empty{})
	if err == nil || uploads.Load() != before {
		t.Errorf("headers over MaxHeaderListSize: %v, handler runs %d; want an error and none", err, uploads.Load()-before)
	}
}

// TestDefaultMaxRecvMsgSizeHoldsTheLargestIngestBatch builds the largest
// IngestSignals request the watcher-bridge accepts, with every bounded
// field of every signal at its limit, and checks that it fits, with the
// headroom left for labels (which nothing bounds) that
// DefaultMaxRecvMsgSize documents.
func TestDefaultMaxRecvMsgSizeHoldsTheLargestIngestBatch(t *testing.T) {
	const (
		maxIngestBatch = 1000 // services/watcher-bridge/internal/grpcserver.MaxIngestBatch
		maxDescription = 4096 // libs/signals
		maxValue       = 64   // libs/signals
		maxKind        = 63   // libs/signals kindPattern
		maxNamespace   = 63   // DNS label
		maxName        = 253  // DNS subdomain
		uidLength      = 36   // a Kubernetes UID
	)
	longest := func(values []string) string {
		var l string
		for _, v := range values {
			if len(v) > len(l) {
				l = v
			}
		}
		return l
	}
	var types, sources, severities []string
	for _, v := range platformv1alpha1.SignalTypes {
		types = append(types, string(v))
	}
	for _, v := range platformv1alpha1.Sources {
		sources = append(sources, string(v))
	}
	for _, v := range platformv1alpha1.SignalSeverities {
		severities = append(severities, string(v))
	}
	signal := &watcherv1.Signal{
		SignalType:  longest(types),
		Source:      longest(sources),
		Severity:    longest(severities),
		Resource:    &commonv1.ResourceRef{Kind: strings.Repeat("K", maxKind), Name: strings.Repeat("n", maxName), Namespace: strings.Repeat("s", maxNamespace), Uid: strings.Repeat("u", uidLength)},
		Description: strings.Repeat("d", maxDescription),
		DetectedAt:  &timestamppb.Timestamp{Seconds: 1<<63 - 1, Nanos: 999_999_999},
		Value:       strings.Repeat("v", maxValue),
		Threshold:   strings.Repeat("t", maxValue),
	}
	req := &watcherv1.IngestSignalsRequest{}
	for range maxIngestBatch {
		req.Signals = append(req.Signals, signal)
	}
	size := proto.Size(req)
	perSignal := size / maxIngestBatch
	headroom := grpcx.DefaultMaxRecvMsgSize/maxIngestBatch - perSignal
	t.Logf("largest batch without labels: %d bytes (%d per signal); headroom per signal for labels: %d bytes", size, perSignal, headroom)
	if headroom < 3<<10 {
		t.Errorf("DefaultMaxRecvMsgSize %d leaves %d bytes per signal for labels, want at least 3 KiB", grpcx.DefaultMaxRecvMsgSize, headroom)
	}
}
