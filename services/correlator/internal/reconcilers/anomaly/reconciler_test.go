package anomaly

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/pipeline"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/testenv"
)

var env *testenv.Environment

func init() { ctrllog.SetLogger(zap.New(zap.UseDevMode(true))) }

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{}) }

// startCorrelator runs one correlator "replica" (no leader election, the
// worst case) as the correlator's ServiceAccount under its generated role,
// until the test ends. A nil redis correlates without locks.
func startCorrelator(t *testing.T, redis *redisx.Client) {
	t.Helper()
	startCorrelatorWith(t, &Reconciler{Redis: redis, Workers: 8})
}

// startCorrelatorWith runs r, its Client, Reader and Now filled in.
func startCorrelatorWith(t *testing.T, r *Reconciler) {
	t.Helper()
	id := env.AsService(t, "correlator", env.NewNamespace(t, "platform", nil))
	mgr, err := ctrl.NewManager(id.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		// Several managers in one process each register "anomaly".
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Client, r.Reader, r.Now = mgr.GetClient(), mgr.GetAPIReader(), time.Now
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}

// oomTriple is what the watcher-bridge makes of one OOM fault: three
// Anomalies on one Deployment, symptom first.
func oomTriple(ns string, i int) []*platformv1alpha1.Anomaly {
	res := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: fmt.Sprintf("api-%03d", i)}
	var out []*platformv1alpha1.Anomaly
	for _, typ := range []platformv1alpha1.SignalType{platformv1alpha1.SignalPodRestart, platformv1alpha1.SignalCrashLoopBackOff, platformv1alpha1.SignalOOMKill} {
		out = append(out, &platformv1alpha1.Anomaly{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%s", res.Name, strings.ReplaceAll(string(typ), "_", "-")), Labels: map[string]string{"test": "burst"}},
			Spec: platformv1alpha1.AnomalySpec{
				SignalType: typ, Source: platformv1alpha1.SourceWatcher, Resource: res,
				Severity:   platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityHigh),
				DetectedAt: metav1.Now(),
			},
		})
	}
	return out
}

// TestABurstMakesOneIssuePerResource creates the OOM triple on 200
// Deployments at once and checks for exactly 200 Issues, each with the
// cause (oom_kill) as its signal type and the risk of all three signals,
// and every Anomaly correlated into its resource's Issue: with one
// correlator, with two at once, and with Redis gone. Each Issue is
// created with its own incident id while Redis answers, and without one
// (given later by the Issue reconciler) when it does not.
func TestABurstMakesOneIssuePerResource(t *testing.T) {
	const resources = 200
	stopped, err := testenv.StartLocalRedis(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stopped.Stop()
	tests := map[string]struct {
		reason   string
		replicas int
		redisURL string
		ids      bool
	}{
		"OneCorrelator":    {reason: "the plain case", replicas: 1, redisURL: env.Redis.URL, ids: true},
		"TwoCorrelators":   {reason: "two replicas race on every resource", replicas: 2, redisURL: env.Redis.URL, ids: true},
		"RedisUnreachable": {reason: "without locks, names alone keep one Issue", replicas: 2, redisURL: stopped.URL},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			ns := env.NewNamespace(t, "burst", nil)
			redis, err := redisx.New(tc.redisURL, redisx.Config{})
			g.Expect(err).NotTo(HaveOccurred())
			t.Cleanup(func() { _ = redis.Close() })
			for range tc.replicas {
				startCorrelator(t, redis)
			}
			measured := anomalyStageCount(t)

			var group errgroup.Group
			group.SetLimit(16)
			for i := range resources {
				for _, a := range oomTriple(ns, i) {
					group.Go(func() error { return env.Client.Create(ctx, a) })
				}
			}
			g.Expect(group.Wait()).To(Succeed())

			g.Eventually(func(g Gomega) {
				anomalies := &platformv1alpha1.AnomalyList{}
				g.Expect(env.Client.List(ctx, anomalies, client.InNamespace(ns))).To(Succeed())
				g.Expect(anomalies.Items).To(HaveLen(3 * resources))
				for _, a := range anomalies.Items {
					g.Expect(a.Status.Correlated).To(BeTrue(), "Anomaly %s not correlated", a.Name)
				}
			}).WithTimeout(2 * time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())

			issues := &platformv1alpha1.IssueList{}
			g.Expect(env.Client.List(ctx, issues, client.InNamespace(ns))).To(Succeed())
			g.Expect(issues.Items).To(HaveLen(resources), tc.reason)
			byName := map[string]platformv1alpha1.Issue{}
			ids := map[string]string{}
			for _, issue := range issues.Items {
				id := issue.Labels[platformv1alpha1.LabelIncidentID]
				if tc.ids {
					g.Expect(id).To(MatchRegexp(`^INC-[0-9]{8}-[0-9]{3,}$`), "Issue %s", issue.Name)
					g.Expect(ids).NotTo(HaveKey(id), "Issue %s has the id of another", issue.Name)
					ids[id] = issue.Name
				} else {
					g.Expect(id).To(BeEmpty(), "Issue %s", issue.Name)
				}
				g.Expect(issue.Spec.SignalType).To(Equal(platformv1alpha1.SignalOOMKill), "Issue %s", issue.Name)
				g.Expect(issue.Spec.RiskScore).To(BeEquivalentTo(70), "Issue %s", issue.Name)
				g.Expect(issue.Spec.Severity).To(Equal(platformv1alpha1.SeverityHigh), "Issue %s", issue.Name)
				byName[issue.Name] = issue
			}
			anomalies := &platformv1alpha1.AnomalyList{}
			g.Expect(env.Client.List(ctx, anomalies, client.InNamespace(ns))).To(Succeed())
			for _, a := range anomalies.Items {
				issue, ok := byName[a.Status.IssueRef.Name]
				g.Expect(ok).To(BeTrue(), "Anomaly %s names a missing Issue", a.Name)
				g.Expect(issue.Spec.Resource).To(Equal(a.Spec.Resource))
				g.Expect(a.Labels[platformv1alpha1.LabelIssue]).To(Equal(issue.Name))
			}
			// Every Anomaly's first correlation is one observation of
			// the anomaly_to_issue stage (a pass whose status patch
			// conflicted may observe again, so at least).
			g.Expect(anomalyStageCount(t) - measured).To(BeNumerically(">=", 3*resources))
		})
	}
}

