package issue

import (
	"context"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/reconcile"
)

// Timeline events of people's requests.
const (
	eventAcknowledged       = "acknowledged"
	eventResolvedByRequest  = "resolved_by_request"
	eventEscalatedByRequest = "escalated_by_request"
)

// honourRequests acts on the requests people recorded on the Issue as
// annotations (the incident API's handlers write them on any replica; this
// reconciler, on the leader, is the one writer of the status). Each is
// acted on once: its timeline entry says it was.
//
//   - acknowledge stamps the timeline and changes nothing else;
//   - resolve ends any Issue that is not Resolved, with the reason as the
//     resolution, except while a plan of the Issue is Executing or
//     Verifying: it waits for the plan to end, so no action is cut off;
//   - escalate ends an open Issue that is not Escalated, unless a resolve
//     request is recorded too (resolve wins).
func (r *Reconciler) honourRequests(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	ann := issue.Annotations
	if by := ann[platformv1alpha1.AnnotationAcknowledgedBy]; by != "" && !hasEvent(issue, eventAcknowledged) {
		r.stamp(issue, eventAcknowledged, requestDetail("Acknowledged", by, ann[platformv1alpha1.AnnotationAcknowledgeReason]), 0, "")
	}
	if by := ann[platformv1alpha1.AnnotationResolveRequestedBy]; by != "" && issue.Status.State != platformv1alpha1.IssueResolved {
		running, err := r.planRunning(ctx, issue)
		if err != nil || running {
			return ctrl.Result{}, err // the plan's end wakes the Issue
		}
		detail := requestDetail("Resolved by hand", by, ann[platformv1alpha1.AnnotationResolveReason])
		now := metav1.NewTime(r.Now())
		issue.Status.ResolvedAt = &now
		issue.Status.Resolution = clip(detail, 4096)
		// An escalated Issue a person resolved keeps escalatedAt and its
		// timeline entry; the reason belongs to the Escalated state only.
		issue.Status.EscalationReason = ""
		// An attempt cut short keeps no outcome: its plan, if any, is the
		// record of what it did.
		reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueRemediatedCondition, metav1.ConditionTrue,
			platformv1alpha1.IssueResolvedByRequestReason, detail)
		reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueDedupReleasedCondition, metav1.ConditionFalse,
			platformv1alpha1.IssueDedupReleasePendingReason, "The watcher-bridge is told to forget the resource's dedup keys once Resolved is stored")
		r.transition(issue, platformv1alpha1.IssueResolved, eventResolvedByRequest, detail, issue.Status.RemediationAttempts, "")
		return nextPass, nil
	}
	if by := ann[platformv1alpha1.AnnotationEscalateRequestedBy]; by != "" && !issue.Status.State.IsTerminal() &&
		ann[platformv1alpha1.AnnotationResolveRequestedBy] == "" {
		r.escalate(issue, platformv1alpha1.IssueEscalationRequestedReason,
			requestDetail("Escalated by hand", by, ann[platformv1alpha1.AnnotationEscalateReason]))
		return nextPass, nil
	}
	return ctrl.Result{}, nil
}

func requestDetail(what, by, reason string) string {
	if reason == "" {
		return fmt.Sprintf("%s by %s", what, by)
	}
	return fmt.Sprintf("%s by %s: %s", what, by, reason)
}

func hasEvent(issue *platformv1alpha1.Issue, event string) bool {
	return slices.ContainsFunc(issue.Status.Timeline, func(e platformv1alpha1.TimelineEntry) bool { return e.Type == event })
}

// planRunning reports whether a plan of the Issue is acting on the
// resource now.
func (r *Reconciler) planRunning(ctx context.Context, issue *platformv1alpha1.Issue) (bool, error) {
	plans := &platformv1alpha1.RemediationPlanList{}
	if err := r.Client.List(ctx, plans, client.InNamespace(issue.Namespace), client.MatchingLabels{platformv1alpha1.LabelIssue: issue.Name}); err != nil {
		return false, fmt.Errorf("list the plans of Issue %s: %w", issue.Name, err)
	}
	for _, p := range plans.Items {
		if p.Status.State == platformv1alpha1.PlanExecuting || p.Status.State == platformv1alpha1.PlanVerifying {
			return true, nil
		}
	}
	return false, nil
}
