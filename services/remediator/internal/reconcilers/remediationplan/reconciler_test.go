package remediationplan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/actions/deploymenttest"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/testenv"
	"github.com/chatcli/aiops/services/remediator/internal/audit"
	"github.com/chatcli/aiops/services/remediator/internal/policy"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

type P = platformv1alpha1.ActionParams

// syncBuffer is an audit sink the test reads while the reconciler writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	redisServer *testenv.Redis
	redis       *redisx.Client
	audit       *syncBuffer
	client      client.Client
}

func newRedis(t testing.TB) (*testenv.Redis, *redisx.Client) {
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
	return srv, r
}

// start runs the reconciler as the remediator's ServiceAccount under its
// generated role.
func start(t testing.TB, tune func(*Reconciler)) *harness {
	t.Helper()
	h := &harness{audit: &syncBuffer{}}
	h.redisServer, h.redis = newRedis(t)
	id := env.AsService(t, "remediator", env.NewNamespace(t, "platform", nil))
	h.client = id.Client
	mgr, err := ctrl.NewManager(id.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	log := audit.New(h.audit)
	// The remediator's own client-side limits (the bootstrap's), not
	// client-go's default of 5 requests a second.
	cfg := rest.CopyConfig(id.Config)
	cfg.QPS, cfg.Burst = 200, 400
	direct, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{
		Client:   direct,
		Executor: &actions.DeploymentExecutor{Client: direct},
		Policy:   &policy.Policy{Config: policy.Defaults(), Reader: direct, Redis: h.redis, Audit: log},
		Redis:    h.redis, Audit: log, Now: time.Now,
		StabilityWindow: time.Second, PollInterval: 100 * time.Millisecond, AgenticObserveInterval: 200 * time.Millisecond,
	}
	if tune != nil {
		tune(r)
	}
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
	return h
}

// scenario is an Issue on a rolled-out Deployment.
type scenario struct {
	ns     string
	deploy client.ObjectKey
	issue  *platformv1alpha1.Issue
}

func newScenario(t *testing.T, g Gomega, replicas int32) *scenario {
	ctx := context.Background()
	ns := env.NewNamespace(t, "plan", nil)
	d := deploymenttest.New(ns, "api", replicas)
	g.Expect(env.Client.Create(ctx, d)).To(Succeed())
	key := client.ObjectKeyFromObject(d)
	g.Expect(deploymenttest.Rollout(ctx, env.Client, key, deploymenttest.Options{})).To(Succeed())
	issue := &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-oom"},
		Spec: platformv1alpha1.IssueSpec{
			Severity: platformv1alpha1.SeverityHigh, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalOOMKill,
			Resource: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "api", UID: d.UID},
		},
	}
	g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
	return &scenario{ns: ns, deploy: key, issue: issue}
}

func (s *scenario) plan(g Gomega, name string, acts ...platformv1alpha1.RemediationAction) *platformv1alpha1.RemediationPlan {
	p := &platformv1alpha1.RemediationPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name, Labels: map[string]string{platformv1alpha1.LabelIssue: s.issue.Name}},
		Spec:       platformv1alpha1.RemediationPlanSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: s.issue.Name}, Attempt: 1, Actions: acts},
	}
	g.Expect(controllerutil.SetControllerReference(s.issue, p, env.Scheme)).To(Succeed())
	return p
}

