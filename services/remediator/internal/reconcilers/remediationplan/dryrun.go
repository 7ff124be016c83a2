package remediationplan

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
)

// Mode is how plans run.
type Mode string

const (
	// ModeLive executes plans.
	ModeLive Mode = "live"
	// ModeDryRun runs every action as a server-side dry-run, records the
	// diff of each, and stops in WaitingApproval: a shadow mode to trust
	// the automation before it acts. An approval then executes the plan.
	ModeDryRun Mode = "dry-run"
)

// ModeLabel on a namespace sets the mode of the plans in it.
const ModeLabel = "chatcli.io/remediation-mode"

// dryRunMode says whether p runs in dry-run mode: globally (--mode), by its
// namespace's label, or by an Instance whose namespace or watcher targets
// cover the plan's namespace and whose spec.aiops.remediationMode is
// dry-run. Any one of them is enough: dry-run only ever holds an action
// back.
func (r *Reconciler) dryRunMode(ctx context.Context, p *platformv1alpha1.RemediationPlan) (bool, error) {
	if r.Mode == ModeDryRun {
		return true, nil
	}
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: p.Namespace}, ns); err != nil {
		return false, fmt.Errorf("get namespace %s: %w", p.Namespace, err)
	}
	if Mode(ns.Labels[ModeLabel]) == ModeDryRun {
		return true, nil
	}
	instances := &platformv1alpha1.InstanceList{}
	if err := r.Client.List(ctx, instances); err != nil {
		return false, fmt.Errorf("list the Instances that may set the mode of %s: %w", p.Namespace, err)
	}
	for i := range instances.Items {
		if in := &instances.Items[i]; instanceDryRun(in) && instanceCovers(in, p.Namespace) {
			return true, nil
		}
	}
	return false, nil
}

func instanceDryRun(in *platformv1alpha1.Instance) bool {
	return in.DeletionTimestamp == nil && in.Spec.AIOps != nil && in.Spec.AIOps.RemediationMode == platformv1alpha1.RemediationModeDryRun
}

// instanceCovers says whether namespace is the Instance's own or one of its
// watcher targets'.
func instanceCovers(in *platformv1alpha1.Instance, namespace string) bool {
	if in.Namespace == namespace {
		return true
	}
	if in.Spec.Watcher == nil {
		return false
	}
	for _, t := range in.Spec.Watcher.Targets {
		if t.Namespace == namespace {
			return true
		}
	}
	return false
}

// shadow dry-runs every action, records each one's diff as a skipped
// result, and waits for a person.
func (r *Reconciler) shadow(ctx context.Context, p *platformv1alpha1.RemediationPlan) (ctrl.Result, error) {
	for i, a := range p.Spec.Actions {
		idx := int32(i)
		req := actions.Request{Target: *p.Status.ResolvedTarget, Action: a, Key: fmt.Sprintf("%s/%d", p.UID, i), DryRun: true, Plan: p.UID}
		msg := ""
		snap, err := r.executors.Snapshot(ctx, req)
		if err == nil {
			var out actions.Outcome
			if out, err = r.executors.Apply(ctx, req, snap); err == nil {
				msg = "dry-run: " + out.Message + "\n" + actions.UnifiedDiff(out.Before, out.After)
			}
		}
		if err != nil {
			msg = "dry-run failed: " + err.Error()
		}
		t := r.now()
		p.Status.ActionResults = append(p.Status.ActionResults, platformv1alpha1.ActionResult{
			Index: &idx, Type: a.Type, Params: a.Params, Result: platformv1alpha1.ActionSkipped, Message: truncate(msg, 4000), Timestamp: &t,
		})
	}
	t := r.now()
	exp := metav1.NewTime(t.Add(r.ApprovalTimeout))
	p.Status.Approval = &platformv1alpha1.PlanApprovalStatus{RequestedAt: &t, ExpiresAt: &exp, Generation: p.Generation}
	p.Status.State = platformv1alpha1.PlanWaitingApproval
	r.cond(p, platformv1alpha1.RemediationPlanApprovedCondition, false, platformv1alpha1.RemediationPlanApprovalRequiredReason,
		"dry-run mode: the diff of each action is in actionResults; approve to execute, until "+exp.UTC().Format(time.RFC3339))
	return next, nil
}
