package policy

import (
	"strings"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
)

// Rules a plan's safetyConstraints can switch on, beyond the ones that
// always hold.
const (
	RuleNoDelete      Rule = "constraint-no-delete"
	RuleNoDestructive Rule = "constraint-no-destructive"
	// RuleAlways names constraints the remediator enforces on every plan.
	RuleAlways Rule = "always-enforced"
)

// constraintRules maps the normalized text of a safety constraint to the
// rule that enforces it.
var constraintRules = map[string]Rule{
	"no delete operations":   RuleNoDelete,
	"no deletes":             RuleNoDelete,
	"no destructive changes": RuleNoDestructive,
	"no destructive actions": RuleNoDestructive,
	"rollback on failure":    RuleAlways,
	"every action passes the action policy again before it runs": RuleAlways,
	"at most one pod deletion per plan":                          RulePodDeletions,
	"no scale to 0 unless declared as containment and approved":  RuleScaleToZero,
}

func normalize(s string) string {
	return strings.Trim(strings.ToLower(strings.Join(strings.Fields(s), " ")), " .")
}

// Constraints maps each safety constraint to the rule that enforces it;
// unknown lists those the policy does not understand, which are shown as
// not enforced rather than silently ignored.
func Constraints(constraints []string) (enforced map[string]Rule, unknown []string) {
	enforced = map[string]Rule{}
	for _, c := range constraints {
		if r, ok := constraintRules[normalize(c)]; ok {
			enforced[c] = r
		} else {
			unknown = append(unknown, c)
		}
	}
	return enforced, unknown
}

// constraintRefusal applies the rules the plan's constraints switch on.
func constraintRefusal(action platformv1alpha1.RemediationAction, spec actions.Spec, constraints []string) (Verdict, bool) {
	enforced, _ := Constraints(constraints)
	for c, rule := range enforced {
		switch {
		case rule == RuleNoDelete && deletes(action.Type):
			return refuse(RuleNoDelete, "the plan's safety constraint %q forbids %s", c, action.Type), true
		case rule == RuleNoDestructive && (spec.Class == actions.ClassDestructive || scalesToZero(action)):
			return refuse(RuleNoDestructive, "the plan's safety constraint %q forbids the destructive %s", c, action.Type), true
		}
	}
	return Verdict{}, false
}

// deletes says whether an action deletes an object: those named so, and
// RetryJob and AdjustJobResources, which delete the failed Job to create
// it anew.
func deletes(t platformv1alpha1.ActionType) bool {
	return strings.Contains(string(t), "Delete") || t == platformv1alpha1.ActionRetryJob || t == platformv1alpha1.ActionAdjustJobResources
}

func scalesToZero(a platformv1alpha1.RemediationAction) bool {
	return (a.Type == platformv1alpha1.ActionScaleDeployment || a.Type == platformv1alpha1.ActionScaleStatefulSet) && strings.TrimSpace(a.Params[actions.ParamReplicas]) == "0"
}