// playController rolls the Deployment out whenever its spec changed, as
// the controllers would, until the test ends. opts is read on every roll.
func (s *scenario) playController(t *testing.T, opts func() deploymenttest.Options) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			d := &appsv1.Deployment{}
			if env.Client.Get(ctx, s.deploy, d) == nil {
				o := deploymenttest.Options{}
				if opts != nil {
					o = opts()
				}
				if d.Status.ObservedGeneration < d.Generation || o.Restarts > 0 {
					_ = deploymenttest.Rollout(ctx, env.Client, s.deploy, o)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

func getPlan(g Gomega, p *platformv1alpha1.RemediationPlan) *platformv1alpha1.RemediationPlan {
	out := &platformv1alpha1.RemediationPlan{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(p), out)).To(Succeed())
	return out
}

func waitState(g Gomega, p *platformv1alpha1.RemediationPlan, state platformv1alpha1.PlanState) *platformv1alpha1.RemediationPlan {
	var got *platformv1alpha1.RemediationPlan
	g.Eventually(func(g Gomega) {
		got = getPlan(g, p)
		g.Expect(got.Status.State).To(Equal(state), "result: %s; verification: %+v; conditions: %+v", got.Status.Result, got.Status.Verification, got.Status.Conditions)
	}).WithTimeout(40 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	return got
}

func replicas(g Gomega, key client.ObjectKey) int32 {
	d := &appsv1.Deployment{}
	g.Expect(env.Client.Get(context.Background(), key, d)).To(Succeed())
	return *d.Spec.Replicas
}

func condReason(p *platformv1alpha1.RemediationPlan, typ string) string {
	if c := meta.FindStatusCondition(p.Status.Conditions, typ); c != nil {
		return string(c.Status) + "/" + c.Reason
	}
	return ""
}

func TestAPlanExecutesVerifiesAndCompletes(t *testing.T) {
	g := NewWithT(t)
	h := start(t, nil)
	s := newScenario(t, g, 2)
	s.playController(t, nil)
	p := s.plan(g, "api-oom-plan-1",
		platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "4"}},
		platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRestartDeployment})
	g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanCompleted)

	g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(4))
	g.Expect(got.Status.ResolvedTarget.UID).To(Equal(s.issue.Spec.Resource.UID))
	g.Expect(got.Status.ActionResults).To(HaveLen(2))
	for i, r := range got.Status.ActionResults {
		g.Expect(*r.Index).To(BeEquivalentTo(i))
		g.Expect(r.Result).To(Equal(platformv1alpha1.ActionSucceeded))
		g.Expect(r.Snapshot).NotTo(BeEmpty())
	}
	g.Expect(got.Status.PendingAction).To(BeNil())
	v := got.Status.Verification
	g.Expect(*v.Healthy).To(BeTrue())
	g.Expect(v.HealthySince).NotTo(BeNil())
	g.Expect(v.Checks).To(HaveLen(5))
	g.Expect(condReason(got, platformv1alpha1.RemediationPlanVerifiedCondition)).To(Equal("True/Healthy"))
	g.Expect(condReason(got, platformv1alpha1.RemediationPlanApprovedCondition)).To(Equal("True/ApprovalNotRequired"))
	g.Expect(condReason(got, TargetLockedCondition)).To(Equal("False/" + LockReleasedReason))
	g.Expect(condReason(got, SafetyConstraintsCondition)).To(Equal("True/Enforced"))
	g.Expect(got.Status.CompletedAt).NotTo(BeNil())
	g.Expect(h.audit.String()).To(And(ContainSubstring(`"kind":"action_start"`), ContainSubstring(`"kind":"action_result"`)))
	// The lock is free again.
	l, err := h.redis.Acquire(context.Background(), LockPurpose, *got.Status.ResolvedTarget, redisx.LockOptions{NoRenew: true})
	g.Expect(err).NotTo(HaveOccurred())
	_ = l.Release(context.Background())
}

// TestReadOnlyStepsShareTheNextStepsWrite counts the status writes of
// a plan that scales a Deployment and completes. Pending only reads, so
// its move to Executing goes with the first action's record; the last
// result goes with the opened verification. Then the verification's
// own: the rollout awaited (more than one when the checks change while
// pods start), healthy, Completed: five in all on an idle machine.
func TestReadOnlyStepsShareTheNextStepsWrite(t *testing.T) {
	g := NewWithT(t)
	writes := testenv.NewStatusWrites(func(o client.Object) (string, bool) {
		p, ok := o.(*platformv1alpha1.RemediationPlan)
		if !ok {
			return "", false
		}
		return string(p.Status.State), true
	})
	start(t, func(r *Reconciler) { r.Client = writes.Wrap(r.Client) })
	s := newScenario(t, g, 2)
	s.playController(t, nil)
	p := s.plan(g, "api-oom-plan-1", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}})
	g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
	waitState(g, p, platformv1alpha1.PlanCompleted)

	got := writes.Of(p.Name)
	t.Logf("status writes, by the state each left: %v", got)
	g.Expect(len(got)).To(BeNumerically(">=", 3), "status writes, by the state each left: %v", got)
	// One write before verifying: Pending, Executing and the action's
	// record and result are never written on their own.
	g.Expect(got[:2]).To(HaveExactElements(string(platformv1alpha1.PlanExecuting), string(platformv1alpha1.PlanVerifying)), "status writes: %v", got)
	g.Expect(got[len(got)-1]).To(Equal(string(platformv1alpha1.PlanCompleted)), "the last write: %v", got)
	g.Expect(len(got)).To(BeNumerically("<=", 8), "status writes: %v", got)
}

