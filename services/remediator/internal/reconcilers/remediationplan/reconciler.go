// Package remediationplan runs RemediationPlans: Pending ▶ (WaitingApproval)
// ▶ Executing ▶ Verifying ▶ Completed | Failed | RolledBack. Each step is
// recorded in status before the next acts (a step that only reads shares
// its write with the next): a crash resumes at the step the status names
// and never repeats an action whose result it records.
package remediationplan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/reconcile"
	"github.com/chatcli/aiops/libs/redisx"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	"github.com/chatcli/aiops/services/remediator/internal/audit"
	"github.com/chatcli/aiops/services/remediator/internal/policy"
)

// Condition types and reasons of this reconciler beyond the API's.
const (
	// TargetLockedCondition is True while the plan holds the lock on its
	// target; False says why it waits (another plan holds it, or Redis is
	// down and nothing may execute).
	TargetLockedCondition  = "TargetLocked"
	LockAcquiredReason     = "LockAcquired"
	LockHeldReason         = "LockHeldByAnotherPlan"
	RedisUnavailableReason = "RedisUnavailable"
	LockReleasedReason     = "LockReleased"

	// SafetyConstraintsCondition is True when every spec.safetyConstraints
	// string maps to a policy rule; False lists those not enforced.
	SafetyConstraintsCondition   = "SafetyConstraintsEnforced"
	ConstraintsEnforcedReason    = "Enforced"
	ConstraintsNotEnforcedReason = "NotEnforced"
)

// LockPurpose is the redisx lock purpose: the key is
// chatcli:lock:remediation:<kind>/<namespace>/<name>.
const LockPurpose = "remediation"

// AnnotationStabilityWindow on a plan overrides the stability window, as
// a Go duration.
const AnnotationStabilityWindow = "platform.chatcli.io/stability-window"

// Defaults.
const (
	DefaultStabilityWindow = 10 * time.Second
	DefaultApprovalTimeout = time.Hour
	// MaxVerifyTimeout caps the progressDeadlineSeconds a verification waits.
	MaxVerifyTimeout = 10 * time.Minute
	// AgenticTimeout bounds an agentic loop.
	AgenticTimeout = 10 * time.Minute
	// DefaultAgenticObserveInterval is how long an agentic loop waits after
	// a step that changed nothing before it asks the next.
	DefaultAgenticObserveInterval = 5 * time.Second
	// DefaultBrokenRolloutAfter is how long into a verification a rollout
	// whose every new pod backs off is taken as failed.
	DefaultBrokenRolloutAfter = 30 * time.Second
)

// Reconciler runs plans. Client must read from the API server, not a
// cache: every pass acts on the status the previous pass wrote.
type Reconciler struct {
	Client client.Client
	// Executor runs the Deployment actions.
	Executor *actions.DeploymentExecutor
	// JobExecutor runs the Job actions; one on Client when nil.
	JobExecutor *actions.JobExecutor
	Policy      *policy.Policy
	Redis       *redisx.Client
	Audit       *audit.Logger
	Now         func() time.Time

	StabilityWindow time.Duration
	ApprovalTimeout time.Duration
	// VerifyTimeout caps the verification timeout; MaxVerifyTimeout when 0.
	VerifyTimeout time.Duration
	// PollInterval is how often verification and lock waits look again.
	PollInterval time.Duration
	// BrokenRolloutAfter is how long a verification waits before it reads
	// the pods of a Deployment that is not healthy, and fails when every
	// pod of the current template backs off (crash loop, image, config):
	// DefaultBrokenRolloutAfter when 0. The pods get that long to start.
	BrokenRolloutAfter time.Duration
	// Analyzer answers agentic steps; agentic plans fail without it.
	Analyzer analyzerv1.AnalyzerServiceClient
	// AgenticObserveInterval is how long after a step that changed nothing
	// (no action, or one refused) the next step is asked:
	// DefaultAgenticObserveInterval when 0.
	AgenticObserveInterval time.Duration
	// Workers is how many plans advance at once; plans on one target still
	// take turns (the lock).
	Workers int
	// Mode is the global mode; a namespace label can still ask for
	// dry-run (ModeLabel).
	Mode Mode
	// Context builds the observation for agentic steps; a status summary
	// of the target when nil.
	Context func(ctx context.Context, target platformv1alpha1.ResourceReference) (string, error)

	base  reconcile.Base[*platformv1alpha1.RemediationPlan]
	locks sync.Map // plan uid -> *redisx.Lock
	// watched maps a target this process holds the lock on
	// ("kind/namespace/name") to the plan holding it.
	watched sync.Map
	// executors dispatches to Executor or JobExecutor by target kind.
	executors *actions.Executors
}

