package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Bounds of the PostMortem schema.
const (
	maxTimeline   = 200
	maxActions    = 64
	maxDetail     = 4096
	maxListItems  = 32
	maxLongText   = 8192
	maxTypeLength = 64
)

// Timeline entry types the report adds to the Issue's own transitions.
const (
	EventAnomalyDetected    = "anomaly_detected"
	EventInsightGenerated   = "insight_generated"
	EventAgenticStep        = "agentic_step"
	EventActionExecuted     = "action_executed"
	EventActionFailed       = "action_failed"
	EventActionSkipped      = "action_skipped"
	EventActionRolledBack   = "action_rolled_back"
	EventVerificationPassed = "verification_passed"
	EventVerificationFailed = "verification_failed"
	EventRollback           = "rollback"
	EventPlanEnded          = "plan_" // + the plan's terminal state, lowercased
	EventResolved           = "resolved"
	EventEscalated          = "escalated"
)

// Timeline rebuilds the incident's timeline from the records, in time
// order: each Anomaly's detection, every Issue transition, each insight's
// generation, each plan's agentic steps, actions, verification, rollback
// and end, and the resolution or escalation. Entries of the same instant
// keep that order. Entries without a timestamp are left out: a timeline
// says when. Past the schema's 200 entries, the first is kept (detection)
// with the latest 199.
func Timeline(r Records) []platformv1alpha1.TimelineEntry {
	var out []platformv1alpha1.TimelineEntry
	add := func(t *metav1.Time, typ, detail string, attempt int32, object string) {
		if t == nil || t.IsZero() {
			return
		}
		out = append(out, platformv1alpha1.TimelineEntry{Timestamp: *t, Type: typ, Detail: detail, Attempt: attempt, Object: object})
	}

	for i := range r.Anomalies {
		a := &r.Anomalies[i]
		detail := fmt.Sprintf("Anomaly %s (%s, %s) on %s %s", a.Spec.SignalType, a.Spec.Severity, a.Spec.Source, a.Spec.Resource.Kind, a.Spec.Resource.Name)
		if a.Spec.Description != "" {
			detail += ": " + a.Spec.Description
		}
		add(&a.Spec.DetectedAt, EventAnomalyDetected, detail, 0, a.Name)
	}

	st := &r.Issue.Status
	hasTerminal := map[platformv1alpha1.IssueState]bool{}
	for _, e := range st.Timeline {
		if e.Timestamp.IsZero() {
			continue
		}
		out = append(out, e)
		hasTerminal[e.ToState] = true
	}

	for i := range r.Insights {
		in := &r.Insights[i]
		detail := "Analysis"
		if p := in.Status.Provider; p != "" {
			detail += " by " + string(p)
		}
		if c := in.Status.Confidence; c != nil {
			detail += fmt.Sprintf(" (confidence %.2f)", *c)
		}
		if first := firstLine(in.Status.Analysis); first != "" {
			detail += ": " + first
		}
		add(in.Status.GeneratedAt, EventInsightGenerated, detail, insightAttempt(in), in.Name)
	}

	for i := range r.Plans {
		p := &r.Plans[i]
		attempt := p.Spec.Attempt
		for _, step := range p.Spec.AgenticHistory {
			add(step.Timestamp, EventAgenticStep, stepDetail(step), attempt, p.Name)
		}
		for _, res := range p.Status.ActionResults {
			when := res.Timestamp
			if when == nil {
				when = res.StartedAt
			}
			add(when, actionEvent(res.Result), actionDetail(res), attempt, p.Name)
		}
		if v := p.Status.Verification; v != nil && v.Healthy != nil {
			// The verdict has no stamp of its own; the check began at
			// startedAt, before any rollback its failure caused.
			when := v.StartedAt
			if when == nil {
				when = p.Status.CompletedAt
			}
			typ, detail := EventVerificationPassed, "Verification passed"
			if !*v.Healthy {
				typ, detail = EventVerificationFailed, "Verification failed"
			}
			if v.Message != "" {
				detail += ": " + v.Message
			}
			add(when, typ, detail, attempt, p.Name)
		}
		for _, res := range p.Status.RollbackResults {
			when := res.Timestamp
			if when == nil {
				when = res.StartedAt
			}
			add(when, EventRollback, "Rolled back "+actionDetail(res), attempt, p.Name)
		}
		if p.Status.State.IsTerminal() {
			detail := "Plan " + string(p.Status.State)
			if p.Status.Result != "" {
				detail += ": " + p.Status.Result
			}
			add(p.Status.CompletedAt, EventPlanEnded+strings.ToLower(string(p.Status.State)), detail, attempt, p.Name)
		}
	}

	// The Issue's own timeline normally holds its end as a transition; the
	// stamps stand in when it does not.
	switch {
	case st.State == platformv1alpha1.IssueResolved && !hasTerminal[platformv1alpha1.IssueResolved]:
		add(st.ResolvedAt, EventResolved, cmpOr(st.Resolution, "Issue resolved"), 0, r.Issue.Name)
	case st.State == platformv1alpha1.IssueEscalated && !hasTerminal[platformv1alpha1.IssueEscalated]:
		add(st.EscalatedAt, EventEscalated, "Issue escalated: "+cmpOr(st.EscalationReason, "no reason recorded"), 0, r.Issue.Name)
	}

	slices.SortStableFunc(out, func(a, b platformv1alpha1.TimelineEntry) int { return a.Timestamp.Compare(b.Timestamp.Time) })
	if n := len(out); n > maxTimeline {
		out = append(out[:1], out[n-maxTimeline+1:]...)
	}
	return out
}

