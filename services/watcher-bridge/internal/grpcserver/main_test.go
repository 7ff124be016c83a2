package grpcserver

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	"google.golang.org/grpc"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/signals"
	"github.com/chatcli/aiops/libs/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) {
	// The caches log through controller-runtime; the tests do not read it.
	ctrllog.SetLogger(logr.Discard())
	testenv.Run(m, &env, testenv.Options{WithoutRedis: true})
}

const testToken = "watcher-bridge-grpc-test-token-of-32-bytes"

// The compile-time proof that a controller-runtime informer fits.
var _ Informer = cache.Informer(nil)

// newG returns a Gomega whose Eventually allows for a busy API server.
func newG(t *testing.T) *WithT {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(10 * time.Millisecond)
	return g
}

// testServer is a grpcx server (TLS 1.3, bearer token) on 127.0.0.1.
type testServer struct {
	addr string
	pki  *testenv.PKI
}

// serve registers w and c on a new grpcx server that runs until the test
// ends.
func serve(t *testing.T, w *WatcherServer, c *ChatCLICompatServer) *testServer {
	t.Helper()
	pki, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatalf("NewPKI: %v", err)
	}
	srv, err := grpcx.NewServer(grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, Token: testToken})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	Register(srv, w, c)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return &testServer{addr: lis.Addr().String(), pki: pki}
}

// dial opens a client connection with the token; it closes when the test
// ends.
func (s *testServer) dial(t *testing.T, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcx.Dial(s.addr, grpcx.ClientConfig{CAFile: s.pki.CAFile, Token: testToken, Options: opts})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// startCache runs a controller-runtime cache on the test API server until
// the test ends, with a synced Anomaly informer.
func startCache(t *testing.T) (cache.Cache, cache.Informer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := cache.New(env.Config, cache.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatalf("cache.New: %v", err)
	}
	informer, err := c.GetInformer(ctx, &platformv1alpha1.Anomaly{})
	if err != nil {
		t.Fatalf("GetInformer: %v", err)
	}
	go func() { _ = c.Start(ctx) }()
	syncCtx, cancelSync := context.WithTimeout(ctx, time.Minute)
	defer cancelSync()
	if !c.WaitForCacheSync(syncCtx) {
		t.Fatal("cache did not sync")
	}
	return c, informer
}

// newWatcher builds a WatcherServer on informer, closed when the test ends.
func newWatcher(t *testing.T, sink signals.Sink, inv Invalidator, informer Informer, opts WatcherOptions) *WatcherServer {
	t.Helper()
	w, err := NewWatcherServer(sink, inv, informer, opts)
	if err != nil {
		t.Fatalf("NewWatcherServer: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// createNamespace creates a namespace with a generated name. Its Anomalies
// are deleted when the test ends, so that a repeated run (-count) starts
// from a clean slate; the API server has no namespace controller to delete
// the namespace itself.
func createNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := env.NewNamespace(t, prefix, nil)
	t.Cleanup(func() {
		if err := env.Client.DeleteAllOf(context.Background(), &platformv1alpha1.Anomaly{}, client.InNamespace(ns)); err != nil {
			t.Errorf("delete Anomalies in %s: %v", ns, err)
		}
	})
	return ns
}

// createAnomaly stores the Anomaly the Sink would build for s, in
// fallbackNamespace when s names a cluster-scoped resource.
func createAnomaly(t *testing.T, s signals.Signal, name, fallbackNamespace string) *platformv1alpha1.Anomaly {
	t.Helper()
	a := s.Anomaly(name, fallbackNamespace, 0)
	if err := env.Client.Create(context.Background(), a); err != nil {
		t.Fatalf("create Anomaly %s: %v", name, err)
	}
	return a
}

// nopSink and nopInvalidator satisfy NewWatcherServer where a test does not
// use them.
type nopSink struct{}

func (nopSink) Ingest(context.Context, []signals.Signal) ([]signals.IngestResult, error) {
	return nil, nil
}

type nopInvalidator struct{}

func (nopInvalidator) InvalidateDedup(context.Context, platformv1alpha1.ResourceReference) (int, error) {
	return 0, nil
}

// recordingSink stores nothing: it records each batch and answers created
// for a dedup key it has not seen yet, duplicate for one it has.
type recordingSink struct {
	err error

	mu      sync.Mutex
	batches [][]signals.Signal
	seen    map[string]string
}

func (s *recordingSink) Ingest(_ context.Context, batch []signals.Signal) ([]signals.IngestResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, batch)
	if s.err != nil {
		return nil, s.err
	}
	if s.seen == nil {
		s.seen = map[string]string{}
	}
	out := make([]signals.IngestResult, len(batch))
	for i, sig := range batch {
		ns := sig.Resource.Namespace
		if ns == "" {
			ns = "chatcli-system"
		}
		r := signals.IngestResult{Status: signals.IngestCreated, AnomalyName: sig.AnomalyName(0), AnomalyNamespace: ns}
		if _, dup := s.seen[sig.DedupKey()]; dup {
			r.Status = signals.IngestDuplicate
		}
		s.seen[sig.DedupKey()] = r.AnomalyName
		out[i] = r
	}
	return out, nil
}

func (s *recordingSink) recorded() [][]signals.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]signals.Signal(nil), s.batches...)
}
