package remediationplan

import (
	"context"
	"encoding/json"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/remediator/internal/audit"
)

// decision is the value of platformv1alpha1.AnnotationApprovalDecision.
type decision struct {
	Decision   string `json:"decision"`
	By         string `json:"by"`
	Reason     string `json:"reason,omitempty"`
	UID        string `json:"uid"`
	Generation int64  `json:"generation"`
}

// waitingApproval records a decision that names this plan's uid and
// generation, or fails the plan when the request expires.
func (r *Reconciler) waitingApproval(ctx context.Context, p *platformv1alpha1.RemediationPlan) (ctrl.Result, error) {
	a := p.Status.Approval
	if a == nil { // written with the state; a hand-edited status lacks it
		t := r.now()
		exp := metav1.NewTime(t.Add(r.ApprovalTimeout))
		p.Status.Approval = &platformv1alpha1.PlanApprovalStatus{RequestedAt: &t, ExpiresAt: &exp, Generation: p.Generation}
		return next, nil
	}
	if raw, ok := p.Annotations[platformv1alpha1.AnnotationApprovalDecision]; ok {
		var d decision
		err := json.Unmarshal([]byte(raw), &d)
		switch {
		case err != nil || d.By == "" || (d.Decision != "approve" && d.Decision != "reject"):
			r.cond(p, platformv1alpha1.RemediationPlanApprovedCondition, false, platformv1alpha1.RemediationPlanApprovalRequiredReason, "the decision annotation is malformed and was ignored; still waiting")
		case d.UID != string(p.UID) || d.Generation != p.Generation:
			// A decision about another plan of this name, or an older
			// version of this one: it does not apply.
			r.cond(p, platformv1alpha1.RemediationPlanApprovedCondition, false, platformv1alpha1.RemediationPlanApprovalRequiredReason, "a decision for another uid or generation was ignored; still waiting")
		default:
			return r.decided(ctx, p, d)
		}
	}
	if now := r.Now(); a.ExpiresAt != nil && !now.Before(a.ExpiresAt.Time) {
		r.cond(p, platformv1alpha1.RemediationPlanApprovedCondition, false, platformv1alpha1.RemediationPlanApprovalExpiredReason, "no decision before "+a.ExpiresAt.UTC().Format(time.RFC3339))
		r.Audit.Record(audit.Event{Kind: audit.KindApproval, Actor: "remediator", Plan: p.Namespace + "/" + p.Name, Issue: p.Spec.IssueRef.Name, Result: "expired"})
		return r.finish(ctx, p, platformv1alpha1.PlanFailed, "the approval request expired")
	}
	wait := r.PollInterval * 5
	if a.ExpiresAt != nil {
		wait = min(wait, time.Until(a.ExpiresAt.Time)+10*time.Millisecond)
	}
	return ctrl.Result{RequeueAfter: max(wait, 10*time.Millisecond)}, nil
}

func (r *Reconciler) decided(ctx context.Context, p *platformv1alpha1.RemediationPlan, d decision) (ctrl.Result, error) {
	t := r.now()
	a := p.Status.Approval
	a.Generation = d.Generation
	if d.Reason != "" {
		a.Reason = truncate(d.Reason, 1024)
	}
	r.Audit.Record(audit.Event{Kind: audit.KindApproval, Actor: d.By, Plan: p.Namespace + "/" + p.Name, Issue: p.Spec.IssueRef.Name, Result: d.Decision + "d", Detail: d.Reason})
	if d.Decision == "reject" {
		a.RejectedBy, a.RejectedAt = truncate(d.By, 512), &t
		r.cond(p, platformv1alpha1.RemediationPlanApprovedCondition, false, platformv1alpha1.RemediationPlanRejectedReason, "rejected by "+d.By)
		return r.finish(ctx, p, platformv1alpha1.PlanFailed, "rejected by "+d.By)
	}
	a.ApprovedBy, a.ApprovedAt = truncate(d.By, 512), &t
	r.cond(p, platformv1alpha1.RemediationPlanApprovedCondition, true, platformv1alpha1.RemediationPlanApprovedReason, "approved by "+d.By)
	// The decision is re-checked: each action passes the policy again
	// right before it runs.
	p.Status.State = platformv1alpha1.PlanExecuting
	return next, nil
}
