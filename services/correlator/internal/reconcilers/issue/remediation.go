package issue

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/reconcile"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
)

// proposePlan asks the remediator for the current attempt's plan. It runs
// only on a pass that read the attempt from the stored status (beginAttempt
// ended the pass that recorded it), and the call is idempotent per (issue,
// attempt), so a repeat after a timeout or a crash returns the same plan.
func (r *Reconciler) proposePlan(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Status.State != platformv1alpha1.IssueRemediating || issue.Status.PlanRef != nil {
		return ctrl.Result{}, nil
	}
	current := currentAttempt(issue)
	if current == nil || current.Attempt != issue.Status.RemediationAttempts {
		return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("issue %s is Remediating attempt %d, which is not recorded", issue.Name, issue.Status.RemediationAttempts))
	}
	req := &remediatorv1.ProposePlanRequest{
		Issue:       &commonv1.ObjectRef{Namespace: issue.Namespace, Name: issue.Name},
		Attempt:     current.Attempt,
		IssueUid:    string(issue.UID),
		InsightName: InsightName(issue.Name, current.Attempt),
	}
	if current.Attempt > 1 {
		req.FailureContext = r.failureContext(ctx, issue, current.Attempt-1)
	}
	callCtx, cancel := context.WithTimeout(ctx, r.CallTimeout)
	defer cancel()
	resp, err := r.Remediator.ProposePlan(callCtx, req)
	if err != nil {
		return r.planRefused(ctx, issue, current, err)
	}
	plan := resp.GetPlan()
	if plan.GetName() == "" {
		return ctrl.Result{}, fmt.Errorf("ProposePlan for Issue %s attempt %d returned no plan", issue.Name, current.Attempt)
	}
	ref := &platformv1alpha1.LocalObjectReference{Name: plan.GetName()}
	issue.Status.PlanRef = ref
	current.PlanRef = ref
	current.Strategy = clip(strategyOf(plan), 1024)
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueRemediatedCondition, metav1.ConditionFalse,
		platformv1alpha1.IssueRemediatingReason, fmt.Sprintf("Attempt %d of %d: plan %s (%s)", current.Attempt, issue.Status.MaxRemediationAttempts, plan.GetName(), current.Strategy))
	r.stamp(issue, "plan_proposed", "Plan "+plan.GetName()+": "+current.Strategy, current.Attempt, plan.GetName())
	insight := &platformv1alpha1.AIInsight{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: req.GetInsightName()}, insight); err == nil && insight.Status.GeneratedAt != nil {
		insightToPlan.Observe(insight.Status.GeneratedAt.Time, r.Now())
	}
	return ctrl.Result{}, nil
}

// strategyOf names how a plan remediates, for attempts[].strategy.
func strategyOf(plan *remediatorv1.Plan) string {
	switch plan.GetSource() {
	case remediatorv1.PlanSource_PLAN_SOURCE_RUNBOOK:
		if plan.GetRunbookName() != "" {
			return "runbook " + plan.GetRunbookName()
		}
		return "runbook"
	case remediatorv1.PlanSource_PLAN_SOURCE_AGENTIC:
		return "agentic"
	}
	types := make([]string, 0, len(plan.GetActions()))
	for _, a := range plan.GetActions() {
		types = append(types, a.GetType())
	}
	if len(types) == 0 {
		return "actions"
	}
	return strings.Join(types, ", ")
}

