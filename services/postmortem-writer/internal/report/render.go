package report

import (
	"fmt"
	"strings"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Render writes a PostMortem as a Markdown document: the facts, the
// narrative, a timeline table, the actions, the lessons, the prevention
// actions, the recurrence and the review history. It reads only the
// object, so the same PostMortem always renders the same document.
func Render(pm *platformv1alpha1.PostMortem) string {
	var b strings.Builder
	st := &pm.Status
	title := pm.Spec.IncidentID
	if title == "" {
		title = pm.Spec.IssueRef.Name
	}
	fmt.Fprintf(&b, "# Post-mortem %s\n\n", cell(title))

	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, cell(v))
		}
	}
	row("Issue", pm.Spec.IssueRef.Name)
	row("Resource", pm.Spec.Resource.Kind+" "+qualifiedName(pm.Spec.Resource))
	row("Severity", string(pm.Spec.Severity))
	row("Signal", pm.Labels[platformv1alpha1.LabelSignalType])
	row("State", string(st.State))
	if st.Duration != nil {
		row("Duration", st.Duration.Duration.String())
	}
	if st.GeneratedAt != nil {
		row("Generated", stamp(st.GeneratedAt.Time))
	}
	if pm.Spec.InsightRef != nil {
		row("AIInsight", pm.Spec.InsightRef.Name)
	}
	var plans []string
	for _, p := range pm.Spec.PlanRefs {
		plans = append(plans, p.Name)
	}
	row("Plans", strings.Join(plans, ", "))
	if st.RunbookRef != nil {
		row("Runbook", st.RunbookRef.Name)
	}

	section := func(title, text string) {
		if text != "" {
			fmt.Fprintf(&b, "\n## %s\n\n%s\n", title, strings.TrimSpace(text))
		}
	}
	section("Summary", st.Summary)
	section("Root cause", st.RootCause)
	section("Impact", st.Impact)

	if len(st.Timeline) > 0 {
		b.WriteString("\n## Timeline\n\n| Time | Event | Attempt | Object | Detail |\n|---|---|---|---|---|\n")
		for _, e := range st.Timeline {
			event := e.Type
			if e.FromState != "" {
				event += fmt.Sprintf(" (%s → %s)", e.FromState, e.ToState)
			}
			attempt := ""
			if e.Attempt > 0 {
				attempt = fmt.Sprint(e.Attempt)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", stamp(e.Timestamp.Time), cell(event), attempt, cell(e.Object), cell(e.Detail))
		}
	}

	if len(st.ActionsExecuted) > 0 {
		b.WriteString("\n## Actions executed\n\n| Time | Action | Result |\n|---|---|---|\n")
		for _, a := range st.ActionsExecuted {
			when := ""
			if a.Timestamp != nil {
				when = stamp(a.Timestamp.Time)
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", when, cell(ActionString(a.Action, a.Params)), a.Result)
		}
	}

	list := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n## %s\n\n", title)
		for _, s := range items {
			fmt.Fprintf(&b, "- %s\n", oneLine(s))
		}
	}
	list("Lessons learned", st.LessonsLearned)
	list("Prevention actions", st.PreventionActions)

	if rec := st.Recurrence; rec != nil && rec.Count > 0 {
		window := "30 days"
		if w := rec.Window; w != nil && w.Duration%(24*time.Hour) == 0 {
			window = fmt.Sprintf("%d days", w.Duration/(24*time.Hour))
		} else if w != nil {
			window = w.Duration.String()
		}
		fmt.Fprintf(&b, "\n## Recurrence\n\n%d earlier post-mortem%s of the same resource and signal within %s:\n\n", rec.Count, plural(int(rec.Count), "", "s"), window)
		for _, p := range rec.PostMortems {
			line := p.Namespace + "/" + p.Name
			if p.IncidentID != "" {
				line += " (" + p.IncidentID + ")"
			}
			if p.DetectedAt != nil {
				line += ", detected " + stamp(p.DetectedAt.Time)
			}
			fmt.Fprintf(&b, "- %s\n", line)
		}
	}

	if len(st.Reviews) > 0 {
		b.WriteString("\n## Review\n\n| Time | State | By | Note |\n|---|---|---|---|\n")
		for _, r := range st.Reviews {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", stamp(r.At.Time), r.State, cell(r.By), cell(r.Note))
		}
	}
	return b.String()
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// cell makes a text safe inside a table cell: one line, and every pipe an
// entity, which no backslash before it can turn back into a column break.
func cell(s string) string { return strings.ReplaceAll(oneLine(s), "|", "&#124;") }

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
