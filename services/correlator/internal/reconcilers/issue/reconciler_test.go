package issue

import (
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/testenv"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

var env *testenv.Environment

func init() { ctrllog.SetLogger(zap.New(zap.UseDevMode(true))) }

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

// startReconciler runs the Issue reconciler as the correlator's
// ServiceAccount under its generated role, with a Redis of the test's own
// and in-test peers of its own.
func startReconciler(t *testing.T, redis *redisx.Client) *peers {
	t.Helper()
	p := startPeers(t)
	startReconcilerWith(t, &Reconciler{Redis: redis}, p)
	return p
}

// startReconcilerWith runs r (its Client, Reader, peers and Now filled in),
// and whatever also sets up in the same manager, until stop is called or
// the test ends; stop waits for the manager to
// finish, as a process killed between two passes would.
func startReconcilerWith(t testing.TB, r *Reconciler, p *peers, also ...func(ctrl.Manager) error) (stop func()) {
	t.Helper()
	id := env.AsService(t, "correlator", env.NewNamespace(t, "platform", nil))
	// As in the service (ctrl.GetConfig): no client-side rate limit; the
	// API server's priority and fairness does that job.
	unlimited := rest.CopyConfig(id.Config)
	unlimited.QPS = -1
	mgr, err := ctrl.NewManager(unlimited, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		// Each test runs a manager of its own in this one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Client, r.Reader = mgr.GetClient(), mgr.GetAPIReader()
	if p.writes != nil {
		r.Client = p.writes.Wrap(r.Client)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	r.Remediator = remediatorv1.NewRemediatorServiceClient(p.remConn)
	r.Watcher = watcherv1.NewWatcherServiceClient(p.watchConn)
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	for _, setup := range also {
		if err := setup(mgr); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func newIssue(ns, name string) *platformv1alpha1.Issue {
	return &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: platformv1alpha1.IssueSpec{
			Severity: platformv1alpha1.SeverityHigh, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalOOMKill,
			Resource: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "checkout"}, RiskScore: 70,
		},
	}
}

func get(g Gomega, key client.ObjectKey) *platformv1alpha1.Issue {
	issue := &platformv1alpha1.Issue{}
	g.Expect(env.Client.Get(context.Background(), key, issue)).To(Succeed())
	return issue
}

// TestDetectionToAnalysis follows one Issue from its creation to Analyzing:
// stamped, identified, its AIInsight created once and owned by it, every
// step in the timeline.
func TestDetectionToAnalysis(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	redisServer, err := testenv.StartLocalRedis(ctx, "", t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(redisServer.Stop)
	redis, err := redisx.New(redisServer.URL, redisx.Config{})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = redis.Close() })
	startReconciler(t, redis)

	ns := env.NewNamespace(t, "lifecycle", nil)
	// The sequence restarts when Redis loses its data: an Issue elsewhere
	// already holds the first id of the day, so ours takes the second.
	taken := newIssue(env.NewNamespace(t, "elsewhere", nil), "older")
	taken.Labels = map[string]string{platformv1alpha1.LabelIncidentID: redisx.FormatIncidentID(time.Now(), 1)}
	g.Expect(env.Client.Create(ctx, taken)).To(Succeed())

	issue := newIssue(ns, "checkout-oom")
	g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
	key := client.ObjectKeyFromObject(issue)
	g.Eventually(func(g Gomega) {
		got := get(g, key)
		g.Expect(got.Status.State).To(Equal(platformv1alpha1.IssueAnalyzing))
		// Not the taken id; the reconciler also gives the Issues of the
		// other tests in this API server theirs, so not always the second.
		g.Expect(got.Status.IncidentID).To(MatchRegexp(`^INC-[0-9]{8}-[0-9]{3,}$`))
		g.Expect(got.Status.IncidentID).NotTo(Equal(taken.Labels[platformv1alpha1.LabelIncidentID]))
	}).WithTimeout(30 * time.Second).Should(Succeed())
	holders := &platformv1alpha1.IssueList{}
	g.Expect(env.Client.List(ctx, holders, client.MatchingLabels{platformv1alpha1.LabelIncidentID: get(g, key).Status.IncidentID})).To(Succeed())
	g.Expect(holders.Items).To(HaveLen(1), "an incident id names one Issue")

	got := get(g, key)
	g.Expect(got.Status.DetectedAt).NotTo(BeNil())
	g.Expect(got.Status.MaxRemediationAttempts).To(BeEquivalentTo(3))
	g.Expect(got.Status.InsightRef).To(Equal(&platformv1alpha1.LocalObjectReference{Name: "checkout-oom-insight"}))
	g.Expect(got.Status.Attempts).To(HaveLen(1))
	g.Expect(got.Status.Timeline).To(HaveLen(2))
	g.Expect(got.Status.Timeline[1].FromState).To(Equal(platformv1alpha1.IssueDetected))
	g.Expect(got.Status.Timeline[1].ToState).To(Equal(platformv1alpha1.IssueAnalyzing))

	insight := &platformv1alpha1.AIInsight{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout-oom-insight"}, insight)).To(Succeed())
	g.Expect(insight.Spec.Provider).To(Equal(platformv1alpha1.ProviderBuiltin), "no Ready Instance: the offline analyzer")
	g.Expect(insight.Spec.Attempt).To(BeEquivalentTo(1))
	g.Expect(metav1.IsControlledBy(insight, got)).To(BeTrue())

	list := &platformv1alpha1.AIInsightList{}
	g.Consistently(func() int {
		_ = env.Client.List(ctx, list, client.InNamespace(ns))
		return len(list.Items)
	}).WithTimeout(2 * time.Second).Should(Equal(1))
}

// TestTheIncidentIDWaitsForRedis checks that an Issue is analysed without
// Redis, says its id is missing, and gets the id once Redis is back.
func TestTheIncidentIDWaitsForRedis(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	redisServer, err := testenv.StartLocalRedis(ctx, "", t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(redisServer.Stop)
	redis, err := redisx.New(redisServer.URL, redisx.Config{})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = redis.Close() })
	redisServer.Stop()
	startReconciler(t, redis)

	issue := newIssue(env.NewNamespace(t, "no-redis", nil), "api-crash")
	g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
	key := client.ObjectKeyFromObject(issue)
	g.Eventually(func(g Gomega) {
		got := get(g, key)
		g.Expect(got.Status.State).To(Equal(platformv1alpha1.IssueAnalyzing))
		g.Expect(got.Status.IncidentID).To(BeEmpty())
		g.Expect(got.Status.Conditions).To(ContainElement(And(
			HaveField("Type", platformv1alpha1.IssueIdentifiedCondition),
			HaveField("Status", metav1.ConditionFalse),
		)))
	}).WithTimeout(30 * time.Second).Should(Succeed())

	g.Expect(redisServer.Start(ctx)).To(Succeed())
	g.Eventually(func() string { return get(g, key).Status.IncidentID }).
		WithTimeout(60 * time.Second).Should(MatchRegexp(`^INC-[0-9]{8}-[0-9]{3,}$`))
}
