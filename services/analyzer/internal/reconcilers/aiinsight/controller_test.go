package aiinsight

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/scrub"
	"github.com/chatcli/aiops/services/analyzer/internal/validate"
)

// TestControllerAnalysesThroughTheCache runs the reconciler in a manager,
// as the analyzer does: its cache reads AIInsights, Issues and workloads
// under the generated role, pods and events come from the API server, and
// a superseded attempt is noticed when the Issue moves on.
func TestControllerAnalysesThroughTheCache(t *testing.T) {
	f := newFixture(t, platformv1alpha1.SignalOOMKill, "OOMKilled", "")
	mgr, err := ctrl.NewManager(f.id.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	must(t, (&Reconciler{
		Client:   mgr.GetClient(),
		Context:  &k8sctx.Builder{Reader: mgr.GetClient(), Live: mgr.GetAPIReader(), Logs: kubernetes.NewForConfigOrDie(f.id.Config)},
		Scrubber: scrub.Default(), Analyzer: servePool(t), Checker: validate.Default{}, Workers: 4,
	}).SetupWithManager(mgr))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	first := f.insight(t, 1, platformv1alpha1.ProviderBuiltin, "")
	g.Eventually(func(g Gomega) {
		got := &platformv1alpha1.AIInsight{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(first), got)).To(Succeed())
		c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.AIInsightReadyCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(platformv1alpha1.AIInsightAnalysisCompletedReason))
		g.Expect(got.Status.SuggestedActions).To(HaveLen(1))
	}).Should(Succeed())

	// An insight of attempt 2, read after the Issue moved on to attempt 3.
	f.issue.Status.Attempts = []platformv1alpha1.RemediationAttempt{
		{Attempt: 1, InsightRef: &platformv1alpha1.LocalObjectReference{Name: first.Name}},
		{Attempt: 2}, {Attempt: 3},
	}
	must(t, env.Client.Status().Update(ctx, f.issue))
	// "Read after": the manager's cache must hold the new attempts before
	// the insight appears, or the pass may see the Issue of attempt 2.
	g.Eventually(func(g Gomega) {
		seen := &platformv1alpha1.Issue{}
		g.Expect(mgr.GetClient().Get(ctx, client.ObjectKeyFromObject(f.issue), seen)).To(Succeed())
		g.Expect(seen.Status.Attempts).To(HaveLen(3))
	}).Should(Succeed())
	second := f.insight(t, 2, platformv1alpha1.ProviderBuiltin, "AdjustResources failed")
	g.Eventually(func(g Gomega) {
		got := &platformv1alpha1.AIInsight{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(second), got)).To(Succeed())
		c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.AIInsightReadyCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(platformv1alpha1.AIInsightAttemptSupersededReason))
	}).Should(Succeed())
}
