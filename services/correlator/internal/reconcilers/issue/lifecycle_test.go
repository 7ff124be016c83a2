package issue

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"google.golang.org/grpc/codes"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/pipeline"
	"github.com/chatcli/aiops/libs/testenv"
)

const lifecycleTimeout = 30 * time.Second

// decideInsight plays the analyzer: it writes the AIInsight's Ready
// condition once the correlator has created it.
func decideInsight(t *testing.T, ns, name string, ready metav1.ConditionStatus) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	g.Eventually(func(g Gomega) {
		insight := &platformv1alpha1.AIInsight{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, insight)).To(Succeed())
		reason := platformv1alpha1.AIInsightAnalysisCompletedReason
		if ready == metav1.ConditionFalse {
			reason = platformv1alpha1.AIInsightInvalidResponseReason
		}
		insight.Status.Conditions = []metav1.Condition{{
			Type: platformv1alpha1.AIInsightReadyCondition, Status: ready, Reason: reason, Message: "test",
			LastTransitionTime: metav1.Now(), ObservedGeneration: insight.Generation,
		}}
		insight.Status.Analysis = "the container runs out of memory"
		insight.Status.Provider = platformv1alpha1.ProviderBuiltin
		insight.Status.Confidence = ptr.To(0.9)
		insight.Status.GeneratedAt = ptr.To(metav1.Now())
		g.Expect(env.Client.Status().Update(ctx, insight)).To(Succeed())
	}).WithTimeout(lifecycleTimeout).Should(Succeed())
}

// endPlan plays the remediator's execution: it writes the plan's final
// state, with what its actions did.
func endPlan(t *testing.T, ns, name string, state platformv1alpha1.PlanState, conditions ...metav1.Condition) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	g.Eventually(func(g Gomega) {
		plan := &platformv1alpha1.RemediationPlan{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, plan)).To(Succeed())
		now := metav1.Now()
		outcome := platformv1alpha1.ActionSucceeded
		if state != platformv1alpha1.PlanCompleted {
			outcome = platformv1alpha1.ActionRolledBack
		}
		plan.Status.State = state
		plan.Status.Result = "test " + string(state)
		plan.Status.ActionResults = []platformv1alpha1.ActionResult{{
			Index: ptr.To[int32](0), Type: platformv1alpha1.ActionRestartDeployment, Result: outcome,
			Message: "pods restarted", Timestamp: &now, Params: platformv1alpha1.ActionParams{"reason": "oom"},
		}}
		if state != platformv1alpha1.PlanCompleted {
			plan.Status.Verification = &platformv1alpha1.VerificationStatus{Healthy: ptr.To(false), Message: "2 restarts within the stability window"}
		} else {
			plan.Status.Verification = &platformv1alpha1.VerificationStatus{Healthy: ptr.To(true), HealthySince: &now, Message: "stable"}
		}
		for i := range conditions {
			conditions[i].LastTransitionTime = now
		}
		plan.Status.Conditions = conditions
		plan.Status.CompletedAt = &now
		g.Expect(env.Client.Status().Update(ctx, plan)).To(Succeed())
	}).WithTimeout(lifecycleTimeout).Should(Succeed())
}

func waitState(t *testing.T, key client.ObjectKey, state platformv1alpha1.IssueState) *platformv1alpha1.Issue {
	t.Helper()
	g := NewWithT(t)
	var got *platformv1alpha1.Issue
	g.Eventually(func(g Gomega) {
		got = get(g, key)
		g.Expect(got.Status.State).To(Equal(state))
	}).WithTimeout(lifecycleTimeout).Should(Succeed())
	return got
}