func metadataOf(gvk schema.GroupVersionKind) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gvk)
	return m
}

func targetKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

// planOfTarget names the plan that holds the lock on the object of kind
// here.
func (r *Reconciler) planOfTarget(kind string) handler.MapFunc {
	return func(_ context.Context, o client.Object) []ctrl.Request {
		if v, ok := r.watched.Load(targetKey(kind, o.GetNamespace(), o.GetName())); ok {
			return []ctrl.Request{v.(ctrl.Request)}
		}
		return nil
	}
}

// SetupWithManager checks the dependencies and registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := r.init(); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Only spec and annotation changes (an approval decision) and
		// creations bring a pass: the reconciler writes every status and
		// schedules its own next pass, so the event of its own status
		// write would only repeat a pass.
		For(&platformv1alpha1.RemediationPlan{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// A plan deleted before it ended (the webhook's force-delete
		// override) lets go of its lock at once: a pass never sees the
		// plan again, and the lock would otherwise be renewed until the
		// process exits, holding its target from every later plan.
		Watches(&platformv1alpha1.RemediationPlan{}, handler.Funcs{
			DeleteFunc: func(ctx context.Context, e event.DeleteEvent, _ workqueue.TypedRateLimitingInterface[ctrl.Request]) {
				r.releaseDeleted(ctx, e.Object)
			},
		}).
		// A change of a target wakes the plan verifying it, so a plan
		// waiting for its rollout does not poll the API server. Metadata
		// only: no Deployment or Job is held in memory whole.
		Watches(metadataOf(appsv1.SchemeGroupVersion.WithKind(actions.KindDeployment)), handler.EnqueueRequestsFromMapFunc(r.planOfTarget(actions.KindDeployment))).
		Watches(metadataOf(batchv1.SchemeGroupVersion.WithKind(actions.KindJob)), handler.EnqueueRequestsFromMapFunc(r.planOfTarget(actions.KindJob))).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Named("remediationplan").
		Complete(r)
}

func (r *Reconciler) init() error {
	if r.Client == nil || r.Executor == nil || r.Policy == nil || r.Now == nil {
		return errors.New("remediationplan reconciler: Client, Executor, Policy and Now are required")
	}
	if r.StabilityWindow <= 0 {
		r.StabilityWindow = DefaultStabilityWindow
	}
	if r.ApprovalTimeout <= 0 {
		r.ApprovalTimeout = DefaultApprovalTimeout
	}
	if r.VerifyTimeout <= 0 || r.VerifyTimeout > MaxVerifyTimeout {
		r.VerifyTimeout = MaxVerifyTimeout
	}
	if r.PollInterval <= 0 {
		r.PollInterval = time.Second
	}
	if r.BrokenRolloutAfter <= 0 {
		r.BrokenRolloutAfter = DefaultBrokenRolloutAfter
	}
	if r.AgenticObserveInterval <= 0 {
		r.AgenticObserveInterval = DefaultAgenticObserveInterval
	}
	if r.JobExecutor == nil {
		r.JobExecutor = &actions.JobExecutor{Client: r.Client}
	}
	r.executors = &actions.Executors{Deployment: r.Executor, Job: r.JobExecutor}
	r.base = reconcile.Base[*platformv1alpha1.RemediationPlan]{
		Client:             r.Client,
		NewObject:          func() *platformv1alpha1.RemediationPlan { return &platformv1alpha1.RemediationPlan{} },
		Conditions:         func(p *platformv1alpha1.RemediationPlan) *[]metav1.Condition { return &p.Status.Conditions },
		ObservedGeneration: func(p *platformv1alpha1.RemediationPlan) *int64 { return &p.Status.ObservedGeneration },
		// Two writers must never both think they advanced the plan: a
		// pass that read an older plan loses with a conflict.
		OptimisticLock: true,
		Normal:         []reconcile.Phase[*platformv1alpha1.RemediationPlan]{r.step},
	}
	return r.base.Validate()
}

// Reconcile runs the plan's passes back to back while each one's step is
// written and the next may start at once (next), up to maxChainedPasses:
// each pass records its step before the next, and the next starts from
// the plan that write returned, but the plan does not go back through the
// work queue behind every other plan between two steps. With 100 plans
// queued, that trip cost each plan a full round of the queue per step.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.base.Chain(ctx, req, maxChainedPasses, func(res ctrl.Result) bool { return res == next })
}