// TestSafetyConstraintsAreEnforcedOrShownAsNot: "No delete operations"
// refuses the plan's DeletePod; an unknown constraint is reported.
func TestSafetyConstraintsAreEnforcedOrShownAsNot(t *testing.T) {
	g := NewWithT(t)
	start(t, nil)
	s := newScenario(t, g, 2)
	p := s.plan(g, "api-oom-plan-1", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionDeletePod})
	p.Spec.SafetyConstraints = []string{"No delete operations", "Be gentle"}
	g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanFailed)
	g.Expect(condReason(got, platformv1alpha1.RemediationPlanPolicyAllowedCondition)).To(Equal("False/PolicyDenied"))
	g.Expect(meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.RemediationPlanPolicyAllowedCondition).Message).To(ContainSubstring(string(policy.RuleNoDelete)))
	g.Expect(condReason(got, SafetyConstraintsCondition)).To(Equal("False/NotEnforced"))
	g.Expect(meta.FindStatusCondition(got.Status.Conditions, SafetyConstraintsCondition).Message).To(ContainSubstring("Be gentle"))
	g.Expect(got.Status.ActionResults).To(ConsistOf(HaveField("Result", platformv1alpha1.ActionSkipped)))
}

func TestAFailedActionRollsBack(t *testing.T) {
	g := NewWithT(t)
	start(t, nil)
	s := newScenario(t, g, 2)
	s.playController(t, nil)
	p := s.plan(g, "api-oom-plan-1",
		platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}},
		platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRollbackDeployment, Params: P{"toRevision": "9"}})
	g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanRolledBack)
	g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(2), "the scale was undone")
	g.Expect(got.Status.ActionResults).To(HaveLen(2))
	g.Expect(got.Status.ActionResults[0].Result).To(Equal(platformv1alpha1.ActionRolledBack))
	g.Expect(got.Status.ActionResults[1].Result).To(Equal(platformv1alpha1.ActionFailed))
	g.Expect(got.Status.RollbackResults).NotTo(BeEmpty())
	g.Expect(condReason(got, platformv1alpha1.RemediationPlanVerifiedCondition)).To(Equal("False/RolledBack"))
}

func TestVerificationFailsInsideTheStabilityWindow(t *testing.T) {
	g := NewWithT(t)
	start(t, func(r *Reconciler) { r.StabilityWindow = 3 * time.Second })
	s := newScenario(t, g, 2)
	var mu sync.Mutex
	restarts := int32(0)
	s.playController(t, func() deploymenttest.Options {
		mu.Lock()
		defer mu.Unlock()
		return deploymenttest.Options{Restarts: restarts}
	})
	p := s.plan(g, "api-oom-plan-1", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}})
	g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(getPlan(g, p).Status.Verification).NotTo(BeNil())
		g.Expect(getPlan(g, p).Status.Verification.HealthySince).NotTo(BeNil())
	}).WithTimeout(30 * time.Second).Should(Succeed())
	mu.Lock()
	restarts = 2 // the "fix" breaks again
	mu.Unlock()
	got := waitState(g, p, platformv1alpha1.PlanRolledBack)
	g.Expect(*got.Status.Verification.Healthy).To(BeFalse())
	g.Expect(condReason(got, platformv1alpha1.RemediationPlanVerifiedCondition)).To(Equal("False/VerificationFailed"))
	g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(2))
}

// TestAVerificationFailsFastWhenEveryNewPodBacksOff: a fix whose pods all
// crash-loop cannot become healthy, and the plan says so after
// BrokenRolloutAfter, not after the Deployment's progress deadline.
func TestAVerificationFailsFastWhenEveryNewPodBacksOff(t *testing.T) {
	g := NewWithT(t)
	start(t, func(r *Reconciler) { r.BrokenRolloutAfter = time.Second })
	s := newScenario(t, g, 2)
	s.playController(t, func() deploymenttest.Options { return deploymenttest.Options{Waiting: "CrashLoopBackOff"} })
	p := s.plan(g, "api-oom-plan-1", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionAdjustResources, Params: P{"memory_limit": "1Gi"}})
	g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanRolledBack)
	g.Expect(condReason(got, platformv1alpha1.RemediationPlanVerifiedCondition)).To(Equal("False/VerificationFailed"))
	g.Expect(got.Status.Verification.Checks).To(ContainElement(And(HaveField("Name", "current-pods-running"), HaveField("Message", ContainSubstring("CrashLoopBackOff")))))
	g.Expect(got.Status.Verification.Deadline.Sub(got.Status.CompletedAt.Time)).To(BeNumerically(">", time.Minute), "failed long before the deadline")
}

