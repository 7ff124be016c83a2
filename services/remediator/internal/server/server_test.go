package server

import (
	"context"
	"net"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/actions/deploymenttest"
	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/testenv"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	"github.com/chatcli/aiops/services/remediator/internal/policy"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{}) }

const testToken = "remediator-grpc-test-token-of-32-bytes!"

type P = platformv1alpha1.ActionParams

type fixture struct {
	client   remediatorv1.RemediatorServiceClient
	server   *Server
	platform string
}

// serve runs the API over TLS with a bearer token, as the remediator's
// ServiceAccount (status writes refused, as in production).
func serve(t *testing.T, tune func(*Server)) *fixture {
	t.Helper()
	platform := env.NewNamespace(t, "platform", nil)
	id := env.AsService(t, "remediator", platform)
	redis, err := redisx.New(env.Redis.URL, redisx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = redis.Close() })
	cfg := policy.Defaults()
	cfg.PlatformNamespace = platform
	cfg.ActionsPerNamespacePerHour, cfg.PlansPerHour = 1000, 1000
	s := &Server{
		Client: bootstrap.NoStatusWrites(id.Client), Reader: id.Client,
		Policy:            &policy.Policy{Config: cfg, Reader: id.Client, Redis: redis},
		PlatformNamespace: platform, Executor: &actions.DeploymentExecutor{Client: id.Client},
	}
	if tune != nil {
		tune(s)
	}
	pki, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcx.NewServer(grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	remediatorv1.RegisterRemediatorServiceServer(srv.Server, s)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpcx.Dial(lis.Addr().String(), grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &fixture{client: remediatorv1.NewRemediatorServiceClient(conn), server: s, platform: platform}
}

type incident struct {
	ns      string
	issue   *platformv1alpha1.Issue
	insight *platformv1alpha1.AIInsight
	deploy  *appsv1.Deployment
}

// newIncident makes a Remediating Issue at attempt 1 with a decided
// AIInsight suggesting actions.
func newIncident(t *testing.T, g Gomega, ready metav1.ConditionStatus, suggested ...platformv1alpha1.SuggestedAction) *incident {
	ctx := context.Background()
	ns := env.NewNamespace(t, "incident", nil)
	d := deploymenttest.New(ns, "api", 2)
	g.Expect(env.Client.Create(ctx, d)).To(Succeed())
	issue := &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-oom"},
		Spec: platformv1alpha1.IssueSpec{
			Severity: platformv1alpha1.SeverityHigh, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalOOMKill,
			Resource: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "api", UID: d.UID},
		},
	}
	g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
	issue.Status.State, issue.Status.RemediationAttempts, issue.Status.MaxRemediationAttempts = platformv1alpha1.IssueRemediating, 1, 3
	g.Expect(env.Client.Status().Update(ctx, issue)).To(Succeed())
	insight := &platformv1alpha1.AIInsight{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-oom-insight"},
		Spec:       platformv1alpha1.AIInsightSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: issue.Name}, Attempt: 1},
	}
	g.Expect(env.Client.Create(ctx, insight)).To(Succeed())
	insight.Status.Analysis = "memory limit too low"
	insight.Status.SuggestedActions = suggested
	if ready != "" {
		meta.SetStatusCondition(&insight.Status.Conditions, metav1.Condition{Type: "Ready", Status: ready, Reason: "AnalysisCompleted"})
	}
	g.Expect(env.Client.Status().Update(ctx, insight)).To(Succeed())
	return &incident{ns: ns, issue: issue, insight: insight, deploy: d}
}

func (in *incident) propose(f *fixture, attempt int32) (*remediatorv1.ProposePlanResponse, error) {
	return f.client.ProposePlan(context.Background(), &remediatorv1.ProposePlanRequest{
		Issue: &commonv1.ObjectRef{Namespace: in.ns, Name: in.issue.Name}, Attempt: attempt,
		IssueUid: string(in.issue.UID), InsightName: in.insight.Name,
	})
}

func runbook(ns, name string, signal platformv1alpha1.SignalType, steps ...platformv1alpha1.RunbookStep) *platformv1alpha1.Runbook {
	return &platformv1alpha1.Runbook{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: platformv1alpha1.RunbookSpec{
			Trigger: platformv1alpha1.RunbookTrigger{SignalType: signal, Severity: platformv1alpha1.SeverityHigh, ResourceKind: "Deployment"},
			Steps:   steps,
		},
	}
}

