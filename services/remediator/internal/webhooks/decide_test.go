package webhooks

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func planIn(state platformv1alpha1.PlanState, annotations map[string]string, acts ...platformv1alpha1.RemediationAction) *platformv1alpha1.RemediationPlan {
	return &platformv1alpha1.RemediationPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout-plan-1", Annotations: annotations},
		Spec:       platformv1alpha1.RemediationPlanSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: "checkout"}, Attempt: 1, Actions: acts},
		Status:     platformv1alpha1.RemediationPlanStatus{State: state},
	}
}

func act(t platformv1alpha1.ActionType, params map[string]string) platformv1alpha1.RemediationAction {
	return platformv1alpha1.RemediationAction{Type: t, Params: params}
}

// outcome is what a test compares: allowed, the rule, and the fragments
// the message must hold.
type outcome struct {
	Allowed  bool
	Rule     string
	Warnings int
}

func TestDecidePlanDeletion(t *testing.T) {
	force := map[string]string{platformv1alpha1.AnnotationForceDelete: "true"}
	cases := map[string]struct {
		reason            string
		plan              *platformv1alpha1.RemediationPlan
		namespaceDeleting bool
		want              outcome
		message           []string
	}{
		"completed": {reason: "an ended plan goes", plan: planIn(platformv1alpha1.PlanCompleted, nil), want: outcome{true, RuleTerminal, 0}},
		"failed":    {reason: "an ended plan goes", plan: planIn(platformv1alpha1.PlanFailed, nil), want: outcome{true, RuleTerminal, 0}},
		"rolled back": {reason: "an ended plan goes", plan: planIn(platformv1alpha1.PlanRolledBack, nil),
			want: outcome{true, RuleTerminal, 0}},
		"executing": {reason: "a running plan may hold its target mid-change", plan: planIn(platformv1alpha1.PlanExecuting, nil),
			want:    outcome{false, RuleRunning, 0},
			message: []string{"shop/checkout-plan-1 is Executing", "until it ends", platformv1alpha1.AnnotationForceDelete + "=true"}},
		"verifying": {reason: "verification may still roll back", plan: planIn(platformv1alpha1.PlanVerifying, nil),
			want: outcome{false, RuleRunning, 0}, message: []string{"is Verifying"}},
		"pending":          {reason: "not ended", plan: planIn(platformv1alpha1.PlanPending, nil), want: outcome{false, RuleRunning, 0}, message: []string{"is Pending"}},
		"waiting approval": {reason: "not ended", plan: planIn(platformv1alpha1.PlanWaitingApproval, nil), want: outcome{false, RuleRunning, 0}, message: []string{"Reject it"}},
		"no state yet": {reason: "a plan the reconciler has not seen has not ended", plan: planIn("", nil),
			want: outcome{false, RuleRunning, 0}, message: []string{"not yet started"}},
		"forced while executing": {reason: "a person's override goes, with a warning about the target", plan: planIn(platformv1alpha1.PlanExecuting, force),
			want: outcome{true, RuleForceDelete, 1}},
		"forced while pending": {reason: "the override works in every state", plan: planIn(platformv1alpha1.PlanPending, force),
			want: outcome{true, RuleForceDelete, 1}},
		"override not true": {reason: "only the exact value forces", plan: planIn(platformv1alpha1.PlanExecuting, map[string]string{platformv1alpha1.AnnotationForceDelete: "yes"}),
			want: outcome{false, RuleRunning, 0}, message: []string{`is "yes"`, `only "true"`}},
		"namespace deleting": {reason: "a webhook never wedges a namespace deletion", plan: planIn(platformv1alpha1.PlanExecuting, nil), namespaceDeleting: true,
			want: outcome{true, RuleNamespaceDeleting, 0}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v := DecidePlanDeletion(tc.plan, tc.namespaceDeleting)
			if diff := cmp.Diff(tc.want, outcome{v.Allowed, v.Rule, len(v.Warnings)}); diff != "" {
				t.Errorf("%s: verdict (-want +got):\n%s\nreason: %s", tc.reason, diff, v.Reason)
			}
			for _, m := range tc.message {
				if !strings.Contains(v.Reason, m) {
					t.Errorf("%s: message %q lacks %q", tc.reason, v.Reason, m)
				}
			}
		})
	}
}