func TestVerificationTimesOut(t *testing.T) {
	g := NewWithT(t)
	start(t, func(r *Reconciler) { r.VerifyTimeout = 2 * time.Second })
	s := newScenario(t, g, 2)
	// No controller: the change is never observed, so it is never healthy.
	p := s.plan(g, "api-oom-plan-1", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}})
	g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanRolledBack)
	g.Expect(condReason(got, platformv1alpha1.RemediationPlanVerifiedCondition)).To(Equal("False/VerificationTimeout"))
	g.Expect(got.Status.Verification.Checks).To(ContainElement(HaveField("Name", "rollout-observed")))
	g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(2))
}

// TestTwoPlansOnOneDeploymentRunOneAfterTheOther: the second plan's first
// action starts only after the first plan finished verifying.
func TestTwoPlansOnOneDeploymentRunOneAfterTheOther(t *testing.T) {
	g := NewWithT(t)
	start(t, nil)
	s := newScenario(t, g, 2)
	s.playController(t, nil)
	a := s.plan(g, "api-oom-plan-1", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}})
	b := s.plan(g, "api-oom-plan-2", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRestartDeployment})
	g.Expect(env.Client.Create(context.Background(), a)).To(Succeed())
	g.Expect(env.Client.Create(context.Background(), b)).To(Succeed())
	ga := waitState(g, a, platformv1alpha1.PlanCompleted)
	gb := waitState(g, b, platformv1alpha1.PlanCompleted)
	first, second := ga, gb
	if gb.Status.CompletedAt.Before(ga.Status.CompletedAt) {
		first, second = gb, ga
	}
	g.Expect(second.Status.ActionResults[0].StartedAt.Time).NotTo(BeTemporally("<", first.Status.CompletedAt.Time),
		"the second plan acted while the first held the lock")
}

// TestAForceDeletedPlanFreesItsTarget: a plan deleted while it holds the
// lock (the webhook's force-delete override) lets go of it, so the next
// plan on the same Deployment runs instead of waiting for a restart.
func TestAForceDeletedPlanFreesItsTarget(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	start(t, nil)
	s := newScenario(t, g, 2)
	s.playController(t, nil)
	stuck := s.plan(g, "api-oom-plan-1", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRestartDeployment})
	stuck.Annotations = map[string]string{AnnotationStabilityWindow: "1h"} // Verifying, holding the lock, for an hour
	g.Expect(env.Client.Create(ctx, stuck)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := getPlan(g, stuck)
		g.Expect(got.Status.State).To(Equal(platformv1alpha1.PlanVerifying))
		g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, TargetLockedCondition)).To(BeTrue())
	}).WithTimeout(40 * time.Second).Should(Succeed())
	g.Expect(env.Client.Delete(ctx, stuck)).To(Succeed())

	next := s.plan(g, "api-oom-plan-2", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}})
	g.Expect(env.Client.Create(ctx, next)).To(Succeed())
	waitState(g, next, platformv1alpha1.PlanCompleted)
}

// TestACrashMidPlanResumesAtTheRightAction starts the reconciler on a plan
// whose status says action 0 ran and action 1 was about to: action 0 must
// not run again, action 1 runs once.
func TestACrashMidPlanResumesAtTheRightAction(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s := newScenario(t, g, 2)
	p := s.plan(g, "api-oom-plan-1",
		platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}},
		platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRestartDeployment})
	g.Expect(env.Client.Create(ctx, p)).To(Succeed())
	// The status a crashed remediator left: action 0 recorded as done
	// (the Deployment is left at 2 so that a repeat would show), action 1
	// pending with its snapshot.
	target := s.issue.Spec.Resource
	snap, err := (&actions.DeploymentExecutor{Client: env.Client}).Snapshot(ctx, actions.Request{Target: target, Action: p.Spec.Actions[1]})
	g.Expect(err).NotTo(HaveOccurred())
	now := metav1.Now()
	p.Status = platformv1alpha1.RemediationPlanStatus{
		State: platformv1alpha1.PlanExecuting, ResolvedTarget: &target, StartedAt: &now, CurrentActionIndex: ptr.To[int32](1),
		ActionResults: []platformv1alpha1.ActionResult{{Index: ptr.To[int32](0), Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}, Result: platformv1alpha1.ActionSucceeded, Snapshot: `{"replicas":2}`}},
		PendingAction: &platformv1alpha1.PendingAction{Index: 1, Type: platformv1alpha1.ActionRestartDeployment, StartedAt: &now, Snapshot: snap},
	}
	g.Expect(env.Client.Status().Update(ctx, p)).To(Succeed())
	start(t, nil)
	s.playController(t, nil)
	got := waitState(g, p, platformv1alpha1.PlanCompleted)
	g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(2), "action 0 ran again")
	g.Expect(got.Status.ActionResults).To(HaveLen(2))
	g.Expect(*got.Status.ActionResults[1].Index).To(BeEquivalentTo(1))
	d := &appsv1.Deployment{}
	g.Expect(env.Client.Get(ctx, s.deploy, d)).To(Succeed())
	g.Expect(d.Spec.Template.Annotations).To(HaveKeyWithValue(actions.AnnotationRestartKey, fmt.Sprintf("%s/1", p.UID)))
}