// ActionsExecuted are every action the plans ran, in attempt order, with
// params and result; past the schema's 64, the latest are kept.
func ActionsExecuted(r Records) []platformv1alpha1.ExecutedAction {
	var out []platformv1alpha1.ExecutedAction
	for i := range r.Plans {
		for _, res := range r.Plans[i].Status.ActionResults {
			when := res.Timestamp
			if when == nil {
				when = res.StartedAt
			}
			out = append(out, platformv1alpha1.ExecutedAction{Action: res.Type, Params: maps.Clone(res.Params), Result: res.Result, Timestamp: when.DeepCopy()})
		}
	}
	if n := len(out); n > maxActions {
		out = out[n-maxActions:]
	}
	return out
}

func actionEvent(o platformv1alpha1.ActionOutcome) string {
	switch o {
	case platformv1alpha1.ActionFailed:
		return EventActionFailed
	case platformv1alpha1.ActionSkipped:
		return EventActionSkipped
	case platformv1alpha1.ActionRolledBack:
		return EventActionRolledBack
	default:
		return EventActionExecuted
	}
}

// actionDetail reads like the seed's "AdjustResources memory_limit=1Gi",
// with the outcome and the executor's message.
func actionDetail(res platformv1alpha1.ActionResult) string {
	detail := ActionString(res.Type, res.Params) + ": " + string(res.Result)
	if res.Message != "" {
		detail += " (" + res.Message + ")"
	}
	return detail
}

// ActionString is the action and its params, sorted by name.
func ActionString(action platformv1alpha1.ActionType, params platformv1alpha1.ActionParams) string {
	var b strings.Builder
	b.WriteString(string(action))
	for _, k := range slices.Sorted(maps.Keys(params)) {
		fmt.Fprintf(&b, " %s=%s", k, params[k])
	}
	return b.String()
}

func stepDetail(step platformv1alpha1.AgenticStep) string {
	detail := fmt.Sprintf("Step %d", step.StepNumber)
	if step.AIMessage != "" {
		detail += ": " + step.AIMessage
	}
	if step.Action != nil {
		detail += "; action " + ActionString(step.Action.Type, step.Action.Params)
	} else {
		detail += "; declared resolved"
	}
	if step.Observation != "" {
		detail += "; observed: " + step.Observation
	}
	return detail
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
