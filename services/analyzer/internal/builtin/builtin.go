// Package builtin is the offline analyzer: deterministic rules over the
// signal type and the Kubernetes context, read like a runbook. Each rule
// lives in its own file (rule_*.go) and registers itself with one call; its
// table test is one row in rules_test.go.
//
// A rule either proposes one strategy (a list of catalogue actions) or
// explains, honestly, why it proposes none, so that the Issue escalates
// to people instead of being "fixed" by something that cannot fix it. On a
// retry, a rule whose strategy was already tried is skipped, and the next
// rule for the signal answers.
package builtin

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
)

// Model is the model name the built-in analyzer reports.
const Model = "builtin-rules-v1"

// Input is what a rule decides on.
type Input struct {
	Signal   platformv1alpha1.SignalType
	Resource k8sctx.Ref
	// Context is never nil; an empty one means nothing is known.
	Context *k8sctx.Context
	// Attempt counts from 1.
	Attempt int32
	// FailureContext is the evidence of earlier attempts' failures.
	FailureContext string
	// Tried are action types already tried (from the failure context and
	// an agentic history); their strategies are not proposed again.
	Tried []platformv1alpha1.ActionType
}

// Finding is a rule's answer.
type Finding struct {
	Rule            string
	Analysis        string
	Confidence      float64
	Recommendations []string
	Actions         []platformv1alpha1.SuggestedAction
}

// Rule is one runbook entry.
type Rule struct {
	// Name identifies the rule in findings and tests.
	Name string
	// Signals the rule answers.
	Signals []platformv1alpha1.SignalType
	// Confidence of the rule's finding, documented in its file.
	Confidence float64
	// Decide returns the finding, or false when the rule does not apply
	// to this context. It fills Analysis, Recommendations and Actions;
	// Rule and Confidence are the rule's.
	Decide func(in Input) (Finding, bool)

	priority int
}

var rules []Rule

// register adds a rule; rules are tried in the order of their priority,
// then of registration (file name order).
func register(priority int, r Rule) struct{} {
	r.priority = priority
	rules = append(rules, r)
	slices.SortStableFunc(rules, func(a, b Rule) int { return a.priority - b.priority })
	return struct{}{}
}

// Rules lists the registered rules, in the order they are tried.
func Rules() []Rule { return slices.Clone(rules) }

// Analyze runs the first rule that applies and whose strategy was not
// tried. It always answers: when no rule does, the finding says so and
// proposes nothing.
func Analyze(in Input) Finding {
	if in.Context == nil {
		in.Context = &k8sctx.Context{Resource: in.Resource}
	}
	tried := slices.Clone(in.Tried)
	tried = append(tried, TriedActions(in.FailureContext)...)
	var skipped []string
	for _, r := range rules {
		if !slices.Contains(r.Signals, in.Signal) {
			continue
		}
		f, ok := r.Decide(in)
		if !ok {
			continue
		}
		if repeated := repeats(f.Actions, tried); repeated != "" {
			skipped = append(skipped, fmt.Sprintf("%s (rule %s) was already tried and failed, so it is not proposed again", repeated, r.Name))
			continue
		}
		f.Rule, f.Confidence = r.Name, r.Confidence
		if len(skipped) > 0 {
			f.Analysis += " " + strings.Join(skipped, "; ") + "."
		}
		return f
	}
	f := Finding{
		Rule:       "no-rule",
		Confidence: 0.2,
		Analysis: fmt.Sprintf("No built-in rule has a safe action for a %s signal on %s %s/%s with what the context shows.",
			in.Signal, in.Resource.Kind, in.Resource.Namespace, in.Resource.Name),
		Recommendations: []string{"Investigate by hand; the incident escalates without an automatic action."},
	}
	if len(skipped) > 0 {
		f.Analysis += " " + strings.Join(skipped, "; ") + "."
	}
	return f
}

// repeats returns the first action of actions that was tried.
func repeats(actions []platformv1alpha1.SuggestedAction, tried []platformv1alpha1.ActionType) string {
	for _, a := range actions {
		if slices.Contains(tried, a.Action) {
			return string(a.Action)
		}
	}
	return ""
}

var actionWord = regexp.MustCompile(`\b[A-Z][A-Za-z]+\b`)

// TriedActions finds the catalogue action types a failure context names.
func TriedActions(failureContext string) []platformv1alpha1.ActionType {
	var out []platformv1alpha1.ActionType
	for _, w := range actionWord.FindAllString(failureContext, -1) {
		a := platformv1alpha1.ActionType(w)
		if a.IsExecutable() && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// action builds a suggested action.
func action(t platformv1alpha1.ActionType, description string, params map[string]string) platformv1alpha1.SuggestedAction {
	a := platformv1alpha1.SuggestedAction{Name: string(t), Action: t, Description: description}
	if len(params) > 0 {
		a.Params = params
	}
	return a
}

// perKind maps a workload kind to the kind's variant of an action.
func perKind(kind string, byKind map[string]platformv1alpha1.ActionType) (platformv1alpha1.ActionType, bool) {
	a, ok := byKind[kind]
	return a, ok
}

// failingSummary describes the failing pods in one sentence.
func failingSummary(c *k8sctx.Context) string {
	failing := c.FailingPods()
	if len(failing) == 0 {
		return "no pod of it is failing right now"
	}
	var parts []string
	for _, p := range failing {
		for _, cs := range p.Containers {
			if cs.Reason == "" && cs.LastTerminationReason == "" {
				continue
			}
			s := fmt.Sprintf("pod %s container %s is %s", p.Name, cs.Name, orDefault(cs.Reason, cs.State))
			if cs.LastTerminationReason != "" && cs.LastExitCode != nil {
				s += fmt.Sprintf(" (last exit %s, code %d)", cs.LastTerminationReason, *cs.LastExitCode)
			}
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d pods are failing", len(failing))
	}
	if len(parts) > 3 {
		parts = append(parts[:3], fmt.Sprintf("and %d more", len(parts)-3))
	}
	return strings.Join(parts, "; ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
