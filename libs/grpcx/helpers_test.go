package grpcx_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/testenv"
)

const (
	// testToken passes grpcx.ValidateToken: 32 bytes or more.
	testToken = "s3cret-test-token-of-32-bytes-at-least"

	pingMethod        = "/grpcx.test.Probe/Ping"
	panicMethod       = "/grpcx.test.Probe/Panic"
	countMethod       = "/grpcx.test.Probe/Count"
	panicStreamMethod = "/grpcx.test.Probe/PanicStream"
	refuseMethod      = "/grpcx.test.Probe/Refuse"
	uploadMethod      = "/grpcx.test.Probe/Upload"
	healthCheck       = "/grpc.health.v1.Health/Check"
	healthList        = "/grpc.health.v1.Health/List"
)

// probeService is a tiny hand-written service, so the tests need no
// generated code: Ping answers, Count streams three messages, the Panic
// methods panic, Refuse fails with refuseError, and Upload takes a
// BytesValue and counts in uploads how often grpc entered its handler,
// which is where a request body is decoded.
var probeService = grpc.ServiceDesc{
	ServiceName: "grpcx.test.Probe",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Ping", Handler: probeUnary(pingMethod, func() error { return nil })},
		{MethodName: "Panic", Handler: probeUnary(panicMethod, func() error { panic("probe panicked") })},
		{MethodName: "Refuse", Handler: probeUnary(refuseMethod, func() error { return refuseError })},
		{MethodName: "Upload", Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			uploads.Add(1)
			in := new(wrapperspb.BytesValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			handler := func(context.Context, any) (any, error) { return &emptypb.Empty{}, nil }
			if interceptor == nil {
				return handler(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: uploadMethod}, handler)
		}},
	},
	Streams: []grpc.StreamDesc{
		{StreamName: "Count", ServerStreams: true, Handler: func(_ any, stream grpc.ServerStream) error {
			for range 3 {
				if err := stream.SendMsg(&emptypb.Empty{}); err != nil {
					return err
				}
			}
			return nil
		}},
		{StreamName: "PanicStream", ServerStreams: true, Handler: func(any, grpc.ServerStream) error {
			panic("probe stream panicked")
		}},
	},
}

// uploads counts the calls of Upload whose handler grpc entered.
var uploads atomic.Int64

// refuseError is what Refuse returns: a machine-readable error.
var refuseError = grpcx.Error(codes.FailedPrecondition, grpcx.ReasonAttemptsExhausted,
	"issue web-oom used its 3 remediation attempts", map[string]string{"max_attempts": "3", "issue": "web-oom"})

func probeUnary(fullMethod string, body func() error) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		in := new(emptypb.Empty)
		if err := dec(in); err != nil {
			return nil, err
		}
		handler := func(context.Context, any) (any, error) {
			if err := body(); err != nil {
				return nil, err
			}
			return &emptypb.Empty{}, nil
		}
		if interceptor == nil {
			return handler(ctx, in)
		}
		return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}, handler)
	}
}

// call runs one RPC of method and returns its error.
func call(conn *grpc.ClientConn, method string, opts ...grpc.CallOption) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch method {
	case healthCheck:
		_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, opts...)
		return err
	case healthList:
		_, err := healthpb.NewHealthClient(conn).List(ctx, &healthpb.HealthListRequest{}, opts...)
		return err
	case countMethod, panicStreamMethod:
		stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method, opts...)
		if err != nil {
			return err
		}
		if err := stream.SendMsg(&emptypb.Empty{}); err != nil {
			return err
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
		for {
			err := stream.RecvMsg(&emptypb.Empty{})
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	default:
		return conn.Invoke(ctx, method, &emptypb.Empty{}, &emptypb.Empty{}, opts...)
	}
}

// testServer is a grpcx server with the probe service on 127.0.0.1.
type testServer struct {
	addr     string
	server   *grpcx.Server
	registry *prometheus.Registry
	logs     *logSink
}

func newPKI(t *testing.T) *testenv.PKI {
	t.Helper()
	pki, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatalf("NewPKI: %v", err)
	}
	return pki
}

// startServer serves until the test ends. mutate adjusts the default
// config: TLS without mTLS, testToken, a fresh registry and a log sink.
func startServer(t *testing.T, pki *testenv.PKI, mutate func(*grpcx.ServerConfig)) *testServer {
	t.Helper()
	ts := &testServer{registry: prometheus.NewRegistry(), logs: &logSink{}}
	cfg := grpcx.ServerConfig{
		CertFile:   pki.Server.CertFile,
		KeyFile:    pki.Server.KeyFile,
		Token:      testToken,
		Registerer: ts.registry,
		Logger:     ts.logs.logger(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := grpcx.NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	srv.RegisterService(&probeService, struct{}{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	ts.addr, ts.server = lis.Addr().String(), srv
	return ts
}

// dial connects to target with grpcx.Dial and closes the client when the
// test ends.
func dial(t *testing.T, target string, cfg grpcx.ClientConfig) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcx.Dial(target, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// dialRaw connects with hand-made TLS settings, to play a client that
// grpcx.Dial would never build.
func dialRaw(t *testing.T, target string, tlsConfig *tls.Config, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig))}, opts...)
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// fromIP makes the client connect from a given loopback address; Linux
// routes all of 127.0.0.0/8 to lo, so 127.0.0.2 is a second peer.
func fromIP(ip string) grpc.DialOption {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return dialer.DialContext(ctx, "tcp", addr)
	})
}

// servedCertificate pings over a new connection and returns the leaf
// certificate the server presented on it.
func servedCertificate(t *testing.T, ts *testServer, pki *testenv.PKI) (*x509.Certificate, error) {
	t.Helper()
	conn, err := grpcx.Dial(ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var p peer.Peer
	if err := call(conn, pingMethod, grpc.Peer(&p)); err != nil {
		return nil, err
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return nil, errors.New("no TLS peer certificate")
	}
	return info.State.PeerCertificates[0], nil
}

// eventually polls cond until it holds, failing the test after a generous
// deadline; the deadline is a safety net, not part of what is tested.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writeFile replaces path with content by writing a new file and renaming
// it over the old one, as the kubelet swaps a Secret volume.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// longToken returns a valid token, distinct for each name.
func longToken(name string) string {
	return name + "-" + strings.Repeat("x", grpcx.MinTokenLength)
}

// rawAuthorization sends header as the authorization metadata verbatim.
type rawAuthorization string

func (h rawAuthorization) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": string(h)}, nil
}

func (h rawAuthorization) RequireTransportSecurity() bool { return true }

// logSink keeps the JSON lines a logger writes.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) logger() logr.Logger {
	return funcr.NewJSON(func(obj string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.lines = append(s.lines, obj)
	}, funcr.Options{})
}

func (s *logSink) raw() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// find returns the entries whose fields include every pair in match.
func (s *logSink) find(t *testing.T, match map[string]any) []map[string]any {
	t.Helper()
	var found []map[string]any
	for _, line := range s.raw() {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		ok := true
		for k, v := range match {
			if entry[k] != v {
				ok = false
				break
			}
		}
		if ok {
			found = append(found, entry)
		}
	}
	return found
}