func anomalyStageCount(t *testing.T) uint64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == pipeline.Name("correlator", "anomaly_to_issue") {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("anomaly_to_issue is not registered")
	return 0
}

// TestAResolvedIssueIsNotReopened checks that a fault after its Issue was
// resolved opens the next generation, and that an Escalated Issue still
// collects its resource's Anomalies.
func TestAResolvedIssueIsNotReopened(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.NewNamespace(t, "generations", nil)
	startCorrelator(t, nil)
	triple := oomTriple(ns, 1)
	correlatedInto := func(a *platformv1alpha1.Anomaly) func() string {
		return func() string {
			got := &platformv1alpha1.Anomaly{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(a), got); err != nil || got.Status.IssueRef == nil {
				return ""
			}
			return got.Status.IssueRef.Name
		}
	}
	setState := func(name string, state platformv1alpha1.IssueState) {
		issue := &platformv1alpha1.Issue{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, issue)).To(Succeed())
		issue.Status.State = state
		g.Expect(env.Client.Status().Update(ctx, issue)).To(Succeed())
	}

	g.Expect(env.Client.Create(ctx, triple[0])).To(Succeed())
	g.Eventually(correlatedInto(triple[0])).WithTimeout(30 * time.Second).ShouldNot(BeEmpty())
	first := correlatedInto(triple[0])()

	setState(first, platformv1alpha1.IssueEscalated)
	g.Expect(env.Client.Create(ctx, triple[1])).To(Succeed())
	g.Eventually(correlatedInto(triple[1])).WithTimeout(30*time.Second).Should(Equal(first), "an Escalated Issue is still open")

	setState(first, platformv1alpha1.IssueResolved)
	g.Expect(env.Client.Create(ctx, triple[2])).To(Succeed())
	g.Eventually(correlatedInto(triple[2])).WithTimeout(30 * time.Second).ShouldNot(BeEmpty())
	second := correlatedInto(triple[2])()
	g.Expect(second).NotTo(Equal(first), "a Resolved Issue is never reopened")

	issue := &platformv1alpha1.Issue{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: second}, issue)).To(Succeed())
	g.Expect(issue.Labels[platformv1alpha1.LabelIncidentGeneration]).To(Equal("1"))
	g.Expect(issue.Spec.SignalType).To(Equal(platformv1alpha1.SignalOOMKill))
}
