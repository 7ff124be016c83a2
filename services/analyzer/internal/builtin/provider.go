package builtin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/llm"
)

// Provider is the offline analyzer as an llm.Provider. It needs no
// network and answers in the JSON the parsers expect, so its answers are
// parsed and validated like a model's.
type Provider struct{}

var _ llm.Provider = Provider{}

// Name implements llm.Provider.
func (Provider) Name() platformv1alpha1.Provider { return platformv1alpha1.ProviderBuiltin }

// Complete implements llm.Provider.
func (Provider) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	if err := ctx.Err(); err != nil {
		return llm.Response{}, fmt.Errorf("%w: %w", llm.ErrUnavailable, err)
	}
	doc := &Document{}
	if err := json.Unmarshal([]byte(req.Untrusted.String()), doc); err != nil {
		return llm.Response{}, fmt.Errorf("builtin: read the request data: %w", err)
	}
	in := inputOf(doc)
	var answer any
	switch req.Task {
	case llm.TaskAnalyze:
		answer = analysisAnswer(Analyze(in))
	case llm.TaskAgenticStep:
		answer = agenticAnswer(in, doc)
	case llm.TaskSummarize:
		answer = summaryAnswer(doc)
	default:
		return llm.Response{}, fmt.Errorf("builtin: unknown task %q", req.Task)
	}
	return llm.Response{Text: llm.Marshal(answer), Model: Model}, nil
}

// inputOf reads the rules' input from a document. A context that does not
// parse (free text from another client) is an empty one.
func inputOf(doc *Document) Input {
	ref := k8sctx.Ref{Kind: doc.Issue.ResourceKind, Namespace: doc.Issue.Namespace, Name: doc.Issue.ResourceName}
	c, err := k8sctx.Parse([]byte(doc.KubernetesContext))
	if err != nil || doc.KubernetesContext == "" {
		c = &k8sctx.Context{Resource: ref}
	}
	return Input{
		Signal: platformv1alpha1.SignalType(doc.Issue.SignalType), Resource: ref, Context: c,
		Attempt: doc.Attempt, FailureContext: doc.PreviousFailure,
	}
}

func analysisAnswer(f Finding) llm.Analysis {
	conf := f.Confidence
	a := llm.Analysis{Analysis: f.Analysis, Confidence: &conf, Recommendations: f.Recommendations, SuggestedActions: []llm.Action{}}
	for _, act := range f.Actions {
		a.SuggestedActions = append(a.SuggestedActions, llm.Action{Name: act.Name, Action: string(act.Action), Description: act.Description, Params: act.Params})
	}
	return a
}

// agenticAnswer observes the fresh context: a healthy workload is
// resolved; otherwise the next rule whose strategy no step has tried
// acts, and when none is left, the loop stops without an action.
func agenticAnswer(in Input, doc *Document) llm.AgenticDecision {
	var tried []string
	for _, s := range doc.History {
		if s.Action != "" {
			in.Tried = append(in.Tried, platformv1alpha1.ActionType(s.Action))
			tried = append(tried, s.Action)
		}
	}
	if in.Context.Found && in.Context.Healthy {
		fixed := "no action"
		if len(tried) > 0 {
			fixed = strings.Join(tried, ", then ")
		}
		return llm.AgenticDecision{
			Reasoning:         fmt.Sprintf("The context shows %s %s/%s healthy after %s.", in.Resource.Kind, in.Resource.Namespace, in.Resource.Name, fixed),
			Resolved:          true,
			PostmortemSummary: fmt.Sprintf("%s on %s %s/%s, resolved by %s.", in.Signal, in.Resource.Kind, in.Resource.Namespace, in.Resource.Name, fixed),
			RootCause:         Analyze(Input{Signal: in.Signal, Resource: in.Resource, Context: &k8sctx.Context{Resource: in.Context.Resource}}).Analysis,
			Impact:            fmt.Sprintf("%s %s/%s was degraded until the fix.", in.Resource.Kind, in.Resource.Namespace, in.Resource.Name),
			LessonsLearned:    []string{"Alert on " + string(in.Signal) + " before it affects users."},
			PreventionActions: []string{"Add a Runbook for " + string(in.Signal) + " on " + in.Resource.Kind + " so that the fix is applied without analysis."},
		}
	}
	f := Analyze(in)
	d := llm.AgenticDecision{Reasoning: f.Analysis}
	if len(f.Actions) > 0 {
		a := f.Actions[0]
		d.NextAction = &llm.Action{Name: a.Name, Action: string(a.Action), Description: a.Description, Params: a.Params}
		if len(doc.InsightActions) > 0 && !contains(doc.InsightActions, string(a.Action)) {
			d.DivergesFromInsight = true
			d.DivergenceReason = "the fresh context calls for " + string(a.Action) + " (rule " + f.Rule + ")"
		}
	} else if len(tried) > 0 && rollingOut(in.Context) {
		// No action, not resolved: the remediator looks again after its
		// observe interval.
		d.Reasoning += fmt.Sprintf(" The rollout that %s started is still in progress; waiting to see its effect.", strings.Join(tried, ", then "))
	} else {
		d.Reasoning += " No untried safe action is left; the incident needs a person."
	}
	return d
}

// rollingOut is a workload whose controller has not finished rolling out
// its spec: not observed yet, or not every replica updated and available.
func rollingOut(c *k8sctx.Context) bool {
	w := c.Workload
	if !c.Found || w == nil || w.Desired == 0 {
		return false
	}
	return w.ObservedGeneration < w.Generation || w.Updated < w.Desired || w.Available < w.Desired
}

func summaryAnswer(doc *Document) llm.Summary {
	in := inputOf(doc)
	actions := "no action"
	if len(doc.ActionsExecuted) > 0 {
		actions = strings.Join(doc.ActionsExecuted, "; ")
	}
	rootCause := doc.Analysis
	if rootCause == "" {
		rootCause = Analyze(in).Analysis
	}
	return llm.Summary{
		Summary: fmt.Sprintf("Incident %s: %s on %s %s/%s (severity %s), resolved after %s.",
			orDefault(doc.IncidentID, doc.Issue.Name), doc.Issue.SignalType, in.Resource.Kind, in.Resource.Namespace, in.Resource.Name,
			orDefault(doc.Issue.Severity, "unknown"), actions),
		RootCause:         rootCause,
		Impact:            fmt.Sprintf("%s %s/%s was degraded for the %d timeline events recorded.", in.Resource.Kind, in.Resource.Namespace, in.Resource.Name, len(doc.Timeline)),
		LessonsLearned:    []string{"The " + doc.Issue.SignalType + " signal caught the problem; keep its alert."},
		PreventionActions: []string{"Turn the successful actions into a Runbook for " + doc.Issue.SignalType + "."},
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
