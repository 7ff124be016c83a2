package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Narrative is the prose of a post-mortem.
type Narrative struct {
	Summary           string
	RootCause         string
	Impact            string
	LessonsLearned    []string
	PreventionActions []string
}

// Report is everything of a PostMortem's status that the records give.
type Report struct {
	Narrative
	Timeline        []platformv1alpha1.TimelineEntry
	ActionsExecuted []platformv1alpha1.ExecutedAction
	// Duration is from the first detection to the end; nil when the
	// records hold no start or no end.
	Duration *metav1.Duration
}

// Build rebuilds the report from the records. The prose comes from the
// agentic resolution of the plan that resolved the Issue, else from the
// AIInsight of the attempt that worked (or the last), with what the
// records say filling every part neither gives.
func Build(r Records) Report {
	r = r.Sorted()
	rep := Report{Timeline: Timeline(r), ActionsExecuted: ActionsExecuted(r)}
	if start, end, ok := r.Window(); ok {
		rep.Duration = &metav1.Duration{Duration: end.Sub(start).Round(time.Second)}
	}
	fromRecords := recordsNarrative(r, rep)
	rep.Narrative = fromRecords
	if p := r.SucceededPlan(); p != nil && p.Spec.AgenticMode {
		if ai, ok := agenticNarrative(p); ok {
			rep.Narrative = Narrative{
				Summary:           cmpOr(ai.Summary, fromRecords.Summary),
				RootCause:         cmpOr(ai.RootCause, fromRecords.RootCause),
				Impact:            cmpOr(ai.Impact, fromRecords.Impact),
				LessonsLearned:    orList(ai.LessonsLearned, fromRecords.LessonsLearned),
				PreventionActions: orList(ai.PreventionActions, fromRecords.PreventionActions),
			}
		}
	}
	return rep
}

// Refine replaces each part of the narrative the analyzer's summary gives.
func (n Narrative) Refine(summary, rootCause, impact string, lessons, prevention []string) Narrative {
	return Narrative{
		Summary:           cmpOr(strings.TrimSpace(summary), n.Summary),
		RootCause:         cmpOr(strings.TrimSpace(rootCause), n.RootCause),
		Impact:            cmpOr(strings.TrimSpace(impact), n.Impact),
		LessonsLearned:    orList(nonEmpty(lessons), n.LessonsLearned),
		PreventionActions: orList(nonEmpty(prevention), n.PreventionActions),
	}
}

// recordsNarrative is what the records alone say.
func recordsNarrative(r Records, rep Report) Narrative {
	issue := r.Issue
	st := &issue.Status
	res := issue.Spec.Resource
	what := fmt.Sprintf("%s on %s %s", issue.Spec.SignalType, res.Kind, qualifiedName(res))
	if st.IncidentID != "" {
		what = st.IncidentID + ": " + what
	}
	attempts := len(st.Attempts)
	var n Narrative

	switch st.State {
	case platformv1alpha1.IssueResolved:
		n.Summary = fmt.Sprintf("%s (%s) was resolved", what, issue.Spec.Severity)
		if a := r.SucceededAttempt(); a > 0 {
			n.Summary += fmt.Sprintf(" by attempt %d of %d", a, max(attempts, int(a)))
			if s := attemptStrategy(r, a); s != "" {
				n.Summary += " (" + s + ")"
			}
		}
		if st.Resolution != "" {
			n.Summary += ": " + st.Resolution
		}
	case platformv1alpha1.IssueEscalated:
		n.Summary = fmt.Sprintf("%s (%s) was escalated to people after %d attempt(s): %s",
			what, issue.Spec.Severity, attempts, cmpOr(st.EscalationReason, "no reason recorded"))
	default:
		n.Summary = fmt.Sprintf("%s (%s) is %s", what, issue.Spec.Severity, cmpOr(string(st.State), "new"))
	}

	if in := r.Insight(); in != nil && strings.TrimSpace(in.Status.Analysis) != "" {
		n.RootCause = strings.TrimSpace(in.Status.Analysis)
		n.PreventionActions = nonEmpty(in.Status.Recommendations)
	} else {
		n.RootCause = "No analysis was recorded for this incident."
	}

	n.Impact = impact(r, rep)

	for _, a := range st.Attempts {
		if a.Outcome == "" || a.Outcome == platformv1alpha1.AttemptSucceeded {
			continue
		}
		lesson := fmt.Sprintf("Attempt %d (%s) ended %s", a.Attempt, cmpOr(a.Strategy, "no strategy recorded"), a.Outcome)
		if a.FailureContext != "" {
			lesson += ": " + a.FailureContext
		}
		n.LessonsLearned = append(n.LessonsLearned, lesson)
	}
	if a := r.SucceededAttempt(); a > 0 {
		n.LessonsLearned = append(n.LessonsLearned, fmt.Sprintf("Attempt %d (%s) resolved the incident", a, cmpOr(attemptStrategy(r, a), "no strategy recorded")))
	}
	if st.RecurrenceOf != nil {
		n.LessonsLearned = append(n.LessonsLearned, "This incident repeats Issue "+st.RecurrenceOf.Name+": the earlier fix did not hold")
	}
	if st.State == platformv1alpha1.IssueEscalated {
		n.LessonsLearned = append(n.LessonsLearned, "The platform could not fix this on its own ("+cmpOr(st.EscalationReason, "no reason recorded")+"); people took over")
	}
	return n
}