// next ends a pass so that the next step runs right after its status is
// written.
var next = ctrl.Result{RequeueAfter: time.Millisecond}

// verifyPriority queues verification behind plans that have not acted
// yet: with many plans at once, a plan still to act on its incident goes
// before one watching a fix already applied.
var verifyPriority = ptr.To(handler.LowPriority)

// toVerify ends the pass that opened a plan's verification: its first
// check runs at once unless plans that have not acted wait for a worker.
var toVerify = ctrl.Result{RequeueAfter: time.Millisecond, Priority: verifyPriority}

// maxChainedPasses bounds the passes one Reconcile runs, so a plan whose
// steps keep asking for the next one gives its worker back to the queue.
// A new plan to its first action applied is two passes (Pending with
// the first step's record, then the apply).
const maxChainedPasses = 8

// step runs the one step the plan's state calls for.
func (r *Reconciler) step(ctx context.Context, p *platformv1alpha1.RemediationPlan) (ctrl.Result, error) {
	switch p.Status.State {
	case "":
		// A new plan is Pending; nothing to record before going on.
		p.Status.State = platformv1alpha1.PlanPending
		fallthrough
	case platformv1alpha1.PlanPending:
		issue, ended, res, err := r.issueEnded(ctx, p)
		if ended || err != nil {
			return res, err
		}
		return r.pending(ctx, p, issue)
	case platformv1alpha1.PlanWaitingApproval:
		if _, ended, res, err := r.issueEnded(ctx, p); ended || err != nil {
			return res, err
		}
		return r.waitingApproval(ctx, p)
	case platformv1alpha1.PlanExecuting:
		if p.Spec.AgenticMode {
			return r.agentic(ctx, p)
		}
		return r.executing(ctx, p)
	case platformv1alpha1.PlanVerifying:
		return r.verifying(ctx, p)
	}
	// Terminal: only the lock is left to let go.
	r.release(ctx, p)
	return ctrl.Result{}, nil
}

// issueEnded fails a plan that has not started while its Issue already
// ended (a person resolved or escalated it): nothing acts for an incident
// that is over. A plan that started runs to its end and is verified. It
// returns the Issue it read, nil when the Issue is gone.
func (r *Reconciler) issueEnded(ctx context.Context, p *platformv1alpha1.RemediationPlan) (*platformv1alpha1.Issue, bool, ctrl.Result, error) {
	issue := &platformv1alpha1.Issue{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.IssueRef.Name}, issue); err != nil {
		return nil, false, ctrl.Result{}, client.IgnoreNotFound(err) // a missing Issue is pending's to handle
	}
	if !issue.Status.State.IsTerminal() {
		return issue, false, ctrl.Result{}, nil
	}
	res, err := r.finish(ctx, p, platformv1alpha1.PlanFailed, "not started: its Issue "+issue.Name+" is already "+string(issue.Status.State))
	return issue, true, res, err
}

func (r *Reconciler) now() metav1.Time { return metav1.NewTime(r.Now().UTC().Truncate(time.Second)) }

func (r *Reconciler) cond(p *platformv1alpha1.RemediationPlan, typ string, ok bool, reason, msg string) {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	reconcile.SetCondition(p, &p.Status.Conditions, typ, s, reason, msg)
}

