package aiinsight

import (
	"context"
	"encoding/binary"
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
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
	"github.com/chatcli/aiops/services/analyzer/internal/analysis"
	"github.com/chatcli/aiops/services/analyzer/internal/grpcserver"
	"github.com/chatcli/aiops/services/analyzer/internal/validate"
)

// serveDNS answers A queries for any name with addrs, and every other
// query with no answer: the stand-in for the cluster DNS that resolves a
// headless Service to its pods.
func serveDNS(t testing.TB, addrs ...net.IP) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			// The question: labels up to the zero byte, then type and class.
			end := 12
			for end < n && buf[end] != 0 {
				end += int(buf[end]) + 1
			}
			if end+5 > n {
				continue
			}
			qtype := binary.BigEndian.Uint16(buf[end+1:])
			question := buf[12 : end+5]
			resp := append([]byte{}, buf[0:2]...) // id
			resp = append(resp, 0x81, 0x80, 0, 1) // response, recursion available; one question
			answers := 0
			if qtype == 1 {
				answers = len(addrs)
			}
			resp = append(resp, byte(answers>>8), byte(answers), 0, 0, 0, 0)
			resp = append(resp, question...)
			for i := 0; i < answers; i++ {
				resp = append(resp, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4) // name pointer, A, IN, TTL 5, 4 bytes
				resp = append(resp, addrs[i].To4()...)
			}
			_, _ = conn.WriteTo(resp, from)
		}
	}()
	return conn.LocalAddr().String()
}

// countingBuiltin is BUILTIN that counts the calls one replica answers.
type countingBuiltin struct {
	llm.Provider
	mu    sync.Mutex
	calls int
}

func (c *countingBuiltin) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

func (c *countingBuiltin) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = 0
}

func (c *countingBuiltin) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Provider.Complete(ctx, req)
}

// TestTwoReplicasShareTheLoad: two analyzer replicas behind one dns:///
// name (two A records, as a headless Service has) both answer the
// reconciler's calls.
func TestTwoReplicasShareTheLoad(t *testing.T) {
	pki, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	first, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(first.Addr().String())
	second, err := net.Listen("tcp", "127.0.0.2:"+port)
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	var replicas []*countingBuiltin
	for _, lis := range []net.Listener{first, second} {
		svc := analysis.NewService(scrub.Default(), validate.Default{})
		p, _ := svc.Providers.Get(platformv1alpha1.ProviderBuiltin)
		counting := &countingBuiltin{Provider: p}
		svc.Providers.Register(counting)
		replicas = append(replicas, counting)
		srv, err := grpcx.NewServer(grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, Token: testToken})
		if err != nil {
			t.Fatal(err)
		}
		grpcserver.Register(srv, svc)
		go func() { _ = srv.Serve(lis) }()
		t.Cleanup(srv.Stop)
	}
	dns := serveDNS(t, net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2"))
	conn, err := grpcx.Dial("dns://"+dns+"/analyzer.pool.test:"+port, grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	// round_robin spreads calls over the connected replicas only: wait
	// until both have connected (each has answered a call).
	pool := analyzerv1.NewAnalyzerServiceClient(conn)
	warm := &analyzerv1.AnalyzeIssueRequest{Issue: &chatcliv1.AnalyzeIssueRequest{IssueName: "warm", Namespace: "x", ResourceKind: "Deployment", ResourceName: "x", SignalType: "latency"}}
	deadline := time.Now().Add(20 * time.Second)
	for replicas[0].count() == 0 || replicas[1].count() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the replicas never both answered: %d, %d", replicas[0].count(), replicas[1].count())
		}
		if _, err := pool.AnalyzeIssue(testContext(t), warm); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range replicas {
		c.reset()
	}

	f := newFixture(t, platformv1alpha1.SignalOOMKill, "OOMKilled", "")
	r := f.reconciler(t, pool)
	const n = 12
	var insights []*platformv1alpha1.AIInsight
	for i := range n {
		in := &platformv1alpha1.AIInsight{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: f.issue.Name + "-load-" + string(rune('a'+i))},
			Spec:       platformv1alpha1.AIInsightSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: f.issue.Name}, Attempt: 1},
		}
		must(t, env.Client.Create(testContext(t), in))
		insights = append(insights, in)
	}
	var wg sync.WaitGroup
	for _, in := range insights {
		wg.Go(func() {
			if _, err := r.Reconcile(testContext(t), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(in)}); err != nil {
				t.Errorf("Reconcile %s: %v", in.Name, err)
			}
		})
	}
	wg.Wait()
	for _, in := range insights {
		got := &platformv1alpha1.AIInsight{}
		must(t, env.Client.Get(testContext(t), client.ObjectKeyFromObject(in), got))
		ready(t, got, metav1.ConditionTrue, platformv1alpha1.AIInsightAnalysisCompletedReason)
	}
	total := 0
	for i, c := range replicas {
		if c.count() == 0 {
			t.Errorf("replica %d answered no call", i)
		}
		total += c.count()
	}
	if total != n {
		t.Errorf("calls = %d, want %d", total, n)
	}

}
