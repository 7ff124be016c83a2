package remediationplan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/services/remediator/internal/audit"
	"github.com/chatcli/aiops/services/remediator/internal/policy"
)

// lock returns the lock on the plan's target, taking it if this process
// does not hold it. ok false means the plan waits; the condition says why.
func (r *Reconciler) lock(ctx context.Context, p *platformv1alpha1.RemediationPlan) (*redisx.Lock, ctrl.Result, bool) {
	if v, ok := r.locks.Load(p.UID); ok {
		l := v.(*redisx.Lock)
		if l.Err() == nil {
			r.watch(p)
			return l, ctrl.Result{}, true
		}
		r.locks.Delete(p.UID)
	}
	if r.Redis == nil {
		r.cond(p, TargetLockedCondition, false, RedisUnavailableReason, "no Redis: nothing executes without the lock on the target")
		return nil, ctrl.Result{RequeueAfter: 5 * r.PollInterval}, false
	}
	l, err := r.Redis.Acquire(ctx, LockPurpose, *p.Status.ResolvedTarget, redisx.LockOptions{})
	switch {
	case errors.Is(err, redisx.ErrLockHeld):
		r.cond(p, TargetLockedCondition, false, LockHeldReason, "another plan holds the lock on "+p.Status.ResolvedTarget.String()+"; waiting")
		return nil, ctrl.Result{RequeueAfter: r.PollInterval}, false
	case err != nil:
		r.cond(p, TargetLockedCondition, false, RedisUnavailableReason, "Redis is unavailable, so nothing executes: "+err.Error())
		return nil, ctrl.Result{RequeueAfter: 5 * r.PollInterval}, false
	}
	r.locks.Store(p.UID, l)
	r.watch(p)
	r.cond(p, TargetLockedCondition, true, LockAcquiredReason, fmt.Sprintf("holds %s with fence %d", l.Key(), l.Fence()))
	return l, ctrl.Result{}, true
}

// watch lets a change of p's target wake p (planOfTarget).
func (r *Reconciler) watch(p *platformv1alpha1.RemediationPlan) {
	t := p.Status.ResolvedTarget
	r.watched.Store(targetKey(t.Kind, t.Namespace, t.Name), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(p)})
}

func (r *Reconciler) unwatch(p *platformv1alpha1.RemediationPlan) {
	if t := p.Status.ResolvedTarget; t != nil {
		r.watched.CompareAndDelete(targetKey(t.Kind, t.Namespace, t.Name), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(p)})
	}
}

func (r *Reconciler) release(ctx context.Context, p *platformv1alpha1.RemediationPlan) {
	r.unwatch(p)
	v, ok := r.locks.LoadAndDelete(p.UID)
	if !ok {
		return
	}
	_ = v.(*redisx.Lock).Release(ctx)
	r.cond(p, TargetLockedCondition, false, LockReleasedReason, "the plan finished")
}

// releaseDeleted lets go of the lock a deleted plan held, if this process
// holds it.
func (r *Reconciler) releaseDeleted(ctx context.Context, obj client.Object) {
	uid := obj.GetUID()
	if p, ok := obj.(*platformv1alpha1.RemediationPlan); ok {
		r.unwatch(p)
	}
	v, ok := r.locks.LoadAndDelete(uid)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := v.(*redisx.Lock).Release(ctx); err != nil {
		// The lock expires on its own once nothing renews it.
		ctrl.LoggerFrom(ctx).Error(err, "Could not release the lock of a deleted RemediationPlan", "uid", uid)
	}
}

func hasApplied(p *platformv1alpha1.RemediationPlan) bool {
	for _, res := range p.Status.ActionResults {
		if res.Result == platformv1alpha1.ActionSucceeded || res.Snapshot != "" && res.Result == platformv1alpha1.ActionFailed {
			return true
		}
	}
	return false
}

// executing runs the plan's actions one step per pass: spend and snapshot
// (recorded as pendingAction), then apply (recorded as a result).
func (r *Reconciler) executing(ctx context.Context, p *platformv1alpha1.RemediationPlan) (ctrl.Result, error) {
	l, res, ok := r.lock(ctx, p)
	if !ok {
		return res, nil
	}
	if p.Status.StartedAt == nil {
		t := r.now()
		p.Status.StartedAt = &t
	}
	if p.Status.PendingAction != nil {
		return r.apply(ctx, p, l)
	}
	i := int32(0)
	if p.Status.CurrentActionIndex != nil {
		i = *p.Status.CurrentActionIndex
	}
	if int(i) >= len(p.Spec.Actions) {
		return r.startVerifying(ctx, p)
	}
	a := p.Spec.Actions[i]
	return r.prepare(ctx, p, l, i, a, p.Spec.Actions)
}