// checkPeers fails on any break of the call-order contracts and on any
// object made twice.
func checkPeers(t *testing.T, p *peers, ns string, attempts int) {
	t.Helper()
	g := NewWithT(t)
	_, violations, _ := p.remediator.snapshot()
	g.Expect(violations).To(BeEmpty())
	_, wviolations := p.watcher.snapshot()
	g.Expect(wviolations).To(BeEmpty())
	insights := &platformv1alpha1.AIInsightList{}
	g.Expect(env.Client.List(context.Background(), insights, client.InNamespace(ns))).To(Succeed())
	g.Expect(insights.Items).To(HaveLen(attempts), "one AIInsight per attempt")
}

func timelineTransitions(issue *platformv1alpha1.Issue) []string {
	var out []string
	for _, e := range issue.Status.Timeline {
		if e.ToState != "" {
			out = append(out, string(e.FromState)+">"+string(e.ToState))
		}
	}
	return out
}

// TestHappyPath follows an Issue from detection to Resolved: the attempt
// is stored before the plan is asked for, the plan's completion resolves
// the Issue, and only then is the watcher-bridge told to forget the
// resource's dedup keys.
func TestHappyPath(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	p := startPeers(t)
	p.writes = testenv.NewStatusWrites(func(o client.Object) (string, bool) {
		issue, ok := o.(*platformv1alpha1.Issue)
		if !ok {
			return "", false
		}
		return string(issue.Status.State), true
	})
	startReconcilerWith(t, &Reconciler{}, p)
	toPlan, toResolved := stageCount(t, "insight_to_plan"), stageCount(t, "healthy_to_resolved")
	ns := env.NewNamespace(t, "happy", nil)
	issue := newIssue(ns, "checkout-oom")
	g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
	key := client.ObjectKeyFromObject(issue)

	decideInsight(t, ns, "checkout-oom-insight", metav1.ConditionTrue)
	got := waitState(t, key, platformv1alpha1.IssueRemediating)
	g.Expect(got.Status.RemediationAttempts).To(BeEquivalentTo(1))
	endPlan(t, ns, "checkout-oom-plan-1", platformv1alpha1.PlanCompleted)

	g.Eventually(func(g Gomega) {
		got = get(g, key)
		g.Expect(got.Status.State).To(Equal(platformv1alpha1.IssueResolved))
		g.Expect(got.Status.Conditions).To(ContainElement(And(
			HaveField("Type", platformv1alpha1.IssueDedupReleasedCondition), HaveField("Status", metav1.ConditionTrue))))
	}).WithTimeout(lifecycleTimeout).Should(Succeed())

	g.Expect(got.Status.ResolvedAt).NotTo(BeNil())
	g.Expect(got.Status.Resolution).To(ContainSubstring("checkout-oom-plan-1"))
	g.Expect(got.Status.PlanRef).To(Equal(&platformv1alpha1.LocalObjectReference{Name: "checkout-oom-plan-1"}))
	g.Expect(got.Status.Attempts).To(HaveLen(1))
	g.Expect(got.Status.Attempts[0].Outcome).To(Equal(platformv1alpha1.AttemptSucceeded))
	g.Expect(got.Status.Attempts[0].PlanRef.Name).To(Equal("checkout-oom-plan-1"))
	g.Expect(got.Status.Attempts[0].EndedAt).NotTo(BeNil())
	g.Expect(timelineTransitions(got)).To(Equal([]string{"Detected>Analyzing", "Analyzing>Remediating", "Remediating>Resolved"}))
	g.Expect(got.Status.Conditions).To(ContainElements(
		And(HaveField("Type", platformv1alpha1.IssueAnalyzedCondition), HaveField("Status", metav1.ConditionTrue)),
		And(HaveField("Type", platformv1alpha1.IssueRemediatedCondition), HaveField("Status", metav1.ConditionTrue)),
	))
	calls, _, _ := p.remediator.snapshot()
	// ProposePlan may be repeated (it is idempotent); the plan is made once.
	g.Expect(calls).To(HaveKey("checkout-oom/1"))
	plans := &platformv1alpha1.RemediationPlanList{}
	g.Expect(env.Client.List(ctx, plans, client.InNamespace(ns))).To(Succeed())
	g.Expect(plans.Items).To(HaveLen(1))
	released := p.watcher.releasedIn(ns)
	g.Expect(released).To(HaveLen(1))
	g.Expect(released[0].GetName()).To(Equal("checkout"))
	checkPeers(t, p, ns, 1)
	// Five status writes, each one a contract: Analyzing (with the
	// AIInsight asked for); Remediating with the attempt, stored before
	// ProposePlan (the remediator checks it); the plan's name; Resolved,
	// stored before InvalidateDedup; DedupReleased.
	writes := p.writes.Of(issue.Name)
	g.Expect(writes).To(HaveExactElements("Analyzing", "Remediating", "Remediating", "Resolved", "Resolved"), "Issue status writes, by the state each left")
	// The stages the correlator ends were measured (other tests may add
	// to the same histograms).
	g.Expect(stageCount(t, "insight_to_plan")).To(BeNumerically(">", toPlan))
	g.Expect(stageCount(t, "healthy_to_resolved")).To(BeNumerically(">", toResolved))
}