func TestDecidePlanChange(t *testing.T) {
	scale := act(platformv1alpha1.ActionScaleDeployment, map[string]string{"replicas": "3"})
	badScale := act(platformv1alpha1.ActionScaleDeployment, map[string]string{"replicas": "many"})
	running := planIn(platformv1alpha1.PlanExecuting, nil, badScale)
	withHistory := planIn(platformv1alpha1.PlanExecuting, nil, badScale)
	withHistory.Spec.AgenticHistory = []platformv1alpha1.AgenticStep{{StepNumber: 1, Action: &badScale}}
	annotated := planIn(platformv1alpha1.PlanExecuting, map[string]string{"a": "b"}, badScale)
	cases := map[string]struct {
		reason  string
		old     *platformv1alpha1.RemediationPlan
		plan    *platformv1alpha1.RemediationPlan
		want    outcome
		message []string
	}{
		"valid actions": {reason: "catalogue actions with good params", plan: planIn("", nil, scale,
			act(platformv1alpha1.ActionAdjustResources, map[string]string{"container": "app", "memory_limit": "256Mi"})),
			want: outcome{true, RuleActions, 0}},
		"custom": {reason: "Custom is stored and shown; the policy refuses to run it", plan: planIn("", nil, act(platformv1alpha1.ActionCustom, nil)),
			want: outcome{true, RuleActions, 0}},
		"not implemented": {reason: "a known action not implemented yet is stored; the policy refuses to run it",
			plan: planIn("", nil, act(platformv1alpha1.ActionCordonNode, nil)), want: outcome{true, RuleActions, 0}},
		"unknown type": {reason: "a type this remediator's catalogue does not know",
			plan: planIn("", nil, scale, act("FrobnicateDeployment", nil)), want: outcome{false, RuleActions, 0},
			message: []string{"RemediationPlan shop/checkout-plan-1 refused", "spec.actions[1] (FrobnicateDeployment): not an action of the remediator's catalogue"}},
		"bad param value": {reason: "the param schema refuses it", plan: planIn("", nil, badScale), want: outcome{false, RuleActions, 0},
			message: []string{`spec.actions[0] (ScaleDeployment): param "replicas": "many" is not an integer`}},
		"unknown param": {reason: "a param the action does not take", plan: planIn("", nil, act(platformv1alpha1.ActionRestartDeployment, map[string]string{"replicas": "2"})),
			want: outcome{false, RuleActions, 0}, message: []string{`param "replicas": not a param of the action`}},
		"missing param": {reason: "a required param is absent", plan: planIn("", nil, act(platformv1alpha1.ActionPatchConfig, map[string]string{"configmap": "app", "key": "k"})),
			want: outcome{false, RuleActions, 0}, message: []string{`param "value": required`}},
		"cross-param rule": {reason: "a limit below its request",
			plan: planIn("", nil, act(platformv1alpha1.ActionAdjustResources, map[string]string{"container": "app", "memory_request": "512Mi", "memory_limit": "256Mi"})),
			want: outcome{false, RuleActions, 0}, message: []string{`param "memory_limit": below memory_request`}},
		"every problem listed": {reason: "a person fixes them all at once", plan: planIn("", nil, badScale, scale, act("Nope", nil)),
			want: outcome{false, RuleActions, 0}, message: []string{"spec.actions[0]", "; spec.actions[2] (Nope)"}},
		"update, actions unchanged": {reason: "a status or metadata write on a stored plan passes even if its actions are now refused",
			old: running, plan: annotated, want: outcome{true, RuleUnchanged, 0}},
		"update, agentic history appended": {reason: "the reconciler records what the AI proposed, refused steps too",
			old: running, plan: withHistory, want: outcome{true, RuleUnchanged, 0}},
		"update, actions changed": {reason: "a spec change is checked", old: planIn("", nil, scale), plan: planIn("", nil, badScale),
			want: outcome{false, RuleActions, 0}, message: []string{`param "replicas"`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v := DecidePlanChange(tc.old, tc.plan)
			if diff := cmp.Diff(tc.want, outcome{v.Allowed, v.Rule, len(v.Warnings)}); diff != "" {
				t.Errorf("%s: verdict (-want +got):\n%s\nreason: %s", tc.reason, diff, v.Reason)
			}
			for _, m := range tc.message {
				if !strings.Contains(v.Reason, m) {
					t.Errorf("%s: message %q lacks %q", tc.reason, v.Reason, m)
				}
			}
		})
	}
}

func TestDecideRunbookChange(t *testing.T) {
	rb := func(steps ...platformv1alpha1.RunbookStep) *platformv1alpha1.Runbook {
		return &platformv1alpha1.Runbook{ObjectMeta: metav1.ObjectMeta{Namespace: "platform", Name: "oom"}, Spec: platformv1alpha1.RunbookSpec{Steps: steps}}
	}
	good := platformv1alpha1.RunbookStep{Name: "more memory", Action: platformv1alpha1.ActionAdjustResources, Params: platformv1alpha1.ActionParams{"container": "app", "memory_limit": "1Gi"}}
	bad := platformv1alpha1.RunbookStep{Name: "rollback", Action: platformv1alpha1.ActionRollbackDeployment, Params: platformv1alpha1.ActionParams{"toRevision": "yesterday"}}
	stored := rb(bad)
	stored.Status.TimesUsed = 3
	cases := map[string]struct {
		reason  string
		old, rb *platformv1alpha1.Runbook
		want    outcome
		message []string
	}{
		"valid":        {reason: "catalogue actions with good params", rb: rb(good), want: outcome{true, RuleActions, 0}},
		"bad revision": {reason: "the param schema refuses it", rb: rb(good, bad), want: outcome{false, RuleActions, 0}, message: []string{`Runbook platform/oom refused: spec.steps[1] "rollback" (RollbackDeployment): param "toRevision"`}},
		"unknown":      {reason: "not in the catalogue", rb: rb(platformv1alpha1.RunbookStep{Name: "x", Action: "Reboot"}), want: outcome{false, RuleActions, 0}, message: []string{`spec.steps[0] "x" (Reboot): not an action of the remediator's catalogue`}},
		"status write": {reason: "the reconciler's counters pass on a stored Runbook the catalogue now refuses", old: rb(bad), rb: stored, want: outcome{true, RuleUnchanged, 0}},
		"steps fixed":  {reason: "a fix passes", old: rb(bad), rb: rb(good), want: outcome{true, RuleActions, 0}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v := DecideRunbookChange(tc.old, tc.rb)
			if diff := cmp.Diff(tc.want, outcome{v.Allowed, v.Rule, len(v.Warnings)}); diff != "" {
				t.Errorf("%s: verdict (-want +got):\n%s\nreason: %s", tc.reason, diff, v.Reason)
			}
			for _, m := range tc.message {
				if !strings.Contains(v.Reason, m) {
					t.Errorf("%s: message %q lacks %q", tc.reason, v.Reason, m)
				}
			}
		})
	}
}