func decide(g Gomega, p *platformv1alpha1.RemediationPlan, decision, by string, generation int64) {
	got := getPlan(g, p)
	raw, _ := json.Marshal(decision_{Decision: decision, By: by, UID: string(got.UID), Generation: generation})
	if got.Annotations == nil {
		got.Annotations = map[string]string{}
	}
	got.Annotations[platformv1alpha1.AnnotationApprovalDecision] = string(raw)
	g.Expect(env.Client.Update(context.Background(), got)).To(Succeed())
}

type decision_ = decision

func TestApproval(t *testing.T) {
	start(t, func(r *Reconciler) { r.ApprovalTimeout = 3 * time.Second })
	for _, tc := range []struct {
		name   string
		decide func(g Gomega, p *platformv1alpha1.RemediationPlan)
		state  platformv1alpha1.PlanState
		reason string
	}{
		{"approved", func(g Gomega, p *platformv1alpha1.RemediationPlan) {
			decide(g, p, "approve", "alice", 99) // a stale generation is ignored
			g.Consistently(func(g Gomega) {
				g.Expect(getPlan(g, p).Status.State).To(Equal(platformv1alpha1.PlanWaitingApproval))
			}).WithTimeout(500 * time.Millisecond).Should(Succeed())
			decide(g, p, "approve", "alice", 1)
		}, platformv1alpha1.PlanCompleted, "True/Approved"},
		{"rejected", func(g Gomega, p *platformv1alpha1.RemediationPlan) { decide(g, p, "reject", "bob", 1) }, platformv1alpha1.PlanFailed, "False/Rejected"},
		{"expired", func(Gomega, *platformv1alpha1.RemediationPlan) {}, platformv1alpha1.PlanFailed, "False/ApprovalExpired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			s := newScenario(t, g, 2)
			s.playController(t, nil)
			p := s.plan(g, "api-oom-plan-1", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}})
			p.Spec.Approval = &platformv1alpha1.PlanApprovalSpec{Required: true}
			g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
			waitState(g, p, platformv1alpha1.PlanWaitingApproval)
			g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(2), "nothing runs before the decision")
			tc.decide(g, p)
			got := waitState(g, p, tc.state)
			g.Expect(condReason(got, platformv1alpha1.RemediationPlanApprovedCondition)).To(Equal(tc.reason))
			if tc.state != platformv1alpha1.PlanCompleted {
				g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(2))
			} else {
				g.Expect(got.Status.Approval.ApprovedBy).To(Equal("alice"))
			}
		})
	}
}

func TestRedisDownNothingExecutes(t *testing.T) {
	g := NewWithT(t)
	h := start(t, nil)
	s := newScenario(t, g, 2)
	h.redisServer.Stop()
	p := s.plan(g, "api-oom-plan-1", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}})
	g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := getPlan(g, p)
		g.Expect(condReason(got, TargetLockedCondition)).To(Equal("False/" + RedisUnavailableReason))
	}).WithTimeout(30 * time.Second).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(2))
		g.Expect(getPlan(g, p).Status.State.IsTerminal()).To(BeFalse())
	}).WithTimeout(time.Second).Should(Succeed())
	g.Expect(h.redisServer.Start(context.Background())).To(Succeed())
	s.playController(t, nil)
	waitState(g, p, platformv1alpha1.PlanCompleted)
	g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(3))
}