// planRefused handles a failed ProposePlan: the refusals that no retry
// can change escalate the Issue, everything else is retried with backoff.
func (r *Reconciler) planRefused(ctx context.Context, issue *platformv1alpha1.Issue, current *platformv1alpha1.RemediationAttempt, err error) (ctrl.Result, error) {
	msg := status.Convert(err).Message()
	reason := ""
	switch grpcx.Reason(err) {
	case grpcx.ReasonPlanRefusedByPolicy:
		reason = platformv1alpha1.IssuePlanRefusedReason
		if rule := grpcx.ErrorMetadata(err)["rule"]; rule != "" {
			msg += " (rule " + rule + ")"
		}
	case grpcx.ReasonNoPlan:
		reason = platformv1alpha1.IssueNoPlanReason
	case grpcx.ReasonResourceGone:
		reason = platformv1alpha1.IssueResourceMissingReason
	case grpcx.ReasonAttemptsExhausted:
		reason = platformv1alpha1.IssueAttemptsExhaustedReason
	}
	if reason == "" {
		if status.Code(err) == codes.InvalidArgument {
			logf.FromContext(ctx).Error(err, "The remediator refused the plan request as malformed", "attempt", current.Attempt)
		}
		return ctrl.Result{}, fmt.Errorf("ask the remediator for a plan for Issue %s attempt %d: %w", issue.Name, current.Attempt, err)
	}
	now := metav1.NewTime(r.Now())
	current.Outcome, current.EndedAt = platformv1alpha1.AttemptFailed, &now
	r.escalate(issue, reason, fmt.Sprintf("Attempt %d: no plan: %s", current.Attempt, msg))
	return nextPass, nil
}

// followPlan waits for the current plan to end, then resolves the Issue,
// starts the next attempt, or escalates.
func (r *Reconciler) followPlan(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Status.State != platformv1alpha1.IssueRemediating || issue.Status.PlanRef == nil {
		return ctrl.Result{}, nil
	}
	current := currentAttempt(issue)
	plan := &platformv1alpha1.RemediationPlan{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: issue.Status.PlanRef.Name}, plan); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // not in the cache yet; its creation wakes the Issue
		}
		return ctrl.Result{}, fmt.Errorf("get plan %s: %w", issue.Status.PlanRef.Name, err)
	}
	if !plan.Status.State.IsTerminal() {
		return ctrl.Result{}, nil
	}
	now := metav1.NewTime(r.Now())
	current.EndedAt = &now
	if plan.Status.State == platformv1alpha1.PlanCompleted {
		current.Outcome = platformv1alpha1.AttemptSucceeded
		r.resolve(issue, plan)
		return nextPass, nil
	}

	failure := describeFailure(plan)
	issue.Status.LastFailure = clip(failure, 8192)
	current.FailureContext = clip(failure, maxFailureContext)
	current.Outcome = platformv1alpha1.AttemptFailed
	if plan.Status.State == platformv1alpha1.PlanRolledBack {
		current.Outcome = platformv1alpha1.AttemptRolledBack
	}
	if reason, outcome := finalFailure(plan); reason != "" {
		if outcome != "" {
			current.Outcome = outcome
		}
		r.escalate(issue, reason, fmt.Sprintf("Attempt %d: %s", current.Attempt, failure))
		return nextPass, nil
	}
	r.stamp(issue, "plan_failed", fmt.Sprintf("Plan %s ended %s: %s", plan.Name, plan.Status.State, plan.Status.Result), current.Attempt, plan.Name)
	if current.Attempt >= issue.Status.MaxRemediationAttempts {
		r.escalate(issue, platformv1alpha1.IssueAttemptsExhaustedReason,
			fmt.Sprintf("All %d attempts failed; the last: %s", issue.Status.MaxRemediationAttempts, failure))
		return nextPass, nil
	}
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueRemediatedCondition, metav1.ConditionFalse,
		platformv1alpha1.IssueRetryingReason, fmt.Sprintf("Attempt %d failed; attempt %d is analysed with its failure", current.Attempt, current.Attempt+1))
	if err := r.startAttempt(ctx, issue, current.Attempt+1, r.failureContext(ctx, issue, current.Attempt).GetSummary()); err != nil {
		return ctrl.Result{}, err
	}
	return nextPass, nil
}

