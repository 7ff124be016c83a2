package policy

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/actions/deploymenttest"
	"github.com/chatcli/aiops/libs/actions/jobtest"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/testenv"
	"github.com/chatcli/aiops/services/remediator/internal/audit"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{}) }

type P = platformv1alpha1.ActionParams

func act(t platformv1alpha1.ActionType, p P) platformv1alpha1.RemediationAction {
	return platformv1alpha1.RemediationAction{Type: t, Params: p}
}

func newRedis(t *testing.T) *redisx.Client {
	t.Helper()
	srv, err := testenv.StartLocalRedis(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	r, err := redisx.New(srv.URL, redisx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestEveryRuleAllowsAndRefuses has, for every rule, a case it lets through
// and a case it refuses.
func TestEveryRuleAllowsAndRefuses(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "policy", nil)
	approvalNS := env.NewNamespace(t, "guarded", map[string]string{ApprovalLabel: "required"})
	platformNS := env.NewNamespace(t, "platform", nil)
	for _, n := range []string{ns, approvalNS, platformNS} {
		d := deploymenttest.New(n, "api", 3)
		NewWithT(t).Expect(env.Client.Create(ctx, d)).To(Succeed())
	}
	live := &appsv1.Deployment{}
	NewWithT(t).Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api"}, live)).To(Succeed())
	target := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "api", UID: live.UID}
	in := func(n string) platformv1alpha1.ResourceReference {
		return platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: n, Name: "api"}
	}
	pod := act(platformv1alpha1.ActionDeletePod, nil)

	for _, tc := range []struct {
		name        string
		action      platformv1alpha1.RemediationAction
		target      platformv1alpha1.ResourceReference
		plan        []platformv1alpha1.RemediationAction
		config      func(*Config)
		constraints []string
		rule        Rule // refusing rule; empty means allowed
		approval    Rule // the rule asking for approval, if any
	}{
		{name: "custom refused", action: act(platformv1alpha1.ActionCustom, nil), target: target, rule: RuleCustom},
		{name: "unknown type refused", action: act("Reboot", nil), target: target, rule: RuleCatalogue},
		{name: "catalogue action allowed", action: act(platformv1alpha1.ActionRestartDeployment, nil), target: target},
		{name: "bad params refused", action: act(platformv1alpha1.ActionScaleDeployment, P{"replicas": "lots"}), target: target, rule: RuleParams},
		{name: "good params allowed", action: act(platformv1alpha1.ActionScaleDeployment, P{"replicas": "4"}), target: target},
		{name: "unimplemented refused", action: act(platformv1alpha1.ActionCordonNode, nil), target: target, rule: RuleNotImplemented},
		{name: "implemented allowed", action: act(platformv1alpha1.ActionRollbackDeployment, nil), target: target},
		{name: "wrong kind refused", action: act(platformv1alpha1.ActionRestartDeployment, nil), target: platformv1alpha1.ResourceReference{Kind: "StatefulSet", Namespace: ns, Name: "api"}, rule: RuleTargetKind},
		{name: "missing target refused", action: act(platformv1alpha1.ActionRestartDeployment, nil), target: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "gone"}, rule: RuleTargetExists},
		{name: "recreated target refused", action: act(platformv1alpha1.ActionRestartDeployment, nil), target: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "api", UID: types.UID("0ld")}, rule: RuleTargetUID},
		{name: "kube-system refused", action: act(platformv1alpha1.ActionRestartDeployment, nil), target: in("kube-system"), rule: RuleNamespace},
		{name: "platform namespace refused", action: act(platformv1alpha1.ActionRestartDeployment, nil), target: in(platformNS), rule: RuleNamespace},
		{name: "platform namespace allowed when configured", action: act(platformv1alpha1.ActionRestartDeployment, nil), target: in(platformNS), config: func(c *Config) { c.AllowedNamespaces = []string{platformNS} }},
		{name: "above max refused", action: act(platformv1alpha1.ActionScaleDeployment, P{"replicas": "6"}), target: target, config: func(c *Config) { c.MaxReplicas = 5 }, rule: RuleMaxReplicas},
		{name: "at max allowed", action: act(platformv1alpha1.ActionScaleDeployment, P{"replicas": "5"}), target: target, config: func(c *Config) { c.MaxReplicas = 5 }},
		{name: "more than twice refused", action: act(platformv1alpha1.ActionScaleDeployment, P{"replicas": "7"}), target: target, rule: RuleScaleFactor},
		{name: "twice allowed", action: act(platformv1alpha1.ActionScaleDeployment, P{"replicas": "6"}), target: target},
		{name: "zero without containment refused", action: act(platformv1alpha1.ActionScaleDeployment, P{"replicas": "0"}), target: target, rule: RuleScaleToZero},
		{name: "zero as containment needs approval", action: act(platformv1alpha1.ActionScaleDeployment, P{"replicas": "0", "containment": "true"}), target: target, approval: RuleApprovalZero},
		{name: "one pod deletion allowed", action: pod, target: target, plan: []platformv1alpha1.RemediationAction{pod, act(platformv1alpha1.ActionRestartDeployment, nil)}},
		{name: "two pod deletions refused", action: pod, target: target, plan: []platformv1alpha1.RemediationAction{pod, pod}, rule: RulePodDeletions},
		{name: "resources within factor allowed", action: act(platformv1alpha1.ActionAdjustResources, P{"memory_limit": "2Gi"}), target: target},
		{name: "resources beyond factor refused", action: act(platformv1alpha1.ActionAdjustResources, P{"memory_limit": "3Gi"}), target: target, rule: RuleResourceFactor},
		{name: "resources shrunk beyond factor refused", action: act(platformv1alpha1.ActionAdjustResources, P{"cpu_request": "10m"}), target: target, rule: RuleResourceFactor},
		{name: "limit below the current request refused", action: act(platformv1alpha1.ActionAdjustResources, P{"memory_limit": "200Mi"}), target: target, rule: RuleLimitRequest},
		{name: "limit above the current request allowed", action: act(platformv1alpha1.ActionAdjustResources, P{"memory_limit": "300Mi"}), target: target},
		{name: "destructive class needs approval", action: act(platformv1alpha1.ActionRestartDeployment, nil), target: target, config: func(c *Config) { c.ApprovalClasses = append(c.ApprovalClasses, "safe") }, approval: RuleApprovalClass},
		{name: "no-delete constraint refuses a pod deletion", action: pod, target: target, constraints: []string{"No delete operations"}, rule: RuleNoDelete},
		{name: "no-delete constraint allows a restart", action: act(platformv1alpha1.ActionRestartDeployment, nil), target: target, constraints: []string{"No delete operations"}},
		{name: "no-destructive constraint refuses containment", action: act(platformv1alpha1.ActionScaleDeployment, P{"replicas": "0", "containment": "true"}), target: target, constraints: []string{"No destructive changes."}, rule: RuleNoDestructive},
		{name: "no-destructive constraint allows a disruptive pod deletion", action: pod, target: target, constraints: []string{"no destructive changes"}},
		{name: "approval namespace needs approval", action: act(platformv1alpha1.ActionRestartDeployment, nil), target: in(approvalNS), approval: RuleApprovalNS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			cfg := Defaults()
			cfg.PlatformNamespace = platformNS
			if tc.config != nil {
				tc.config(&cfg)
			}
			var log bytes.Buffer
			p := &Policy{Config: cfg, Reader: env.Client, Redis: newRedis(t), Audit: audit.New(&log)}
			plan := Plan{Name: "p", Namespace: tc.target.Namespace, UID: "u1", Actions: tc.plan, Constraints: tc.constraints}
			v, err := p.Decide(ctx, "test", tc.action, tc.target, plan, Check)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(v.Allowed).To(Equal(tc.rule == ""), "%+v", v)
			g.Expect(v.Rule).To(Equal(tc.rule), v.Reason)
			g.Expect(v.ApprovalRule).To(Equal(tc.approval))
			g.Expect(v.ApprovalRequired).To(Equal(tc.approval != ""))
			g.Expect(log.String()).To(ContainSubstring(`"kind":"policy_decision"`))
			if tc.rule != "" {
				g.Expect(log.String()).To(ContainSubstring(`"rule":"` + string(tc.rule) + `"`))
			}
		})
	}
}