// stageCount is the number of observations of a correlator stage.
func stageCount(t *testing.T, stage string) uint64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == pipeline.Name("correlator", stage) {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("stage %s is not registered", stage)
	return 0
}

// TestAFailedAttemptIsRetriedWithItsFailure rolls back the first plan: the
// Issue goes back to Analyzing with a second AIInsight that carries what
// was tried and what verification saw, the remediator gets the same
// failure with the second ProposePlan, and the second plan resolves it.
func TestAFailedAttemptIsRetriedWithItsFailure(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	p := startReconciler(t, nil)
	ns := env.NewNamespace(t, "retry", nil)
	issue := newIssue(ns, "api-oom")
	g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
	key := client.ObjectKeyFromObject(issue)

	decideInsight(t, ns, "api-oom-insight", metav1.ConditionTrue)
	endPlan(t, ns, "api-oom-plan-1", platformv1alpha1.PlanRolledBack)

	insight := &platformv1alpha1.AIInsight{}
	g.Eventually(func() error {
		return env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api-oom-insight-2"}, insight)
	}).WithTimeout(lifecycleTimeout).Should(Succeed())
	g.Expect(insight.Spec.Attempt).To(BeEquivalentTo(2))
	g.Expect(insight.Spec.FailureContext).To(And(
		ContainSubstring("api-oom-plan-1"), ContainSubstring("RestartDeployment"), ContainSubstring("stability window")))
	got := waitState(t, key, platformv1alpha1.IssueAnalyzing)
	g.Expect(got.Status.LastFailure).To(ContainSubstring("RolledBack"))

	decideInsight(t, ns, "api-oom-insight-2", metav1.ConditionFalse) // a failed analysis still gets a plan
	endPlan(t, ns, "api-oom-plan-2", platformv1alpha1.PlanCompleted)
	got = waitState(t, key, platformv1alpha1.IssueResolved)

	g.Expect(got.Status.RemediationAttempts).To(BeEquivalentTo(2))
	g.Expect(got.Status.Attempts).To(HaveLen(2))
	g.Expect(got.Status.Attempts[0].Outcome).To(Equal(platformv1alpha1.AttemptRolledBack))
	g.Expect(got.Status.Attempts[0].FailureContext).To(ContainSubstring("RestartDeployment"))
	g.Expect(got.Status.Attempts[1].Outcome).To(Equal(platformv1alpha1.AttemptSucceeded))
	g.Expect(timelineTransitions(got)).To(Equal([]string{
		"Detected>Analyzing", "Analyzing>Remediating", "Remediating>Analyzing", "Analyzing>Remediating", "Remediating>Resolved"}))
	_, _, requests := p.remediator.snapshot()
	var second []string
	for _, req := range requests {
		if req.GetAttempt() == 2 {
			second = append(second, req.GetFailureContext().GetPreviousPlanName())
			g.Expect(req.GetFailureContext().GetFailedActions()).To(HaveLen(1))
		}
	}
	g.Expect(second).NotTo(BeEmpty())
	g.Expect(second).To(HaveEach("api-oom-plan-1"))
	checkPeers(t, p, ns, 2)
}