func impact(r Records, rep Report) string {
	res := r.Issue.Spec.Resource
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s was affected", res.Kind, qualifiedName(res))
	if rep.Duration != nil {
		fmt.Fprintf(&b, " for %s", rep.Duration.Duration)
	}
	if n := len(r.Anomalies); n > 0 {
		types := map[string]bool{}
		for _, a := range r.Anomalies {
			types[string(a.Spec.SignalType)] = true
		}
		fmt.Fprintf(&b, "; %d anomal%s (%s)", n, plural(n, "y", "ies"), strings.Join(slices.Sorted(maps.Keys(types)), ", "))
	}
	var failed, rolledBack int
	for _, a := range rep.ActionsExecuted {
		switch a.Result {
		case platformv1alpha1.ActionFailed:
			failed++
		case platformv1alpha1.ActionRolledBack:
			rolledBack++
		}
	}
	fmt.Fprintf(&b, "; %d action%s executed, %d failed, %d rolled back", len(rep.ActionsExecuted), plural(len(rep.ActionsExecuted), "", "s"), failed, rolledBack)
	fmt.Fprintf(&b, "; risk score %d", r.Issue.Spec.RiskScore)
	return b.String()
}

func attemptStrategy(r Records, attempt int32) string {
	for _, a := range r.Issue.Status.Attempts {
		if a.Attempt == attempt && a.Strategy != "" {
			return a.Strategy
		}
	}
	for i := range r.Plans {
		if p := &r.Plans[i]; p.Spec.Attempt == attempt {
			switch {
			case p.Spec.AgenticMode:
				return "agentic"
			case p.Spec.RunbookRef != nil:
				return "Runbook " + p.Spec.RunbookRef.Name
			}
		}
	}
	return ""
}

func qualifiedName(r platformv1alpha1.ResourceReference) string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orList(a, fallback []string) []string {
	if len(a) == 0 {
		return fallback
	}
	return a
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Clean scrubs every text of the report, then cuts each to the schema's
// bounds (in that order, so a cut never leaves half a secret unscrubbed).
func (rep *Report) Clean(scrub Scrub) {
	clean := func(s string, n int) string { return truncate(scrub(s), n) }
	rep.Summary = clean(rep.Summary, maxLongText)
	rep.RootCause = clean(rep.RootCause, maxLongText)
	rep.Impact = clean(rep.Impact, maxLongText)
	rep.LessonsLearned = cleanList(rep.LessonsLearned, func(s string) string { return clean(s, maxDetail) })
	rep.PreventionActions = cleanList(rep.PreventionActions, func(s string) string { return clean(s, maxDetail) })
	for i := range rep.Timeline {
		e := &rep.Timeline[i]
		e.Type = truncate(e.Type, maxTypeLength)
		e.Detail = clean(e.Detail, maxDetail)
	}
	for i := range rep.ActionsExecuted {
		for k, v := range rep.ActionsExecuted[i].Params {
			rep.ActionsExecuted[i].Params[k] = clean(v, platformv1alpha1.MaxActionParamValueLength)
		}
	}
}

func cleanList(list []string, clean func(string) string) []string {
	if len(list) > maxListItems {
		list = list[:maxListItems]
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, clean(s))
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