func TestARecreatedTargetIsNotTouched(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	start(t, nil)
	s := newScenario(t, g, 2)
	g.Expect(env.Client.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "api"}})).To(Succeed())
	g.Expect(env.Client.Create(ctx, deploymenttest.New(s.ns, "api", 2))).To(Succeed())
	p := s.plan(g, "api-oom-plan-1", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}})
	g.Expect(env.Client.Create(ctx, p)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanFailed)
	g.Expect(condReason(got, platformv1alpha1.RemediationPlanTargetResolvedCondition)).To(Equal("False/TargetReplaced"))
	g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(2))
}

// TestDryRunModeRecordsTheDiffAndWaits: in a namespace in dry-run mode (by
// its label, or by an Instance elsewhere that watches it) the plan changes
// nothing, records each action's diff and waits; an approval then executes
// it.
func TestDryRunModeRecordsTheDiffAndWaits(t *testing.T) {
	start(t, nil)
	for name, setMode := range map[string]func(t *testing.T, g Gomega, namespace string){
		"NamespaceLabel": func(_ *testing.T, g Gomega, namespace string) {
			ns := &corev1.Namespace{}
			g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: namespace}, ns)).To(Succeed())
			ns.Labels[ModeLabel] = string(ModeDryRun)
			g.Expect(env.Client.Update(context.Background(), ns)).To(Succeed())
		},
		"InstanceWatchingTheNamespace": func(t *testing.T, g Gomega, namespace string) {
			in := &platformv1alpha1.Instance{
				ObjectMeta: metav1.ObjectMeta{Namespace: env.NewNamespace(t, "instance", nil), Name: "chatcli"},
				Spec: platformv1alpha1.InstanceSpec{
					Provider: platformv1alpha1.ProviderBuiltin,
					Watcher:  &platformv1alpha1.WatcherSpec{Enabled: true, Targets: []platformv1alpha1.WatchTarget{{Name: "api", Namespace: namespace}}},
					AIOps:    &platformv1alpha1.AIOpsSpec{RemediationMode: platformv1alpha1.RemediationModeDryRun},
				},
			}
			g.Expect(env.Client.Create(context.Background(), in)).To(Succeed())
		},
	} {
		t.Run(name, func(t *testing.T) { testDryRunMode(t, setMode) })
	}
}

func testDryRunMode(t *testing.T, setMode func(t *testing.T, g Gomega, namespace string)) {
	g := NewWithT(t)
	ctx := context.Background()
	s := newScenario(t, g, 2)
	setMode(t, g, s.ns)
	s.playController(t, nil)
	p := s.plan(g, "api-oom-plan-1", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionAdjustResources, Params: P{"memory_limit": "1Gi"}})
	g.Expect(env.Client.Create(ctx, p)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanWaitingApproval)
	g.Expect(got.Status.ActionResults).To(HaveLen(1))
	g.Expect(got.Status.ActionResults[0].Result).To(Equal(platformv1alpha1.ActionSkipped))
	g.Expect(got.Status.ActionResults[0].Message).To(And(ContainSubstring("-          memory: 512Mi"), ContainSubstring("+          memory: 1Gi")))
	d := &appsv1.Deployment{}
	g.Expect(env.Client.Get(ctx, s.deploy, d)).To(Succeed())
	g.Expect(d.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String()).To(Equal("512Mi"))
	decide(g, p, "approve", "carol", got.Generation)
	waitState(g, p, platformv1alpha1.PlanCompleted)
	g.Expect(env.Client.Get(ctx, s.deploy, d)).To(Succeed())
	g.Expect(d.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String()).To(Equal("1Gi"))
}

// TestAPlanOfAnEndedIssueNeverStarts: a person resolved the Issue before
// its plan ran, so the plan fails without acting.
func TestAPlanOfAnEndedIssueNeverStarts(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	start(t, nil)
	s := newScenario(t, g, 2)
	now := metav1.Now()
	s.issue.Status.State = platformv1alpha1.IssueResolved
	s.issue.Status.ResolvedAt = &now
	g.Expect(env.Client.Status().Update(ctx, s.issue)).To(Succeed())
	p := s.plan(g, "api-oom-plan-1", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}})
	g.Expect(env.Client.Create(ctx, p)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanFailed)
	g.Expect(got.Status.Result).To(ContainSubstring("already Resolved"))
	g.Expect(got.Status.ActionResults).To(BeEmpty())
	g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(2))
}
