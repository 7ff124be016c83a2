package aiinsight

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/llm"
	"github.com/chatcli/aiops/libs/scrub"
	"github.com/chatcli/aiops/libs/testenv"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	"github.com/chatcli/aiops/services/analyzer/internal/analysis"
	"github.com/chatcli/aiops/services/analyzer/internal/grpcserver"
	"github.com/chatcli/aiops/services/analyzer/internal/validate"
)

// slowProvider answers a fixed analysis after a fixed latency, as a
// remote LLM would.
type slowProvider struct{ latency time.Duration }

func (slowProvider) Name() platformv1alpha1.Provider { return platformv1alpha1.ProviderOpenAI }
func (p slowProvider) Complete(ctx context.Context, _ llm.Request) (llm.Response, error) {
	select {
	case <-time.After(p.latency):
		return llm.Response{Text: `{"analysis":"slow","confidence":0.5}`, Model: "slow-1"}, nil
	case <-ctx.Done():
		return llm.Response{}, ctx.Err()
	}
}

// startReplicas serves n analyzer replicas, each making at most
// maxInFlight provider calls at once, on 127.0.0.1..n at one port behind
// one dns:/// name, and returns a client once every replica is connected.
func startReplicas(b *testing.B, n, maxInFlight int, latency time.Duration) analyzerv1.AnalyzerServiceClient {
	pki, err := testenv.NewPKI(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	var port string
	var ips []net.IP
	for i := range n {
		addr := fmt.Sprintf("127.0.0.%d:", i+1)
		lis, err := net.Listen("tcp", addr+port)
		if err != nil {
			b.Skipf("listen %s%s: %v", addr, port, err)
		}
		_, port, _ = net.SplitHostPort(lis.Addr().String())
		ips = append(ips, net.ParseIP(fmt.Sprintf("127.0.0.%d", i+1)))
		svc := analysis.NewService(scrub.Default(), validate.Default{})
		svc.Providers.Register(slowProvider{latency: latency})
		svc.MaxInFlight = maxInFlight
		srv, err := grpcx.NewServer(grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, Token: testToken})
		if err != nil {
			b.Fatal(err)
		}
		grpcserver.Register(srv, svc)
		go func() { _ = srv.Serve(lis) }()
		b.Cleanup(srv.Stop)
	}
	conn, err := grpcx.Dial("dns://"+serveDNS(b, ips...)+"/analyzer.pool.test:"+port, grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken, ServerName: "localhost"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	conn.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for conn.GetState().String() != "READY" {
		if !conn.WaitForStateChange(ctx, conn.GetState()) {
			b.Fatal("the pool never connected")
		}
	}
	return analyzerv1.NewAnalyzerServiceClient(conn)
}

// BenchmarkConcurrentAnalyses runs 64 AIInsights at once against a
// provider with a fixed 2 s latency, each replica making at most 8 calls
// at once: the wall time (ns/op) falls with the replicas.
func BenchmarkConcurrentAnalyses(b *testing.B) {
	for _, replicas := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			pool := startReplicas(b, replicas, 8, 2*time.Second)
			f := newFixture(b, platformv1alpha1.SignalLatency, "Error", "")
			r := f.reconciler(b, pool)
			r.Timeout = 2 * time.Minute
			round := 0
			for b.Loop() {
				round++
				var wg sync.WaitGroup
				for i := range 64 {
					in := &platformv1alpha1.AIInsight{
						ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: fmt.Sprintf("c-%d-%d", round, i)},
						Spec:       platformv1alpha1.AIInsightSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: f.issue.Name}, Attempt: 1, Provider: platformv1alpha1.ProviderOpenAI},
					}
					must(b, env.Client.Create(testContext(b), in))
					wg.Go(func() {
						if _, err := r.Reconcile(testContext(b), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(in)}); err != nil {
							b.Errorf("Reconcile: %v", err)
						}
					})
				}
				wg.Wait()
			}
		})
	}
}
