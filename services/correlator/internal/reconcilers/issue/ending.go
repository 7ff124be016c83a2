package issue

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/reconcile"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

// resolve ends the Issue with its completed plan.
func (r *Reconciler) resolve(issue *platformv1alpha1.Issue, plan *platformv1alpha1.RemediationPlan) {
	now := metav1.NewTime(r.Now())
	if v := plan.Status.Verification; v != nil && v.HealthySince != nil {
		healthyToResolved.Observe(v.HealthySince.Time, now.Time)
	}
	issue.Status.ResolvedAt = &now
	resolution := fmt.Sprintf("Plan %s completed", plan.Name)
	if plan.Spec.Strategy != "" {
		resolution += ": " + plan.Spec.Strategy
	}
	if plan.Status.Result != "" {
		resolution += " (" + plan.Status.Result + ")"
	}
	issue.Status.Resolution = clip(resolution, 4096)
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueRemediatedCondition, metav1.ConditionTrue,
		platformv1alpha1.IssuePlanCompletedReason, clip(resolution, 32768))
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueDedupReleasedCondition, metav1.ConditionFalse,
		platformv1alpha1.IssueDedupReleasePendingReason, "The watcher-bridge is told to forget the resource's dedup keys once Resolved is stored")
	r.transition(issue, platformv1alpha1.IssueResolved, "resolved", resolution, plan.Spec.Attempt, plan.Name)
}

// escalate ends the Issue for people to take over. reason is one of the
// Issue*Reason constants.
func (r *Reconciler) escalate(issue *platformv1alpha1.Issue, reason, detail string) {
	now := metav1.NewTime(r.Now())
	issue.Status.EscalatedAt = &now
	issue.Status.EscalationReason = reason
	issue.Status.Resolution = clip("Escalated ("+reason+"): "+detail, 4096)
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueRemediatedCondition, metav1.ConditionFalse,
		reason, clip(detail, 32768))
	r.transition(issue, platformv1alpha1.IssueEscalated, "escalated", reason+": "+detail, issue.Status.RemediationAttempts, "")
}

// releaseDedup tells the watcher-bridge to forget the dedup keys of a
// Resolved Issue's resource. It runs only on a pass that read Resolved
// from the stored status, never on the pass that resolved it: the
// watcher-bridge takes the Issue's end from the API server, and must see
// it before a new fault is let through (the recurrence contract). A failed
// call is retried with backoff until it succeeds.
func (r *Reconciler) releaseDedup(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Status.State != platformv1alpha1.IssueResolved {
		return ctrl.Result{}, nil
	}
	if c := findCondition(issue.Status.Conditions, platformv1alpha1.IssueDedupReleasedCondition); c != nil && c.Status == metav1.ConditionTrue {
		return ctrl.Result{}, nil
	}
	res := issue.Spec.Resource
	callCtx, cancel := context.WithTimeout(ctx, r.CallTimeout)
	defer cancel()
	resp, err := r.Watcher.InvalidateDedup(callCtx, &watcherv1.InvalidateDedupRequest{
		Resource: &commonv1.ResourceRef{Kind: res.Kind, Namespace: res.Namespace, Name: res.Name, Uid: string(res.UID)},
	})
	if err != nil {
		reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueDedupReleasedCondition, metav1.ConditionFalse,
			platformv1alpha1.IssueDedupReleasePendingReason, "InvalidateDedup failed; retrying: "+clip(err.Error(), 1024))
		return ctrl.Result{}, fmt.Errorf("tell the watcher-bridge to forget %s: %w", resourceString(issue), err)
	}
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueDedupReleasedCondition, metav1.ConditionTrue,
		platformv1alpha1.IssueDedupReleasedReason, fmt.Sprintf("%d dedup key(s) of %s cleared", resp.GetKeysCleared(), resourceString(issue)))
	return ctrl.Result{}, nil
}

// linkPostMortem records the PostMortem the postmortem-writer made for an
// ended Issue (labelled with the Issue's name).
func (r *Reconciler) linkPostMortem(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if !issue.Status.State.IsTerminal() || issue.Status.PostMortemRef != nil {
		return ctrl.Result{}, nil
	}
	list := &platformv1alpha1.PostMortemList{}
	if err := r.Client.List(ctx, list, client.InNamespace(issue.Namespace), client.MatchingLabels{platformv1alpha1.LabelIssue: issue.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("list the PostMortems of Issue %s: %w", issue.Name, err)
	}
	for _, pm := range list.Items {
		if metav1.IsControlledBy(&pm, issue) {
			issue.Status.PostMortemRef = &platformv1alpha1.LocalObjectReference{Name: pm.Name}
			r.stamp(issue, "postmortem_written", "PostMortem "+pm.Name, 0, pm.Name)
			break
		}
	}
	return ctrl.Result{}, nil
}