// prepare re-checks the action against the policy (spending its budget
// once) and snapshots what it changes, recording both before it runs.
func (r *Reconciler) prepare(ctx context.Context, p *platformv1alpha1.RemediationPlan, l *redisx.Lock, i int32, a platformv1alpha1.RemediationAction, all []platformv1alpha1.RemediationAction) (ctrl.Result, error) {
	v, err := r.Policy.Decide(ctx, "remediator", a, *p.Status.ResolvedTarget, r.planContext(p, i, all), policy.Spend)
	if err != nil {
		return r.waitForInputs(p, err)
	}
	if !v.Allowed {
		return r.refused(ctx, p, i, a, v)
	}
	if v.ApprovalRequired && (p.Status.Approval == nil || p.Status.Approval.ApprovedAt == nil) {
		return r.refused(ctx, p, i, a, policy.Verdict{Rule: v.ApprovalRule, Reason: v.Reason + ", and the plan is not approved"})
	}
	req := r.request(p, l, i, a)
	snap, err := r.executors.Snapshot(ctx, req)
	if done, res, err := r.targetGone(ctx, p, err); done {
		return res, err
	}
	if err != nil {
		return r.actionFailed(ctx, p, i, a, "", fmt.Errorf("snapshot: %w", err))
	}
	t := r.now()
	ci := i
	p.Status.CurrentActionIndex = &ci
	p.Status.PendingAction = &platformv1alpha1.PendingAction{Index: i, Type: a.Type, Params: a.Params, StartedAt: &t, Snapshot: snap}
	r.record(audit.KindActionStart, p, &ci, a, "started", "")
	return next, nil
}

func (r *Reconciler) request(p *platformv1alpha1.RemediationPlan, l *redisx.Lock, i int32, a platformv1alpha1.RemediationAction) actions.Request {
	return actions.Request{Target: *p.Status.ResolvedTarget, Action: a, Key: fmt.Sprintf("%s/%d", p.UID, i), Fence: l.Fence(), Plan: p.UID}
}

// apply runs the recorded pending action from its recorded snapshot. After
// a crash this runs it again, which every action makes harmless.
func (r *Reconciler) apply(ctx context.Context, p *platformv1alpha1.RemediationPlan, l *redisx.Lock) (ctrl.Result, error) {
	pa := p.Status.PendingAction
	a := platformv1alpha1.RemediationAction{Type: pa.Type, Params: pa.Params}
	if l.Err() != nil {
		return ctrl.Result{RequeueAfter: r.PollInterval}, nil // retaken next pass
	}
	out, err := r.executors.Apply(ctx, r.request(p, l, pa.Index, a), pa.Snapshot)
	if errors.Is(err, actions.ErrInProgress) {
		return r.inProgress(ctx, p, pa, a, err)
	}
	if errors.Is(err, actions.ErrTargetMissing) || errors.Is(err, actions.ErrTargetReplaced) {
		done, res, err2 := r.targetGone(ctx, p, err)
		if done {
			return res, err2
		}
	}
	if err != nil {
		return r.actionFailed(ctx, p, pa.Index, a, pa.Snapshot, err)
	}
	t := r.now()
	idx := pa.Index
	if len(p.Status.ActionResults) == 0 {
		planToFirstAction.Observe(p.CreationTimestamp.Time, r.Now())
	}
	p.Status.ActionResults = append(p.Status.ActionResults, platformv1alpha1.ActionResult{
		Index: &idx, Type: a.Type, Params: a.Params, Result: platformv1alpha1.ActionSucceeded,
		Message: truncate(out.Message, 4000), StartedAt: pa.StartedAt, Timestamp: &t, Snapshot: pa.Snapshot,
	})
	p.Status.PendingAction = nil
	nextIndex := idx + 1
	p.Status.CurrentActionIndex = &nextIndex
	r.record(audit.KindActionResult, p, &idx, a, string(platformv1alpha1.ActionSucceeded), out.Message)
	if !p.Spec.AgenticMode && int(nextIndex) >= len(p.Spec.Actions) {
		// The last result and the opened verification go into one write;
		// a pass lost before it applies the action again, as any lost
		// apply does.
		return r.startVerifying(ctx, p)
	}
	return next, nil
}

// inProgress keeps an action that has started but not finished (RetryJob
// waits for the old Job to be gone) pending, and applies it again a poll
// later; one that has not finished within the verification timeout
// fails.
func (r *Reconciler) inProgress(ctx context.Context, p *platformv1alpha1.RemediationPlan, pa *platformv1alpha1.PendingAction, a platformv1alpha1.RemediationAction, err error) (ctrl.Result, error) {
	if pa.StartedAt != nil && r.Now().Sub(pa.StartedAt.Time) > r.VerifyTimeout {
		return r.actionFailed(ctx, p, pa.Index, a, pa.Snapshot, fmt.Errorf("not finished after %s: %w", r.VerifyTimeout, err))
	}
	ctrl.LoggerFrom(ctx).Info("Waiting for the action to finish", "index", pa.Index, "action", pa.Type, "reason", err.Error())
	return ctrl.Result{RequeueAfter: r.PollInterval}, nil
}