// TestTheLastFailedAttemptEscalates gives an Issue two attempts; both fail
// and it escalates with AttemptsExhausted.
func TestTheLastFailedAttemptEscalates(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	p := startPeers(t)
	startReconcilerWith(t, &Reconciler{DefaultMaxAttempts: 2}, p)
	ns := env.NewNamespace(t, "exhausted", nil)
	issue := newIssue(ns, "worker-crash")
	g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
	key := client.ObjectKeyFromObject(issue)

	for attempt := 1; attempt <= 2; attempt++ {
		decideInsight(t, ns, InsightName("worker-crash", int32(attempt)), metav1.ConditionTrue)
		endPlan(t, ns, fmt.Sprintf("worker-crash-plan-%d", attempt), platformv1alpha1.PlanFailed)
	}
	got := waitState(t, key, platformv1alpha1.IssueEscalated)
	g.Expect(got.Status.EscalationReason).To(Equal(platformv1alpha1.IssueAttemptsExhaustedReason))
	g.Expect(got.Status.EscalatedAt).NotTo(BeNil())
	g.Expect(got.Status.MaxRemediationAttempts).To(BeEquivalentTo(2))
	g.Expect(got.Status.Attempts).To(HaveLen(2))
	g.Expect(got.Status.Attempts[1].Outcome).To(Equal(platformv1alpha1.AttemptFailed))
	g.Expect(p.watcher.releasedIn(ns)).To(BeEmpty(), "an Escalated Issue is still open: its dedup keys stay")
	checkPeers(t, p, ns, 2)
}

// TestRefusalsEscalateAtOnce covers the endings no other attempt can
// change: the remediator refuses to make a plan, or a person rejects it.
func TestRefusalsEscalateAtOnce(t *testing.T) {
	ctx := context.Background()
	p := startReconciler(t, nil)
	ns := env.NewNamespace(t, "refused", nil)
	cases := []struct {
		issue   string
		refusal error
		plan    []metav1.Condition
		reason  string
		outcome platformv1alpha1.AttemptOutcome
	}{
		{issue: "by-policy", refusal: grpcx.Error(codes.FailedPrecondition, grpcx.ReasonPlanRefusedByPolicy, "namespace kube-system is protected", map[string]string{"rule": "namespace"}),
			reason: platformv1alpha1.IssuePlanRefusedReason, outcome: platformv1alpha1.AttemptFailed},
		{issue: "no-plan", refusal: grpcx.Error(codes.FailedPrecondition, grpcx.ReasonNoPlan, "no runbook, no action, agentic off", nil),
			reason: platformv1alpha1.IssueNoPlanReason, outcome: platformv1alpha1.AttemptFailed},
		{issue: "gone", refusal: grpcx.Error(codes.FailedPrecondition, grpcx.ReasonResourceGone, "deployment was deleted", nil),
			reason: platformv1alpha1.IssueResourceMissingReason, outcome: platformv1alpha1.AttemptFailed},
		{issue: "rejected", plan: []metav1.Condition{{Type: platformv1alpha1.RemediationPlanApprovedCondition, Status: metav1.ConditionFalse, Reason: platformv1alpha1.RemediationPlanRejectedReason, Message: "no"}},
			reason: platformv1alpha1.IssuePlanRejectedReason, outcome: platformv1alpha1.AttemptRejected},
		{issue: "expired", plan: []metav1.Condition{{Type: platformv1alpha1.RemediationPlanApprovedCondition, Status: metav1.ConditionFalse, Reason: platformv1alpha1.RemediationPlanApprovalExpiredReason, Message: "late"}},
			reason: platformv1alpha1.IssueApprovalExpiredReason, outcome: platformv1alpha1.AttemptExpired},
	}
	for _, tc := range cases {
		t.Run(tc.issue, func(t *testing.T) {
			g := NewWithT(t)
			if tc.refusal != nil {
				p.remediator.refuseIssue(tc.issue, tc.refusal)
			}
			issue := newIssue(ns, tc.issue)
			issue.Spec.Resource.Name = tc.issue
			g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
			decideInsight(t, ns, tc.issue+"-insight", metav1.ConditionTrue)
			if tc.plan != nil {
				endPlan(t, ns, tc.issue+"-plan-1", platformv1alpha1.PlanFailed, tc.plan...)
			}
			got := waitState(t, client.ObjectKeyFromObject(issue), platformv1alpha1.IssueEscalated)
			g.Expect(got.Status.EscalationReason).To(Equal(tc.reason))
			g.Expect(got.Status.Attempts).To(HaveLen(1), "no retry")
			g.Expect(got.Status.Attempts[0].Outcome).To(Equal(tc.outcome))
		})
	}
}