// TestBudgets spends the namespace and the cluster budgets to their limit,
// checks that a retried spend counts once, and that Redis down decides
// nothing.
func TestBudgets(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.NewNamespace(t, "budget", nil)
	g.Expect(env.Client.Create(ctx, deploymenttest.New(ns, "api", 2))).To(Succeed())
	target := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "api"}
	cfg := Defaults()
	cfg.ActionsPerNamespacePerHour = 2
	cfg.PlansPerHour = 2
	now := time.Date(2026, 1, 1, 10, 5, 0, 0, time.UTC)
	p := &Policy{Config: cfg, Reader: env.Client, Redis: newRedis(t), Now: func() time.Time { return now }}
	restart := act(platformv1alpha1.ActionRestartDeployment, nil)
	decide := func(uid string, index int32, mode Mode) Verdict {
		v, err := p.Decide(ctx, "test", restart, target, Plan{Name: uid, UID: types.UID(uid), Index: index}, mode)
		g.Expect(err).NotTo(HaveOccurred())
		return v
	}
	g.Expect(decide("a", 0, Spend).Allowed).To(BeTrue())
	g.Expect(decide("a", 0, Spend).Allowed).To(BeTrue(), "a retried spend is free")
	g.Expect(decide("a", 1, Spend).Allowed).To(BeTrue())
	v := decide("b", 0, Spend)
	g.Expect(v.Rule).To(Equal(RuleNamespaceBudget), "the namespace spent 2 actions")
	g.Expect(decide("a", 1, Spend).Allowed).To(BeTrue(), "a retry of a spent action is still free")
	// b counted as a started plan (the cluster budget is spent first), so
	// a check for a third plan finds the cluster budget spent.
	g.Expect(decide("c", 0, Check).Rule).To(Equal(RuleClusterBudget), "a check reads the same budgets")

	// Plans a and b started; c is the third plan of the hour.
	p.Config.ActionsPerNamespacePerHour = 100
	g.Expect(decide("c", 0, Spend).Rule).To(Equal(RuleClusterBudget))
	now = now.Add(time.Hour)
	g.Expect(decide("c", 0, Spend).Allowed).To(BeTrue(), "a new window")

	p.Redis = nil
	_, err := p.Decide(ctx, "test", restart, target, Plan{UID: "d"}, Check)
	g.Expect(err).To(MatchError(ErrUnavailable))
	g.Expect(strings.Contains(err.Error(), "Redis")).To(BeTrue())
}

