package postmortem_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/testenv"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/reconcilers/issue"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/reconcilers/postmortem"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/report"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

// peerToken passes grpcx.ValidateToken.
const peerToken = "postmortem-writer-test-token-of-32-bytes"

// analyzer is an AnalyzerService that answers SummarizeIncident with
// answer, or fails with Unavailable when fail is set, and keeps every
// request.
type analyzer struct {
	analyzerv1.UnimplementedAnalyzerServiceServer
	fail   bool
	answer *analyzerv1.SummarizeIncidentResponse

	mu       sync.Mutex
	requests []*analyzerv1.SummarizeIncidentRequest
}

func (a *analyzer) SummarizeIncident(_ context.Context, req *analyzerv1.SummarizeIncidentRequest) (*analyzerv1.SummarizeIncidentResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests = append(a.requests, req)
	if a.fail {
		return nil, status.Error(codes.Unavailable, "provider down")
	}
	return a.answer, nil
}

func (a *analyzer) calls() []*analyzerv1.SummarizeIncidentRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*analyzerv1.SummarizeIncidentRequest(nil), a.requests...)
}

// remediator is a RemediatorService whose PromoteRunbook names the Runbook
// <plan>-runbook and counts the calls per plan.
type remediator struct {
	remediatorv1.UnimplementedRemediatorServiceServer

	mu       sync.Mutex
	promoted map[string]int
}

func (r *remediator) PromoteRunbook(_ context.Context, req *remediatorv1.PromoteRunbookRequest) (*remediatorv1.PromoteRunbookResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.promoted == nil {
		r.promoted = map[string]int{}
	}
	key := req.GetPlan().GetNamespace() + "/" + req.GetPlan().GetName()
	r.promoted[key]++
	return &remediatorv1.PromoteRunbookResponse{RunbookName: req.GetPlan().GetName() + "-runbook", Created: r.promoted[key] == 1}, nil
}

// promotions is how often each plan, by namespace/name, was promoted.
func (r *remediator) promotions() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.promoted {
		out[k] = v
	}
	return out
}

// serve runs register's services on a grpcx server (TLS 1.3, token) on
// loopback until the test ends, and returns a client connection to it.
func serve(t testing.TB, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	pki, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcx.NewServer(grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, Token: peerToken})
	if err != nil {
		t.Fatal(err)
	}
	register(srv.Server)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpcx.Dial(lis.Addr().String(), grpcx.ClientConfig{CAFile: pki.CAFile, Token: peerToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// peers are the analyzer and remediator a writer calls; nil leaves one
// unconfigured.
type peers struct {
	analyzer   *analyzer
	remediator *remediator
	// markdown turns on the Markdown ConfigMaps.
	markdown bool
}

// writer is one running postmortem-writer: its two controllers in a
// manager of their own, as the service's ServiceAccount under its
// generated role.
type writer struct {
	stop func()
}

func startWriter(t testing.TB, p peers, policy issue.Policy) *writer {
	t.Helper()
	id := env.AsService(t, "postmortem-writer", env.NewNamespace(t, "platform", nil))
	mgr, err := ctrl.NewManager(id.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		// Each test runs a manager of its own in this one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	scrub, err := report.NewScrub(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &postmortem.Reconciler{Client: mgr.GetClient(), Scrub: scrub, Now: time.Now, CallTimeout: 5 * time.Second, MarkdownConfigMaps: p.markdown}
	if p.analyzer != nil {
		r.Analyzer = analyzerv1.NewAnalyzerServiceClient(serve(t, func(s *grpc.Server) { analyzerv1.RegisterAnalyzerServiceServer(s, p.analyzer) }))
	}
	if p.remediator != nil {
		r.Remediator = remediatorv1.NewRemediatorServiceClient(serve(t, func(s *grpc.Server) { remediatorv1.RegisterRemediatorServiceServer(s, p.remediator) }))
	}
	if err := (&issue.Reconciler{Client: mgr.GetClient(), Policy: policy}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	w := &writer{stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}}
	t.Cleanup(w.stop)
	return w
}