// finish puts the plan in a terminal state and lets go of the lock.
func (r *Reconciler) finish(ctx context.Context, p *platformv1alpha1.RemediationPlan, state platformv1alpha1.PlanState, result string) (ctrl.Result, error) {
	p.Status.State = state
	p.Status.Result = truncate(result, 8000)
	t := r.now()
	p.Status.CompletedAt = &t
	p.Status.PendingAction = nil
	r.release(ctx, p)
	return ctrl.Result{}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (r *Reconciler) planContext(p *platformv1alpha1.RemediationPlan, index int32, acts []platformv1alpha1.RemediationAction) policy.Plan {
	return policy.Plan{Name: p.Name, Namespace: p.Namespace, Issue: p.Spec.IssueRef.Name, UID: p.UID, Index: index, Actions: acts, Constraints: p.Spec.SafetyConstraints}
}

func (r *Reconciler) record(kind string, p *platformv1alpha1.RemediationPlan, index *int32, a platformv1alpha1.RemediationAction, result, detail string) {
	target := ""
	if p.Status.ResolvedTarget != nil {
		target = p.Status.ResolvedTarget.String()
	}
	r.Audit.Record(audit.Event{Kind: kind, Actor: "remediator", Plan: p.Namespace + "/" + p.Name, Issue: p.Spec.IssueRef.Name,
		Target: target, Action: string(a.Type), Index: index, Params: a.Params, Result: result, Detail: detail})
}

// pending resolves the target, runs the policy over every action and
// moves the plan to approval or execution, in one pass: both only read,
// so a pass that fails does them again. issue is the plan's Issue as
// issueEnded read it, nil when it is gone.
func (r *Reconciler) pending(ctx context.Context, p *platformv1alpha1.RemediationPlan, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if p.Status.ResolvedTarget == nil {
		if issue == nil {
			r.cond(p, platformv1alpha1.RemediationPlanTargetResolvedCondition, false, platformv1alpha1.RemediationPlanTargetMissingReason, "the Issue is gone")
			return r.finish(ctx, p, platformv1alpha1.PlanFailed, "the plan's Issue "+p.Spec.IssueRef.Name+" no longer exists")
		}
		res := issue.Spec.Resource
		if ref := metav1.GetControllerOf(p); ref != nil && ref.UID != issue.UID {
			r.cond(p, platformv1alpha1.RemediationPlanTargetResolvedCondition, false, platformv1alpha1.RemediationPlanTargetMissingReason, "the Issue was re-created")
			return r.finish(ctx, p, platformv1alpha1.PlanFailed, "the plan's Issue was re-created")
		}
		kind, err := r.executors.For(res.Kind)
		if err != nil {
			// Nothing to resolve: no executor acts on the kind.
			return r.refused(ctx, p, 0, firstAction(p), policy.Verdict{Rule: policy.RuleTargetKind, Reason: err.Error()})
		}
		// The Issue's object by its uid, or the Job an earlier attempt
		// re-ran from it (actions.StandsFor); the plan acts on what is
		// live now.
		d, err := kind.Live(ctx, res, "")
		if done, res, err := r.targetGone(ctx, p, err); done {
			return res, err
		}
		if err != nil {
			return ctrl.Result{}, err
		}
		p.Status.ResolvedTarget = &platformv1alpha1.ResourceReference{APIVersion: kind.APIVersion(), Kind: res.Kind, Namespace: res.Namespace, Name: res.Name, UID: d.GetUID()}
		msg := "resolved " + res.String() + " uid " + string(d.GetUID())
		if d.GetUID() != res.UID && res.UID != "" {
			msg += ", a re-run of the Issue's uid " + string(res.UID)
		}
		r.cond(p, platformv1alpha1.RemediationPlanTargetResolvedCondition, true, platformv1alpha1.RemediationPlanTargetFoundReason, msg)
	}
	if _, unknown := policy.Constraints(p.Spec.SafetyConstraints); len(unknown) > 0 {
		r.cond(p, SafetyConstraintsCondition, false, ConstraintsNotEnforcedReason, "not enforced (the policy does not know them): "+strings.Join(unknown, "; "))
	} else {
		r.cond(p, SafetyConstraintsCondition, true, ConstraintsEnforcedReason, "every safety constraint maps to a policy rule")
	}
	if !p.Spec.AgenticMode {
		for i, a := range p.Spec.Actions {
			v, err := r.Policy.Decide(ctx, "remediator", a, *p.Status.ResolvedTarget, r.planContext(p, int32(i), p.Spec.Actions), policy.Check)
			if err != nil {
				return r.waitForInputs(p, err)
			}
			if !v.Allowed {
				return r.refused(ctx, p, int32(i), a, v)
			}
			if v.ApprovalRequired && !approvalRequired(p) {
				return r.refused(ctx, p, int32(i), a, policy.Verdict{Rule: v.ApprovalRule, Reason: v.Reason + ", and the plan was made without an approval step"})
			}
		}
		r.cond(p, platformv1alpha1.RemediationPlanPolicyAllowedCondition, true, platformv1alpha1.RemediationPlanPolicyPassedReason, "every action passed the action policy")
	}
	if !p.Spec.AgenticMode && len(p.Status.ActionResults) == 0 {
		dry, err := r.dryRunMode(ctx, p)
		if err != nil {
			return ctrl.Result{}, err
		}
		if dry {
			return r.shadow(ctx, p)
		}
	}
	if approvalRequired(p) {
		t := r.now()
		exp := metav1.NewTime(t.Add(r.ApprovalTimeout))
		p.Status.Approval = &platformv1alpha1.PlanApprovalStatus{RequestedAt: &t, ExpiresAt: &exp, Generation: p.Generation}
		p.Status.State = platformv1alpha1.PlanWaitingApproval
		r.cond(p, platformv1alpha1.RemediationPlanApprovedCondition, false, platformv1alpha1.RemediationPlanApprovalRequiredReason, "waiting for ApprovePlan or RejectPlan until "+exp.UTC().Format(time.RFC3339))
		return next, nil
	}
	r.cond(p, platformv1alpha1.RemediationPlanApprovedCondition, true, platformv1alpha1.RemediationPlanApprovalNotRequiredReason, "the policy asks for no approval")
	p.Status.State = platformv1alpha1.PlanExecuting
	if p.Spec.AgenticMode {
		return next, nil // the first step calls the analyzer: from a stored Executing
	}
	// The first step (lock, budget spend, snapshot) goes into the same
	// status write: Pending only read, the spend is keyed by plan and
	// action, so a pass lost before the write is replayed from Pending
	// and spends nothing twice.
	return r.executing(ctx, p)
}

// firstAction is the action a refusal before any action names.
func firstAction(p *platformv1alpha1.RemediationPlan) platformv1alpha1.RemediationAction {
	if len(p.Spec.Actions) > 0 {
		return p.Spec.Actions[0]
	}
	return platformv1alpha1.RemediationAction{}
}

func approvalRequired(p *platformv1alpha1.RemediationPlan) bool {
	return p.Spec.Approval != nil && p.Spec.Approval.Required
}

// waitForInputs keeps the plan where it is while the policy cannot
// decide (the API server or Redis): nothing runs without a decision.
func (r *Reconciler) waitForInputs(p *platformv1alpha1.RemediationPlan, err error) (ctrl.Result, error) {
	if errors.Is(err, policy.ErrUnavailable) {
		r.cond(p, TargetLockedCondition, false, RedisUnavailableReason, "the policy cannot decide, so nothing executes: "+err.Error())
		return ctrl.Result{RequeueAfter: 5 * r.PollInterval}, nil
	}
	return ctrl.Result{}, err
}

// refused fails the plan on a policy refusal, before anything ran or
// after some actions ran (then they are rolled back).
func (r *Reconciler) refused(ctx context.Context, p *platformv1alpha1.RemediationPlan, index int32, a platformv1alpha1.RemediationAction, v policy.Verdict) (ctrl.Result, error) {
	msg := fmt.Sprintf("action %d (%s) refused by rule %s: %s", index, a.Type, v.Rule, v.Reason)
	agenticStep := p.Spec.AgenticMode && p.Status.State == platformv1alpha1.PlanExecuting
	if !agenticStep {
		// PolicyAllowed=False ends the Issue's attempts (the correlator
		// escalates); a refused agentic step is only that step's
		// observation.
		r.cond(p, platformv1alpha1.RemediationPlanPolicyAllowedCondition, false, platformv1alpha1.RemediationPlanPolicyDeniedReason, msg)
	}
	t := r.now()
	p.Status.ActionResults = append(p.Status.ActionResults, platformv1alpha1.ActionResult{
		Index: &index, Type: a.Type, Params: a.Params, Result: platformv1alpha1.ActionSkipped, Message: truncate(msg, 4000), Timestamp: &t,
	})
	if agenticStep {
		return next, nil // the AI sees the refusal and decides again
	}
	if hasApplied(p) {
		return r.rollback(ctx, p, msg)
	}
	return r.finish(ctx, p, platformv1alpha1.PlanFailed, msg)
}

// targetGone ends the plan when err says the target is missing or was
// replaced: there is nothing the plan may act on, not even to roll back.
func (r *Reconciler) targetGone(ctx context.Context, p *platformv1alpha1.RemediationPlan, err error) (bool, ctrl.Result, error) {
	switch {
	case errors.Is(err, actions.ErrTargetMissing):
		r.cond(p, platformv1alpha1.RemediationPlanTargetResolvedCondition, false, platformv1alpha1.RemediationPlanTargetMissingReason, err.Error())
		res, e := r.finish(ctx, p, platformv1alpha1.PlanFailed, "the target is gone: "+err.Error())
		return true, res, e
	case errors.Is(err, actions.ErrTargetReplaced):
		r.cond(p, platformv1alpha1.RemediationPlanTargetResolvedCondition, false, platformv1alpha1.RemediationPlanTargetReplacedReason, err.Error())
		res, e := r.finish(ctx, p, platformv1alpha1.PlanFailed, "the target was replaced; the plan does not act on the new object: "+err.Error())
		return true, res, e
	}
	return false, ctrl.Result{}, nil
}
