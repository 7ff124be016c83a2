package incidents

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/testenv"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
)

var env *testenv.Environment

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	testenv.Run(m, &env, testenv.Options{WithoutRedis: true})
}

const testToken = "correlator-incident-api-test-token-32b"

func newG(t *testing.T) *WithT {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	return g
}

// harness is a Server as the correlator runs it: reading from a cache and
// writing through a HandlerClient, both as the correlator's ServiceAccount
// under its generated role, served by grpcx over TLS on loopback.
type harness struct {
	server *Server
	client correlatorv1.CorrelatorServiceClient
}

func startServer(t *testing.T, now func() time.Time) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	id := env.AsService(t, "correlator", env.NewNamespace(t, "platform", nil))
	c, err := cache.New(id.Config, cache.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	// The informers the queries use, started and synced up front as the
	// manager's would be by the reconcilers.
	for _, obj := range []client.Object{&platformv1alpha1.Issue{}, &platformv1alpha1.Anomaly{}, &platformv1alpha1.AIInsight{},
		&platformv1alpha1.RemediationPlan{}, &platformv1alpha1.PostMortem{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	go func() { _ = c.Start(ctx) }()
	syncCtx, cancelSync := context.WithTimeout(ctx, time.Minute)
	defer cancelSync()
	if !c.WaitForCacheSync(syncCtx) {
		t.Fatal("cache did not sync")
	}
	direct, err := client.New(id.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Options{Cache: c, Writer: bootstrap.NoStatusWrites(direct), Fresh: direct, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	pki, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gs, err := grpcx.NewServer(grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	correlatorv1.RegisterCorrelatorServiceServer(gs, srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpcx.Dial(lis.Addr().String(), grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &harness{server: srv, client: correlatorv1.NewCorrelatorServiceClient(conn)}
}

func newIssue(ns, name string) *platformv1alpha1.Issue {
	return &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: platformv1alpha1.IssueSpec{
			Severity: platformv1alpha1.SeverityHigh, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalOOMKill,
			Resource: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "checkout", UID: "uid-checkout"}, RiskScore: 70,
		},
	}
}

// createIssue stores issue, then its status (as the Issue reconciler
// would), and returns it as stored.
func createIssue(t *testing.T, issue *platformv1alpha1.Issue, status platformv1alpha1.IssueStatus) *platformv1alpha1.Issue {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, issue); err != nil {
		t.Fatalf("create Issue %s: %v", issue.Name, err)
	}
	if status.MaxRemediationAttempts == 0 {
		status.MaxRemediationAttempts = 3
	}
	issue.Status = status
	if err := env.Client.Status().Update(ctx, issue); err != nil {
		t.Fatalf("write status of Issue %s: %v", issue.Name, err)
	}
	return issue
}

// setStatus writes obj's status as the admin, the way its owning service
// would.
func setStatus(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Status().Update(context.Background(), obj); err != nil {
		t.Fatalf("write status of %s: %v", obj.GetName(), err)
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

func mustTime(s string) metav1.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return metav1.NewTime(tm)
}
