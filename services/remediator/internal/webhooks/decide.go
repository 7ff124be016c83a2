package webhooks

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
)

// Verdict is the webhook's answer to one request.
type Verdict struct {
	Allowed bool
	// Reason says why a request was refused, for the person who sent it.
	Reason string
	// Rule names what decided: RuleTerminal, RuleForceDelete,
	// RuleNamespaceDeleting, RuleRunning, RuleActions or RuleUnchanged.
	Rule string
	// Warnings go back to the client (kubectl prints them) on an allowed
	// request that deserves a second look.
	Warnings []string
}

// Rules of the webhook, as recorded in the audit and the logs.
const (
	RuleTerminal          = "plan-ended"
	RuleForceDelete       = "force-delete"
	RuleNamespaceDeleting = "namespace-deleting"
	RuleRunning           = "plan-not-ended"
	RuleActions           = "actions"
	RuleUnchanged         = "actions-unchanged"
)

func allow(rule string) Verdict { return Verdict{Allowed: true, Rule: rule} }

// DecidePlanDeletion decides the deletion of plan p. A plan that has not
// ended may hold the lock on its target and be halfway through an action
// that only its rollback can undo, so only an ended plan goes, unless a
// person annotated it with platform.chatcli.io/force-delete=true, or its
// namespace is being deleted (the target goes with it, and a webhook must
// never wedge a namespace deletion).
func DecidePlanDeletion(p *platformv1alpha1.RemediationPlan, namespaceDeleting bool) Verdict {
	state := p.Status.State
	if state.IsTerminal() {
		return allow(RuleTerminal)
	}
	shown := string(state)
	if shown == "" {
		shown = "not yet started (no state)"
	}
	v, annotated := p.Annotations[platformv1alpha1.AnnotationForceDelete]
	if v == "true" {
		w := fmt.Sprintf("RemediationPlan %s/%s was force-deleted while %s", p.Namespace, p.Name, shown)
		if state == platformv1alpha1.PlanExecuting || state == platformv1alpha1.PlanVerifying {
			w += ": its target may be left mid-change and is not rolled back; check it by hand"
		}
		return Verdict{Allowed: true, Rule: RuleForceDelete, Warnings: []string{w}}
	}
	if namespaceDeleting {
		return allow(RuleNamespaceDeleting)
	}
	if annotated {
		return Verdict{Rule: RuleRunning, Reason: fmt.Sprintf(
			"RemediationPlan %s/%s is %s and has not ended; its annotation %s is %q, and only \"true\" forces its deletion",
			p.Namespace, p.Name, shown, platformv1alpha1.AnnotationForceDelete, v)}
	}
	return Verdict{Rule: RuleRunning, Reason: fmt.Sprintf(
		"RemediationPlan %s/%s is %s and cannot be deleted until it ends (Completed, Failed or RolledBack): "+
			"it may hold its target mid-change, and only its own rollback undoes that. "+
			"Reject it if it waits for approval, or wait for it to end; in an emergency, "+
			"kubectl annotate remediationplan -n %s %s %s=true, then delete it again",
		p.Namespace, p.Name, shown, p.Namespace, p.Name, platformv1alpha1.AnnotationForceDelete)}
}

// DecidePlanChange decides the create (old nil) or update of a plan. Its
// spec.actions must be catalogue actions whose params parse. On an update
// the actions are checked only when they changed, so that status,
// metadata and agentic-history writes always pass, even on a plan stored
// before a catalogue change. spec.agenticHistory is not checked: it is the
// record of what the AI proposed, refused steps included, and the
// reconciler must be able to write it.
func DecidePlanChange(old, p *platformv1alpha1.RemediationPlan) Verdict {
	if old != nil && equality.Semantic.DeepEqual(old.Spec.Actions, p.Spec.Actions) {
		return allow(RuleUnchanged)
	}
	var problems []string
	for i, a := range p.Spec.Actions {
		if msg := actionProblem(a.Type, a.Params); msg != "" {
			problems = append(problems, fmt.Sprintf("spec.actions[%d] (%s): %s", i, a.Type, msg))
		}
	}
	return refuseProblems("RemediationPlan", p.Namespace, p.Name, problems)
}

// DecideRunbookChange decides the create (old nil) or update of a
// Runbook, as DecidePlanChange does for plans: every step a catalogue
// action whose params parse, checked on an update only when the steps
// changed.
func DecideRunbookChange(old, rb *platformv1alpha1.Runbook) Verdict {
	if old != nil && equality.Semantic.DeepEqual(old.Spec.Steps, rb.Spec.Steps) {
		return allow(RuleUnchanged)
	}
	var problems []string
	for i, st := range rb.Spec.Steps {
		if msg := actionProblem(st.Action, st.Params); msg != "" {
			problems = append(problems, fmt.Sprintf("spec.steps[%d] %q (%s): %s", i, st.Name, st.Action, msg))
		}
	}
	return refuseProblems("Runbook", rb.Namespace, rb.Name, problems)
}

func refuseProblems(kind, namespace, name string, problems []string) Verdict {
	if len(problems) == 0 {
		return allow(RuleActions)
	}
	return Verdict{Rule: RuleActions, Reason: fmt.Sprintf("%s %s/%s refused: %s", kind, namespace, name, strings.Join(problems, "; "))}
}

// actionProblem says why an action is refused, or "" when it is not. It is
// the catalogue's own check (actions.Parse), the one the policy and the
// Runbook reconciler run. Custom and the catalogue actions not implemented
// yet pass: the API stores them so they can be shown, and the policy
// refuses to run them (a Runbook naming one is Valid=False).
func actionProblem(t platformv1alpha1.ActionType, params platformv1alpha1.ActionParams) string {
	err := actions.Parse(t, params)
	var pe *actions.ParamError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, actions.ErrUnknownAction):
		return "not an action of the remediator's catalogue"
	case errors.As(err, &pe) && pe.Param == "":
		return pe.Reason
	case errors.As(err, &pe):
		return fmt.Sprintf("param %q: %s", pe.Param, pe.Reason)
	}
	return err.Error()
}