// TestResumesAfterACrashAtEveryStep stops the correlator after each step
// and starts a new one: the Issue still resolves, with one AIInsight and
// one plan per attempt, and no call made out of order.
func TestResumesAfterACrashAtEveryStep(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	p := startPeers(t)
	ns := env.NewNamespace(t, "crash", nil)
	issue := newIssue(ns, "cart-oom")
	key := client.ObjectKeyFromObject(issue)
	restart := func(step func()) {
		stop := startReconcilerWith(t, &Reconciler{}, p)
		step()
		stop()
	}

	restart(func() {
		g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
		waitState(t, key, platformv1alpha1.IssueAnalyzing)
	})
	restart(func() {
		decideInsight(t, ns, "cart-oom-insight", metav1.ConditionTrue)
		waitState(t, key, platformv1alpha1.IssueRemediating)
	})
	restart(func() {
		g.Eventually(func() *platformv1alpha1.LocalObjectReference { return get(g, key).Status.PlanRef }).
			WithTimeout(lifecycleTimeout).ShouldNot(BeNil())
		endPlan(t, ns, "cart-oom-plan-1", platformv1alpha1.PlanRolledBack)
		g.Eventually(func() int { return len(get(g, key).Status.Attempts) }).WithTimeout(lifecycleTimeout).Should(Equal(2))
	})
	restart(func() {
		decideInsight(t, ns, "cart-oom-insight-2", metav1.ConditionTrue)
		endPlan(t, ns, "cart-oom-plan-2", platformv1alpha1.PlanCompleted)
		waitState(t, key, platformv1alpha1.IssueResolved)
	})
	restart(func() {
		g.Eventually(func() []string { return namesOf(p.watcher.releasedIn(ns)) }).
			WithTimeout(lifecycleTimeout).ShouldNot(BeEmpty())
	})

	got := get(g, key)
	g.Expect(timelineTransitions(got)).To(Equal([]string{
		"Detected>Analyzing", "Analyzing>Remediating", "Remediating>Analyzing", "Analyzing>Remediating", "Remediating>Resolved"}))
	plans := &platformv1alpha1.RemediationPlanList{}
	g.Expect(env.Client.List(ctx, plans, client.InNamespace(ns))).To(Succeed())
	g.Expect(plans.Items).To(HaveLen(2))
	checkPeers(t, p, ns, 2)
}

func namesOf[T interface{ GetName() string }](items []T) []string {
	out := make([]string, 0, len(items))
	for _, i := range items {
		out = append(out, i.GetName())
	}
	return out
}