func TestConstraintsShowWhatIsNotEnforced(t *testing.T) {
	g := NewWithT(t)
	enforced, unknown := Constraints([]string{"No delete operations", "Rollback on failure", "Be careful"})
	g.Expect(enforced).To(Equal(map[string]Rule{"No delete operations": RuleNoDelete, "Rollback on failure": RuleAlways}))
	g.Expect(unknown).To(ConsistOf("Be careful"))
}

// TestJobTargets: the Job actions act on Jobs only, and the Deployment
// ones never on a Job; the uid rule lets a plan act on the Job its own
// RetryJob created, and no one else's.
func TestJobTargets(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "jobs", nil)
	NewWithT(t).Expect(env.Client.Create(ctx, deploymenttest.New(ns, "api", 2))).To(Succeed())
	newJob := func(name string, parallelism int32, annotations map[string]string) platformv1alpha1.ResourceReference {
		j := jobtest.New(ns, name)
		j.Spec.Parallelism = &parallelism
		j.Annotations = annotations
		NewWithT(t).Expect(env.Client.Create(ctx, j)).To(Succeed())
		return platformv1alpha1.ResourceReference{Kind: "Job", Namespace: ns, Name: name, UID: j.UID}
	}
	job := newJob("nightly", 2, nil)
	// A Job a RetryJob of plan u1 created in place of the Issue's.
	retried := newJob("retried", 1, map[string]string{actions.AnnotationRetryKey: "u1/0"})
	retried.UID = "the-issues-uid"
	deployment := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "api"}

	for _, tc := range []struct {
		name        string
		action      platformv1alpha1.RemediationAction
		target      platformv1alpha1.ResourceReference
		planUID     types.UID
		constraints []string
		rule        Rule
	}{
		{name: "retry on a Job allowed", action: act(platformv1alpha1.ActionRetryJob, nil), target: job},
		{name: "retry on a Deployment refused", action: act(platformv1alpha1.ActionRetryJob, nil), target: deployment, rule: RuleTargetKind},
		{name: "scale on a Job refused", action: act(platformv1alpha1.ActionScaleDeployment, P{"replicas": "3"}), target: job, rule: RuleTargetKind},
		{name: "suspend allowed", action: act(platformv1alpha1.ActionSuspendJob, nil), target: job},
		{name: "backoff limit allowed", action: act(platformv1alpha1.ActionAdjustJobBackoffLimit, P{"backoffLimit": "4"}), target: job},
		{name: "deadline allowed", action: act(platformv1alpha1.ActionAdjustJobDeadline, P{"activeDeadlineSeconds": "3600"}), target: job},
		{name: "parallelism twice allowed", action: act(platformv1alpha1.ActionAdjustJobParallelism, P{"parallelism": "4"}), target: job},
		{name: "parallelism more than twice refused", action: act(platformv1alpha1.ActionAdjustJobParallelism, P{"parallelism": "5"}), target: job, rule: RuleScaleFactor},
		{name: "parallelism above max refused", action: act(platformv1alpha1.ActionAdjustJobParallelism, P{"parallelism": "21"}), target: newJob("wide", 20, nil), rule: RuleMaxReplicas},
		{name: "retry under no-delete refused", action: act(platformv1alpha1.ActionRetryJob, nil), target: job, constraints: []string{"No delete operations"}, rule: RuleNoDelete},
		{name: "job resources within factor allowed", action: act(platformv1alpha1.ActionAdjustJobResources, P{"memory_limit": "1Gi"}), target: job},
		{name: "job resources beyond factor refused", action: act(platformv1alpha1.ActionAdjustJobResources, P{"memory_limit": "2Gi"}), target: job, rule: RuleResourceFactor},
		{name: "job resources under no-delete refused", action: act(platformv1alpha1.ActionAdjustJobResources, P{"memory_limit": "512Mi"}), target: job, constraints: []string{"No delete operations"}, rule: RuleNoDelete},
		{name: "unimplemented Job action refused", action: act(platformv1alpha1.ActionForceDeleteJobPods, nil), target: job, rule: RuleNotImplemented},
		{name: "the plan's own retried Job allowed", action: act(platformv1alpha1.ActionResumeJob, nil), target: retried, planUID: "u1"},
		{name: "another plan's retried Job refused", action: act(platformv1alpha1.ActionResumeJob, nil), target: retried, planUID: "u2", rule: RuleTargetUID},
		{name: "a retried Job outside a plan refused", action: act(platformv1alpha1.ActionResumeJob, nil), target: retried, rule: RuleTargetUID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			p := &Policy{Config: Defaults(), Reader: env.Client, Redis: newRedis(t), Audit: audit.New(&bytes.Buffer{})}
			v, err := p.Decide(ctx, "test", tc.action, tc.target, Plan{Name: "p", Namespace: ns, UID: tc.planUID, Constraints: tc.constraints}, Check)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(v.Rule).To(Equal(tc.rule), v.Reason)
			g.Expect(v.Allowed).To(Equal(tc.rule == ""), "%+v", v)
		})
	}
}
