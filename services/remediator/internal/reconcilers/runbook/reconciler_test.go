package runbook

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

func start(t *testing.T, ttl time.Duration) {
	t.Helper()
	id := env.AsService(t, "remediator", env.NewNamespace(t, "platform", nil))
	mgr, err := ctrl.NewManager(id.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Reconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Now: time.Now, GeneratedTTL: ttl}).SetupWithManager(mgr); err != nil {
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

func runbook(ns, name string, steps ...platformv1alpha1.RunbookStep) *platformv1alpha1.Runbook {
	return &platformv1alpha1.Runbook{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: platformv1alpha1.RunbookSpec{
			Trigger: platformv1alpha1.RunbookTrigger{Severity: platformv1alpha1.SeverityHigh, ResourceKind: "Deployment"}, Steps: steps,
		},
	}
}

func TestRunbookValidityAndCounters(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	start(t, 0)
	ns := env.NewNamespace(t, "runbooks", nil)
	good := runbook(ns, "good", platformv1alpha1.RunbookStep{Name: "scale", Action: platformv1alpha1.ActionScaleDeployment, Params: platformv1alpha1.ActionParams{"replicas": "3"}})
	bad := runbook(ns, "bad", platformv1alpha1.RunbookStep{Name: "drain", Action: platformv1alpha1.ActionDrainNode},
		platformv1alpha1.RunbookStep{Name: "custom", Action: platformv1alpha1.ActionCustom})
	g.Expect(env.Client.Create(ctx, good)).To(Succeed())
	g.Expect(env.Client.Create(ctx, bad)).To(Succeed())
	valid := func(rb *platformv1alpha1.Runbook) string {
		got := &platformv1alpha1.Runbook{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(rb), got)).To(Succeed())
		if c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.RunbookValidCondition); c != nil {
			return string(c.Status) + "/" + c.Reason
		}
		return ""
	}
	g.Eventually(func() string { return valid(good) }).WithTimeout(20 * time.Second).Should(Equal("True/StepsValid"))
	g.Eventually(func() string { return valid(bad) }).WithTimeout(20 * time.Second).Should(Equal("False/StepRefused"))

	// Three plans of the good Runbook: one completed and recurred, one
	// completed, one rolled back.
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	for i, state := range []platformv1alpha1.PlanState{platformv1alpha1.PlanCompleted, platformv1alpha1.PlanCompleted, platformv1alpha1.PlanRolledBack} {
		issue := []string{"first", "second", "third"}[i]
		p := &platformv1alpha1.RemediationPlan{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: issue + "-plan-1", Labels: map[string]string{platformv1alpha1.LabelIssue: issue}},
			Spec: platformv1alpha1.RemediationPlanSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: issue}, Attempt: 1,
				RunbookRef: &platformv1alpha1.LocalObjectReference{Name: "good"},
				Actions:    []platformv1alpha1.RemediationAction{{Type: platformv1alpha1.ActionRestartDeployment}}},
		}
		g.Expect(env.Client.Create(ctx, p)).To(Succeed())
		p.Status.State, p.Status.CompletedAt = state, &now
		g.Expect(env.Client.Status().Update(ctx, p)).To(Succeed())
	}
	recurrence := &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "first-again"},
		Spec: platformv1alpha1.IssueSpec{Severity: platformv1alpha1.SeverityHigh, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalOOMKill,
			Resource: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "api"}},
	}
	g.Expect(env.Client.Create(ctx, recurrence)).To(Succeed())
	recurrence.Status.RecurrenceOf = &platformv1alpha1.LocalObjectReference{Name: "first"}
	g.Expect(env.Client.Status().Update(ctx, recurrence)).To(Succeed())

	g.Eventually(func(g Gomega) {
		got := &platformv1alpha1.Runbook{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(good), got)).To(Succeed())
		st := got.Status
		g.Expect([]int32{st.TimesUsed, st.TimesSucceeded, st.TimesFailed, st.TimesRecurred}).To(Equal([]int32{3, 2, 1, 1}))
		g.Expect(st.LastUsedAt).NotTo(BeNil())
		g.Expect(st.LastSucceededAt.Time).To(BeTemporally("==", now.Time))
	}).WithTimeout(20 * time.Second).Should(Succeed())
}

func TestUnusedGeneratedRunbooksAreCollected(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	start(t, 2*time.Second)
	ns := env.NewNamespace(t, "gc", nil)
	gen := runbook(ns, "auto-x", platformv1alpha1.RunbookStep{Name: "r", Action: platformv1alpha1.ActionRestartDeployment})
	gen.Labels = map[string]string{platformv1alpha1.LabelRunbookGenerated: "true"}
	gen.Spec.Origin = platformv1alpha1.RunbookGenerated
	manual := runbook(ns, "manual", platformv1alpha1.RunbookStep{Name: "r", Action: platformv1alpha1.ActionRestartDeployment})
	g.Expect(env.Client.Create(ctx, gen)).To(Succeed())
	g.Expect(env.Client.Create(ctx, manual)).To(Succeed())
	g.Eventually(func() error {
		return env.Client.Get(ctx, client.ObjectKeyFromObject(gen), &platformv1alpha1.Runbook{})
	}).WithTimeout(20 * time.Second).ShouldNot(Succeed())
	g.Consistently(func() error {
		return env.Client.Get(ctx, client.ObjectKeyFromObject(manual), &platformv1alpha1.Runbook{})
	}).WithTimeout(time.Second).Should(Succeed())
}