// TestRecurrenceAndFlapping resolves Issues of one Deployment one after the
// other: the second opens within the cooldown and names the first, and
// its first analysis is told which fix did not hold; the third within the
// flapping window escalates at once, naming the earlier two.
func TestRecurrenceAndFlapping(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	p := startReconciler(t, nil)
	ns := env.NewNamespace(t, "recur", nil)
	open := func(generation int) client.ObjectKey {
		issue := newIssue(ns, fmt.Sprintf("web-oom-%d", generation))
		issue.Spec.Resource.Name = "web"
		issue.Labels = map[string]string{
			platformv1alpha1.LabelResourceKey:        strings.Repeat("a", 40),
			platformv1alpha1.LabelIncidentGeneration: fmt.Sprint(generation),
		}
		g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
		return client.ObjectKeyFromObject(issue)
	}
	resolve := func(name string) {
		decideInsight(t, ns, name+"-insight", metav1.ConditionTrue)
		endPlan(t, ns, name+"-plan-1", platformv1alpha1.PlanCompleted)
		waitState(t, client.ObjectKey{Namespace: ns, Name: name}, platformv1alpha1.IssueResolved)
	}

	first := open(1)
	resolve(first.Name)

	second := open(2)
	got := waitState(t, second, platformv1alpha1.IssueAnalyzing)
	g.Expect(got.Status.RecurrenceOf).To(Equal(&platformv1alpha1.LocalObjectReference{Name: first.Name}))
	insight := &platformv1alpha1.AIInsight{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: second.Name + "-insight"}, insight)).To(Succeed())
	g.Expect(insight.Spec.FailureContext).To(And(ContainSubstring("did not hold"), ContainSubstring("RestartDeployment"), ContainSubstring(first.Name)))
	resolve(second.Name)

	third := open(3)
	got = waitState(t, third, platformv1alpha1.IssueEscalated)
	g.Expect(got.Status.EscalationReason).To(Equal(platformv1alpha1.IssueRecurringReason))
	g.Expect(got.Status.RecurrenceOf.Name).To(Equal(second.Name))
	g.Expect(got.Status.Resolution).To(And(ContainSubstring(first.Name), ContainSubstring(second.Name)))
	calls, _, _ := p.remediator.snapshot()
	g.Expect(calls).NotTo(HaveKey(third.Name+"/1"), "a flapping Issue is not remediated again")
}

// annotate records a person's request as the incident API's handlers do.
func annotate(t *testing.T, key client.ObjectKey, kv ...string) {
	t.Helper()
	g := NewWithT(t)
	g.Eventually(func(g Gomega) {
		issue := get(g, key)
		before := issue.DeepCopy()
		if issue.Annotations == nil {
			issue.Annotations = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			issue.Annotations[kv[i]] = kv[i+1]
		}
		g.Expect(env.Client.Patch(context.Background(), issue, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))).To(Succeed())
	}).WithTimeout(lifecycleTimeout).Should(Succeed())
}