func step(a platformv1alpha1.ActionType, p P) platformv1alpha1.RunbookStep {
	return platformv1alpha1.RunbookStep{Name: string(a), Action: a, Params: p}
}

func reasonOf(err error) string { return grpcx.Reason(err) }

func TestProposePlanTiers(t *testing.T) {
	ctx := context.Background()
	f := serve(t, func(s *Server) { s.Agentic = true })
	scale := platformv1alpha1.SuggestedAction{Name: "Scale up", Action: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "4"}}

	t.Run("tier 1 beats tier 2, the Issue's namespace beats the platform's, then by name", func(t *testing.T) {
		g := NewWithT(t)
		in := newIncident(t, g, metav1.ConditionTrue, scale)
		for _, rb := range []*platformv1alpha1.Runbook{
			runbook(in.ns, "a-tier2-local", "", step(platformv1alpha1.ActionRestartDeployment, nil)),
			runbook(f.platform, "a-tier1-platform", platformv1alpha1.SignalOOMKill, step(platformv1alpha1.ActionRestartDeployment, nil)),
			runbook(in.ns, "z-tier1-local", platformv1alpha1.SignalOOMKill, step(platformv1alpha1.ActionScaleDeployment, P{"replicas": "3"})),
			runbook(in.ns, "b-tier1-local", platformv1alpha1.SignalOOMKill, step(platformv1alpha1.ActionScaleDeployment, P{"replicas": "3"})),
		} {
			g.Expect(env.Client.Create(ctx, rb)).To(Succeed())
			// Platform Runbooks serve every incident: leave none behind.
			t.Cleanup(func() { _ = env.Client.Delete(ctx, rb) })
		}
		resp, err := in.propose(f, 1)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.Created).To(BeTrue())
		g.Expect(resp.Plan.Name).To(Equal("api-oom-plan-1"))
		g.Expect(resp.Plan.RunbookName).To(Equal("b-tier1-local"))
		g.Expect(resp.Plan.Source).To(Equal(remediatorv1.PlanSource_PLAN_SOURCE_RUNBOOK))
		plan := &platformv1alpha1.RemediationPlan{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: in.ns, Name: "api-oom-plan-1"}, plan)).To(Succeed())
		g.Expect(metav1.IsControlledBy(plan, in.issue)).To(BeTrue())
		g.Expect(plan.Labels).To(HaveKeyWithValue(platformv1alpha1.LabelIssue, "api-oom"))
		g.Expect(plan.Spec.SafetyConstraints).NotTo(BeEmpty())
		g.Expect(plan.Spec.Strategy).To(ContainSubstring("b-tier1-local"))

		// Idempotent: the same attempt returns the same plan.
		again, err := in.propose(f, 1)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(again.Created).To(BeFalse())
		g.Expect(again.Plan.Uid).To(Equal(resp.Plan.Uid))
	})

	t.Run("the platform namespace when the Issue's has none", func(t *testing.T) {
		g := NewWithT(t)
		in := newIncident(t, g, metav1.ConditionTrue)
		shared := runbook(f.platform, "shared-oom", platformv1alpha1.SignalOOMKill, step(platformv1alpha1.ActionRestartDeployment, nil))
		g.Expect(env.Client.Create(ctx, shared)).To(Succeed())
		t.Cleanup(func() { _ = env.Client.Delete(ctx, shared) })
		resp, err := in.propose(f, 1)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.Plan.RunbookName).To(Equal(f.platform + "/shared-oom"))
	})

	t.Run("generated from the suggested actions, reused, excluded where it did not hold", func(t *testing.T) {
		g := NewWithT(t)
		in := newIncident(t, g, metav1.ConditionTrue, scale)
		resp, err := in.propose(f, 1)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.Plan.Source).To(Equal(remediatorv1.PlanSource_PLAN_SOURCE_AI_ACTIONS))
		rb := &platformv1alpha1.Runbook{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: in.ns, Name: resp.Plan.RunbookName}, rb)).To(Succeed())
		g.Expect(rb.Labels).To(HaveKeyWithValue(platformv1alpha1.LabelRunbookGenerated, "true"))
		g.Expect(rb.Spec.Origin).To(Equal(platformv1alpha1.RunbookGenerated))
		g.Expect(rb.Spec.Steps).To(HaveLen(1))
		g.Expect(rb.Spec.Steps[0].Name).To(Equal("Scale up"))

		// That plan completed; a recurrence of the Issue on the same
		// resource must not get the same Runbook again.
		plan := &platformv1alpha1.RemediationPlan{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: in.ns, Name: resp.Plan.Name}, plan)).To(Succeed())
		plan.Status.State = platformv1alpha1.PlanCompleted
		g.Expect(env.Client.Status().Update(ctx, plan)).To(Succeed())
		rec := &platformv1alpha1.Issue{ObjectMeta: metav1.ObjectMeta{Namespace: in.ns, Name: "api-oom-2"}, Spec: in.issue.Spec}
		g.Expect(env.Client.Create(ctx, rec)).To(Succeed())
		rec.Status.State, rec.Status.RemediationAttempts = platformv1alpha1.IssueRemediating, 1
		rec.Status.RecurrenceOf = &platformv1alpha1.LocalObjectReference{Name: in.issue.Name}
		g.Expect(env.Client.Status().Update(ctx, rec)).To(Succeed())
		recInsight := &platformv1alpha1.AIInsight{ObjectMeta: metav1.ObjectMeta{Namespace: in.ns, Name: "api-oom-2-insight"}, Spec: platformv1alpha1.AIInsightSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: rec.Name}}}
		g.Expect(env.Client.Create(ctx, recInsight)).To(Succeed())
		recInsight.Status = in.insight.Status
		g.Expect(env.Client.Status().Update(ctx, recInsight)).To(Succeed())
		again := &incident{ns: in.ns, issue: rec, insight: recInsight}
		resp2, err := again.propose(f, 1)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp2.Plan.Source).To(Equal(remediatorv1.PlanSource_PLAN_SOURCE_AGENTIC), "the generated Runbook did not hold here")

		// Another resource with the same suggestion reuses the Runbook.
		other := newIncident(t, g, metav1.ConditionTrue, scale)
		resp3, err := other.propose(f, 1)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp3.Plan.RunbookName).To(Equal(GeneratedRunbookName(other.issue, suggestedActions([]platformv1alpha1.SuggestedAction{scale}))))
		g.Expect(resp3.Plan.RunbookName).To(Equal(resp.Plan.RunbookName), "deterministic name")
	})

	t.Run("a promoted Runbook before the AI's actions and the loop, of any severity, not where it did not hold or recurs", func(t *testing.T) {
		g := NewWithT(t)
		in := newIncident(t, g, metav1.ConditionTrue, scale)
		promoted := func(name string, severity platformv1alpha1.Severity, signal platformv1alpha1.SignalType) *platformv1alpha1.Runbook {
			rb := runbook(in.ns, name, signal, step(platformv1alpha1.ActionAdjustResources, P{"memory_limit": "256Mi"}))
			rb.Labels = map[string]string{platformv1alpha1.LabelRunbookGenerated: "true"}
			rb.Spec.Trigger.Severity, rb.Spec.Origin = severity, platformv1alpha1.RunbookGenerated
			rb.Spec.PromotedFrom = &platformv1alpha1.LocalObjectReference{Name: "earlier-plan-1"}
			g.Expect(env.Client.Create(ctx, rb)).To(Succeed())
			return rb
		}
		promoted("a-other-signal", platformv1alpha1.SeverityHigh, platformv1alpha1.SignalCrashLoopBackOff)
		promoted("b-other-severity", platformv1alpha1.SeverityMedium, platformv1alpha1.SignalOOMKill)
		recurring := promoted("a-same-severity-recurs", platformv1alpha1.SeverityHigh, platformv1alpha1.SignalOOMKill)
		recurring.Status.TimesUsed, recurring.Status.TimesSucceeded, recurring.Status.TimesRecurred = 2, 2, 2
		g.Expect(env.Client.Status().Update(ctx, recurring)).To(Succeed())
		resp, err := in.propose(f, 1)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.Plan.Source).To(Equal(remediatorv1.PlanSource_PLAN_SOURCE_RUNBOOK), "before the suggested ScaleDeployment")
		g.Expect(resp.Plan.RunbookName).To(Equal("b-other-severity"), "the signal must match; the severity is a preference; a fix that always recurs is left out")
		g.Expect(resp.Plan.Actions[0].Type).To(Equal("AdjustResources"))
		exact := promoted("c-same-severity", platformv1alpha1.SeverityHigh, platformv1alpha1.SignalOOMKill)
		other := newIncident(t, g, metav1.ConditionTrue)
		// newIncident makes a fresh namespace: give it the same Runbooks.
		for _, rb := range []*platformv1alpha1.Runbook{exact} {
			cp := rb.DeepCopy()
			cp.ObjectMeta = metav1.ObjectMeta{Namespace: other.ns, Name: rb.Name, Labels: rb.Labels}
			g.Expect(env.Client.Create(ctx, cp)).To(Succeed())
		}
		resp, err = other.propose(f, 1)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.Plan.RunbookName).To(Equal("c-same-severity"))
	})

	t.Run("agentic when nothing else, also after a failed analysis", func(t *testing.T) {
		g := NewWithT(t)
		in := newIncident(t, g, metav1.ConditionFalse, scale)
		resp, err := in.propose(f, 1)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.Plan.Source).To(Equal(remediatorv1.PlanSource_PLAN_SOURCE_AGENTIC))
		plan := &platformv1alpha1.RemediationPlan{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: in.ns, Name: resp.Plan.Name}, plan)).To(Succeed())
		g.Expect(plan.Spec.AgenticMaxSteps).To(BeEquivalentTo(10))
	})

	t.Run("a retry excludes the actions that failed", func(t *testing.T) {
		g := NewWithT(t)
		in := newIncident(t, g, metav1.ConditionTrue, scale, platformv1alpha1.SuggestedAction{Action: platformv1alpha1.ActionRestartDeployment})
		in.issue.Status.RemediationAttempts = 2
		g.Expect(env.Client.Status().Update(ctx, in.issue)).To(Succeed())
		resp, err := f.client.ProposePlan(ctx, &remediatorv1.ProposePlanRequest{
			Issue: &commonv1.ObjectRef{Namespace: in.ns, Name: in.issue.Name}, Attempt: 2, IssueUid: string(in.issue.UID), InsightName: in.insight.Name,
			FailureContext: &remediatorv1.FailureContext{PreviousAttempt: 1, FailedActions: []*commonv1.ExecutedAction{
				{Action: &commonv1.Action{Type: "ScaleDeployment", Params: map[string]string{"replicas": "4"}}, Result: "failed"},
			}},
		})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.Plan.Name).To(Equal("api-oom-plan-2"))
		g.Expect(resp.Plan.Actions).To(HaveLen(1))
		g.Expect(resp.Plan.Actions[0].Type).To(Equal("RestartDeployment"))
	})
}