// actionFailed records the failure and rolls back what ran.
func (r *Reconciler) actionFailed(ctx context.Context, p *platformv1alpha1.RemediationPlan, i int32, a platformv1alpha1.RemediationAction, snapshot string, err error) (ctrl.Result, error) {
	t := r.now()
	p.Status.ActionResults = append(p.Status.ActionResults, platformv1alpha1.ActionResult{
		Index: &i, Type: a.Type, Params: a.Params, Result: platformv1alpha1.ActionFailed, Message: truncate(err.Error(), 4000), Timestamp: &t, Snapshot: snapshot,
	})
	p.Status.PendingAction = nil
	r.record(audit.KindActionResult, p, &i, a, string(platformv1alpha1.ActionFailed), err.Error())
	if p.Spec.AgenticMode {
		// The AI sees the failure as the step's observation and decides
		// the next step; the loop's end rolls back what ran.
		return next, nil
	}
	return r.rollback(ctx, p, fmt.Sprintf("action %d (%s) failed: %v", i, a.Type, err))
}

// rollback restores the snapshots of the actions that ran, newest first:
// RolledBack when every restore worked, Failed when one did not.
func (r *Reconciler) rollback(ctx context.Context, p *platformv1alpha1.RemediationPlan, why string) (ctrl.Result, error) {
	l, res, ok := r.lock(ctx, p)
	if !ok {
		return res, nil // the lock first: a restore is a write like any other
	}
	allOK := true
	var notUndone []string
	for k := len(p.Status.ActionResults) - 1; k >= 0; k-- {
		ar := &p.Status.ActionResults[k]
		if ar.Snapshot == "" || (ar.Result != platformv1alpha1.ActionSucceeded && ar.Result != platformv1alpha1.ActionFailed) {
			continue
		}
		idx := int32(0)
		if ar.Index != nil {
			idx = *ar.Index
		}
		a := platformv1alpha1.RemediationAction{Type: ar.Type, Params: ar.Params}
		out, err := r.executors.Restore(ctx, r.request(p, l, idx, a), ar.Snapshot)
		t := r.now()
		rr := platformv1alpha1.ActionResult{Index: &idx, Type: ar.Type, Params: ar.Params, Timestamp: &t, Result: platformv1alpha1.ActionRolledBack, Message: truncate(out.Message, 4000)}
		switch {
		case err != nil:
			allOK = false
			rr.Result, rr.Message = platformv1alpha1.ActionFailed, truncate("restore failed: "+err.Error(), 4000)
		case out.NotUndone:
			// Nothing was written and nothing could be: the action's
			// result stays, and the rollback says so instead of
			// claiming it undid it.
			rr.Result = platformv1alpha1.ActionSkipped
			notUndone = append(notUndone, fmt.Sprintf("action %d (%s): %s", idx, ar.Type, out.Message))
		case ar.Result == platformv1alpha1.ActionSucceeded:
			ar.Result = platformv1alpha1.ActionRolledBack
		}
		p.Status.RollbackResults = append(p.Status.RollbackResults, rr)
		r.record(audit.KindRollback, p, &idx, a, string(rr.Result), rr.Message)
	}
	if len(notUndone) > 0 {
		why += "; what could not be undone stays: " + strings.Join(notUndone, "; ")
	}
	// A failed verification keeps its own reason on Verified.
	verified := p.Status.Verification == nil || p.Status.Verification.Healthy == nil
	if allOK {
		if verified {
			r.cond(p, platformv1alpha1.RemediationPlanVerifiedCondition, false, platformv1alpha1.RemediationPlanRolledBackReason, truncate(why, 4000))
		}
		return r.finish(ctx, p, platformv1alpha1.PlanRolledBack, why+"; rolled back")
	}
	if verified {
		r.cond(p, platformv1alpha1.RemediationPlanVerifiedCondition, false, platformv1alpha1.RemediationPlanRollbackFailedReason, truncate(why, 4000))
	}
	return r.finish(ctx, p, platformv1alpha1.PlanFailed, why+"; the rollback failed, see rollbackResults")
}

// startVerifying opens the verification, with its deadline. Its first
// check runs in a later pass, behind plans that have not acted yet
// (toVerify).
func (r *Reconciler) startVerifying(ctx context.Context, p *platformv1alpha1.RemediationPlan) (ctrl.Result, error) {
	obj, err := r.executors.Live(ctx, *p.Status.ResolvedTarget, p.UID)
	if done, res, err := r.targetGone(ctx, p, err); done {
		return res, err
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	timeout := verifyTimeout(obj, r.VerifyTimeout)
	t := r.now()
	deadline := metav1.NewTime(r.Now().Add(timeout))
	p.Status.Verification = &platformv1alpha1.VerificationStatus{StartedAt: &t, Deadline: &deadline, Message: "waiting for the rollout"}
	p.Status.State = platformv1alpha1.PlanVerifying
	return toVerify, nil
}