// TestPeoplesRequests acknowledges, escalates and then resolves an Issue
// through the annotations the incident API records; the resolve waits
// while a plan is executing.
func TestPeoplesRequests(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	p := startReconciler(t, nil)
	ns := env.NewNamespace(t, "requests", nil)

	held := newIssue(ns, "held")
	held.Spec.Resource.Name = "held"
	g.Expect(env.Client.Create(ctx, held)).To(Succeed())
	heldKey := client.ObjectKeyFromObject(held)
	decideInsight(t, ns, "held-insight", metav1.ConditionTrue)
	g.Eventually(func() *platformv1alpha1.LocalObjectReference { return get(g, heldKey).Status.PlanRef }).
		WithTimeout(lifecycleTimeout).ShouldNot(BeNil())
	g.Eventually(func(g Gomega) {
		plan := &platformv1alpha1.RemediationPlan{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "held-plan-1"}, plan)).To(Succeed())
		plan.Status.State = platformv1alpha1.PlanExecuting
		g.Expect(env.Client.Status().Update(ctx, plan)).To(Succeed())
	}).WithTimeout(lifecycleTimeout).Should(Succeed())
	annotate(t, heldKey, platformv1alpha1.AnnotationResolveRequestedBy, "key:ops", platformv1alpha1.AnnotationResolveReason, "fixed the node")
	g.Consistently(func() platformv1alpha1.IssueState { return get(g, heldKey).Status.State }).
		WithTimeout(2*time.Second).Should(Equal(platformv1alpha1.IssueRemediating), "an executing plan is not cut off")
	endPlan(t, ns, "held-plan-1", platformv1alpha1.PlanFailed)
	got := waitState(t, heldKey, platformv1alpha1.IssueResolved)
	g.Expect(got.Status.Resolution).To(Equal("Resolved by hand by key:ops: fixed the node"))

	issue := newIssue(ns, "paged")
	issue.Spec.Resource.Name = "paged"
	g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
	key := client.ObjectKeyFromObject(issue)
	waitState(t, key, platformv1alpha1.IssueAnalyzing)
	annotate(t, key, platformv1alpha1.AnnotationAcknowledgedBy, "key:alice", platformv1alpha1.AnnotationAcknowledgedAt, time.Now().UTC().Format(time.RFC3339))
	g.Eventually(func() bool { return hasEvent(get(g, key), eventAcknowledged) }).WithTimeout(lifecycleTimeout).Should(BeTrue())
	g.Expect(get(g, key).Status.State).To(Equal(platformv1alpha1.IssueAnalyzing), "acknowledging changes no state")

	annotate(t, key, platformv1alpha1.AnnotationEscalateRequestedBy, "key:alice", platformv1alpha1.AnnotationEscalateReason, "customer impact")
	got = waitState(t, key, platformv1alpha1.IssueEscalated)
	g.Expect(got.Status.EscalationReason).To(Equal(platformv1alpha1.IssueEscalationRequestedReason))

	annotate(t, key, platformv1alpha1.AnnotationResolveRequestedBy, "key:alice")
	waitState(t, key, platformv1alpha1.IssueResolved)
	g.Eventually(func() []string { return namesOf(p.watcher.releasedIn(ns)) }).WithTimeout(lifecycleTimeout).Should(ConsistOf("held", "paged"))
	g.Expect(timelineTransitions(get(g, key))).To(Equal([]string{"Detected>Analyzing", "Analyzing>Escalated", "Escalated>Resolved"}))
}

// TestAnalysisWaitsForTheSignalsOfTheFault: an Anomaly of the Issue's
// resource that is not correlated yet (it may bring the cause) holds the
// analysis back until it has joined.
func TestAnalysisWaitsForTheSignalsOfTheFault(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	startReconciler(t, nil)
	ns := env.NewNamespace(t, "joining", nil)
	issue := newIssue(ns, "checkout-crash")
	late := &platformv1alpha1.Anomaly{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-oom-kill", Labels: map[string]string{platformv1alpha1.LabelResourceKind: "Deployment"}},
		Spec: platformv1alpha1.AnomalySpec{
			SignalType: platformv1alpha1.SignalOOMKill, Source: platformv1alpha1.SourceWatcher, Resource: issue.Spec.Resource,
			Severity: platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityHigh), DetectedAt: metav1.Now(),
		},
	}
	g.Expect(env.Client.Create(ctx, late)).To(Succeed())
	g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
	key := client.ObjectKeyFromObject(issue)
	waitState(t, key, platformv1alpha1.IssueDetected)
	g.Consistently(func() platformv1alpha1.IssueState { return get(g, key).Status.State }).
		WithTimeout(time.Second).Should(Equal(platformv1alpha1.IssueDetected))

	late.Labels[platformv1alpha1.LabelIssue] = issue.Name
	g.Expect(env.Client.Update(ctx, late)).To(Succeed())
	late.Status.Correlated = true
	late.Status.IssueRef = &platformv1alpha1.LocalObjectReference{Name: issue.Name}
	g.Expect(env.Client.Status().Update(ctx, late)).To(Succeed())
	waitState(t, key, platformv1alpha1.IssueAnalyzing)
}