func TestProposePlanErrors(t *testing.T) {
	ctx := context.Background()
	f := serve(t, nil) // agentic off
	g := NewWithT(t)
	scale := platformv1alpha1.SuggestedAction{Action: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "4"}}

	_, err := f.client.ProposePlan(ctx, &remediatorv1.ProposePlanRequest{Attempt: 1})
	g.Expect(status.Code(err)).To(Equal(codes.InvalidArgument))

	in := newIncident(t, g, metav1.ConditionTrue, platformv1alpha1.SuggestedAction{Action: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "50"}})
	_, err = in.propose(f, 1)
	g.Expect(reasonOf(err)).To(Equal(grpcx.ReasonPlanRefusedByPolicy))
	g.Expect(grpcx.ErrorMetadata(err)).To(HaveKeyWithValue("rule", string(policy.RuleMaxReplicas)))

	none := newIncident(t, g, metav1.ConditionTrue)
	_, err = none.propose(f, 1)
	g.Expect(reasonOf(err)).To(Equal(grpcx.ReasonNoPlan))

	undecided := newIncident(t, g, "", scale)
	_, err = undecided.propose(f, 1)
	g.Expect(status.Code(err)).To(Equal(codes.FailedPrecondition))

	wrongAttempt := newIncident(t, g, metav1.ConditionTrue, scale)
	_, err = wrongAttempt.propose(f, 2)
	g.Expect(status.Code(err)).To(Equal(codes.FailedPrecondition))

	_, err = f.client.ProposePlan(ctx, &remediatorv1.ProposePlanRequest{Issue: &commonv1.ObjectRef{Namespace: in.ns, Name: "nope"}, Attempt: 1, IssueUid: "x", InsightName: "y"})
	g.Expect(status.Code(err)).To(Equal(codes.NotFound))

	recreated := newIncident(t, g, metav1.ConditionTrue, scale)
	_, err = f.client.ProposePlan(ctx, &remediatorv1.ProposePlanRequest{Issue: &commonv1.ObjectRef{Namespace: recreated.ns, Name: recreated.issue.Name}, Attempt: 1, IssueUid: "old-uid", InsightName: recreated.insight.Name})
	g.Expect(reasonOf(err)).To(Equal(grpcx.ReasonResourceGone))

	gone := newIncident(t, g, metav1.ConditionTrue, scale)
	g.Expect(env.Client.Delete(ctx, gone.deploy)).To(Succeed())
	_, err = gone.propose(f, 1)
	g.Expect(reasonOf(err)).To(Equal(grpcx.ReasonResourceGone))
	// Recreated with another uid is gone too.
	g.Expect(env.Client.Create(ctx, deploymenttest.New(gone.ns, "api", 1))).To(Succeed())
	_, err = gone.propose(f, 1)
	g.Expect(reasonOf(err)).To(Equal(grpcx.ReasonResourceGone))
}