// finalFailure tells the plan endings no other attempt can change: a person
// said no, the approval lapsed, the target is gone or was recreated, or
// the policy refused the plan.
func finalFailure(plan *platformv1alpha1.RemediationPlan) (string, platformv1alpha1.AttemptOutcome) {
	if c := findCondition(plan.Status.Conditions, platformv1alpha1.RemediationPlanApprovedCondition); c != nil && c.Status == metav1.ConditionFalse {
		switch c.Reason {
		case platformv1alpha1.RemediationPlanRejectedReason:
			return platformv1alpha1.IssuePlanRejectedReason, platformv1alpha1.AttemptRejected
		case platformv1alpha1.RemediationPlanApprovalExpiredReason:
			return platformv1alpha1.IssueApprovalExpiredReason, platformv1alpha1.AttemptExpired
		}
	}
	if c := findCondition(plan.Status.Conditions, platformv1alpha1.RemediationPlanTargetResolvedCondition); c != nil && c.Status == metav1.ConditionFalse {
		return platformv1alpha1.IssueResourceMissingReason, ""
	}
	if c := findCondition(plan.Status.Conditions, platformv1alpha1.RemediationPlanPolicyAllowedCondition); c != nil && c.Status == metav1.ConditionFalse {
		return platformv1alpha1.IssuePlanRefusedReason, ""
	}
	return "", ""
}

// describeFailure is the evidence of a failed plan, for people and for the
// next analysis: the strategy, what each action did, the verification and
// the rollback.
func describeFailure(plan *platformv1alpha1.RemediationPlan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan %s (attempt %d) ended %s", plan.Name, plan.Spec.Attempt, plan.Status.State)
	if plan.Spec.Strategy != "" {
		fmt.Fprintf(&b, "; strategy: %s", plan.Spec.Strategy)
	}
	if plan.Status.Result != "" {
		fmt.Fprintf(&b, "; result: %s", plan.Status.Result)
	}
	for _, a := range plan.Status.ActionResults {
		fmt.Fprintf(&b, "; tried %s%s: %s", a.Type, formatParams(a.Params), a.Result)
		if a.Message != "" {
			fmt.Fprintf(&b, " (%s)", a.Message)
		}
	}
	if v := plan.Status.Verification; v != nil && v.Message != "" {
		fmt.Fprintf(&b, "; verification: %s", v.Message)
	}
	for _, a := range plan.Status.RollbackResults {
		fmt.Fprintf(&b, "; rolled back %s: %s", a.Type, a.Result)
	}
	if plan.Spec.AgenticMode {
		fmt.Fprintf(&b, "; %d agentic step(s)", len(plan.Spec.AgenticHistory))
	}
	return b.String()
}

func formatParams(params platformv1alpha1.ActionParams) string {
	if len(params) == 0 {
		return ""
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+clip(params[k], 64))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// failureContext describes attempt's failure for ProposePlan and the next
// AIInsight, from the attempt's plan (read from the API server, so that
// the evidence is whole) or, failing that, from the Issue's own record.
func (r *Reconciler) failureContext(ctx context.Context, issue *platformv1alpha1.Issue, attempt int32) *remediatorv1.FailureContext {
	fc := &remediatorv1.FailureContext{PreviousAttempt: attempt}
	var record *platformv1alpha1.RemediationAttempt
	for i := range issue.Status.Attempts {
		if issue.Status.Attempts[i].Attempt == attempt {
			record = &issue.Status.Attempts[i]
		}
	}
	if record == nil || record.PlanRef == nil {
		fc.Summary = fmt.Sprintf("Attempt %d made no plan.", attempt)
		return fc
	}
	fc.PreviousPlanName = record.PlanRef.Name
	plan := &platformv1alpha1.RemediationPlan{}
	if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: record.PlanRef.Name}, plan); err != nil {
		fc.Summary = record.FailureContext
		if fc.Summary == "" {
			fc.Summary = fmt.Sprintf("Attempt %d (plan %s) failed.", attempt, record.PlanRef.Name)
		}
		return fc
	}
	fc.Summary = clip(describeFailure(plan), maxFailureContext)
	// Every action of a failed plan counts as tried: even one that ran
	// cleanly did not fix the fault.
	for _, a := range plan.Status.ActionResults {
		executed := &commonv1.ExecutedAction{
			Action: &commonv1.Action{Type: string(a.Type), Params: a.Params}, Result: string(a.Result), Message: a.Message,
		}
		fc.FailedActions = append(fc.FailedActions, executed)
	}
	return fc
}