func TestApproveAndRejectBindToWhatWasRead(t *testing.T) {
	ctx := context.Background()
	f := serve(t, nil)
	g := NewWithT(t)
	in := newIncident(t, g, metav1.ConditionTrue)
	plan := &platformv1alpha1.RemediationPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: in.ns, Name: "api-oom-plan-1"},
		Spec: platformv1alpha1.RemediationPlanSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: in.issue.Name}, Attempt: 1,
			Actions:  []platformv1alpha1.RemediationAction{{Type: platformv1alpha1.ActionRestartDeployment}},
			Approval: &platformv1alpha1.PlanApprovalSpec{Required: true}},
	}
	g.Expect(env.Client.Create(ctx, plan)).To(Succeed())
	ref := &commonv1.ObjectRef{Namespace: in.ns, Name: plan.Name}
	approve := func(uid string, gen int64) error {
		_, err := f.client.ApprovePlan(ctx, &remediatorv1.ApprovePlanRequest{Plan: ref, Approver: "alice", PlanUid: uid, PlanGeneration: gen})
		return err
	}
	g.Expect(reasonOf(approve(string(plan.UID), 1))).To(Equal(ReasonPlanNotWaitingApproval), "still Pending")
	plan.Status.State = platformv1alpha1.PlanWaitingApproval
	g.Expect(env.Client.Status().Update(ctx, plan)).To(Succeed())
	g.Expect(reasonOf(approve("other-uid", 1))).To(Equal(grpcx.ReasonApprovalStale))
	g.Expect(reasonOf(approve(string(plan.UID), 2))).To(Equal(grpcx.ReasonApprovalStale))
	g.Expect(status.Code(approve(string(plan.UID), 0))).To(Equal(codes.InvalidArgument))
	g.Expect(approve(string(plan.UID), 1)).To(Succeed())
	g.Expect(approve(string(plan.UID), 1)).To(Succeed(), "a repeat is a no-op")
	_, err := f.client.RejectPlan(ctx, &remediatorv1.RejectPlanRequest{Plan: ref, Rejecter: "bob", PlanUid: string(plan.UID), PlanGeneration: 1})
	g.Expect(reasonOf(err)).To(Equal(ReasonPlanNotWaitingApproval))
	got := &platformv1alpha1.RemediationPlan{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(plan), got)).To(Succeed())
	d, err := ParseDecision(got)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.Decision).To(Equal(DecisionApprove))
	g.Expect(d.By).To(Equal("alice"))
}

func TestValidateListDryRunPromote(t *testing.T) {
	ctx := context.Background()
	f := serve(t, nil)
	g := NewWithT(t)
	in := newIncident(t, g, metav1.ConditionTrue)
	g.Expect(deploymenttest.Rollout(ctx, env.Client, client.ObjectKeyFromObject(in.deploy), deploymenttest.Options{})).To(Succeed())
	target := &commonv1.ResourceRef{Kind: "Deployment", Namespace: in.ns, Name: "api"}

	list, err := f.client.ListActions(ctx, &remediatorv1.ListActionsRequest{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(list.Actions).To(HaveLen(55))
	deps, err := f.client.ListActions(ctx, &remediatorv1.ListActionsRequest{TargetKind: "Deployment"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(deps.Actions).To(HaveLen(6))

	v, err := f.client.ValidatePlan(ctx, &remediatorv1.ValidatePlanRequest{Target: target, Actions: []*commonv1.Action{
		{Type: "ScaleDeployment", Params: map[string]string{"replicas": "3"}}, {Type: "Custom"},
	}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(v.Allowed).To(BeFalse())
	g.Expect(v.Verdicts[0].Verdict).To(Equal(remediatorv1.Verdict_VERDICT_ALLOWED))
	g.Expect(v.Verdicts[1].Verdict).To(Equal(remediatorv1.Verdict_VERDICT_DENIED))
	g.Expect(v.Verdicts[1].Reasons[0]).To(HavePrefix(string(policy.RuleCustom)))

	dr, err := f.client.DryRun(ctx, &remediatorv1.DryRunRequest{Source: &remediatorv1.DryRunRequest_Inline{Inline: &remediatorv1.InlinePlan{Target: target, Actions: []*commonv1.Action{
		{Type: "AdjustResources", Params: map[string]string{"memory_limit": "1Gi"}}, {Type: "Custom"},
	}}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(dr.Results[0].Succeeded).To(BeTrue(), dr.Results[0].Message)
	g.Expect(dr.Results[0].Message).To(And(ContainSubstring("-          memory: 512Mi"), ContainSubstring("+          memory: 1Gi")))
	g.Expect(dr.Results[0].ChangedObjects).To(ConsistOf("Deployment/" + in.ns + "/api"))
	g.Expect(dr.Results[1].Verdict).To(Equal(remediatorv1.Verdict_VERDICT_DENIED))
	live := &appsv1.Deployment{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(in.deploy), live)).To(Succeed())
	g.Expect(live.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String()).To(Equal("512Mi"), "a dry-run changes nothing")

	// Promote a completed plan, twice.
	plan := &platformv1alpha1.RemediationPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: in.ns, Name: "api-oom-plan-1"},
		Spec:       platformv1alpha1.RemediationPlanSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: in.issue.Name}, Attempt: 1, AgenticMode: true, AgenticMaxSteps: 10},
	}
	g.Expect(env.Client.Create(ctx, plan)).To(Succeed())
	ref := &commonv1.ObjectRef{Namespace: in.ns, Name: plan.Name}
	_, err = f.client.PromoteRunbook(ctx, &remediatorv1.PromoteRunbookRequest{Plan: ref})
	g.Expect(status.Code(err)).To(Equal(codes.FailedPrecondition), "not Completed")
	now := metav1.NewTime(time.Now())
	plan.Status.State, plan.Status.CompletedAt = platformv1alpha1.PlanCompleted, &now
	plan.Status.ActionResults = []platformv1alpha1.ActionResult{{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}, Result: platformv1alpha1.ActionSucceeded}}
	g.Expect(env.Client.Status().Update(ctx, plan)).To(Succeed())
	p1, err := f.client.PromoteRunbook(ctx, &remediatorv1.PromoteRunbookRequest{Plan: ref})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(p1.Created).To(BeTrue())
	p2, err := f.client.PromoteRunbook(ctx, &remediatorv1.PromoteRunbookRequest{Plan: ref})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(p2.Created).To(BeFalse())
	g.Expect(p2.RunbookName).To(Equal(p1.RunbookName))
	rb := &platformv1alpha1.Runbook{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: in.ns, Name: p1.RunbookName}, rb)).To(Succeed())
	g.Expect(rb.Spec.PromotedFrom.Name).To(Equal(plan.Name))
}

var _ grpc.CallOption
