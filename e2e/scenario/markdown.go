package scenario

import (
	"fmt"
	"sort"
	"strings"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Markdown renders a PostMortem CR simply, from its spec and status alone,
// for when the postmortem-writer's own rendering is not at hand.
func Markdown(pm *platformv1alpha1.PostMortem) string {
	var b strings.Builder
	title := pm.Spec.IncidentID
	if title == "" {
		title = pm.Name
	}
	fmt.Fprintf(&b, "# Post-mortem %s\n\n", title)
	r := pm.Spec.Resource
	fmt.Fprintf(&b, "- **Resource:** %s %s/%s\n", r.Kind, r.Namespace, r.Name)
	fmt.Fprintf(&b, "- **Severity:** %s\n", pm.Spec.Severity)
	fmt.Fprintf(&b, "- **Issue:** %s\n", pm.Spec.IssueRef.Name)
	if pm.Status.Duration != nil {
		fmt.Fprintf(&b, "- **Duration:** %s\n", pm.Status.Duration.Round(time.Second))
	}
	if pm.Status.State != "" {
		fmt.Fprintf(&b, "- **State:** %s\n", pm.Status.State)
	}
	section := func(name, text string) {
		if text = strings.TrimSpace(text); text != "" {
			fmt.Fprintf(&b, "\n## %s\n\n%s\n", name, text)
		}
	}
	list := func(name string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n## %s\n\n", name)
		for _, item := range items {
			fmt.Fprintf(&b, "- %s\n", item)
		}
	}
	section("Summary", pm.Status.Summary)
	section("Root cause", pm.Status.RootCause)
	section("Impact", pm.Status.Impact)
	if len(pm.Status.Timeline) > 0 {
		timeline := append([]platformv1alpha1.TimelineEntry(nil), pm.Status.Timeline...)
		sort.SliceStable(timeline, func(i, j int) bool { return timeline[i].Timestamp.Before(&timeline[j].Timestamp) })
		b.WriteString("\n## Timeline\n\n| time | event | detail |\n|---|---|---|\n")
		for _, e := range timeline {
			event := e.Type
			if e.FromState != "" {
				event += fmt.Sprintf(" (%s → %s)", e.FromState, e.ToState)
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", e.Timestamp.UTC().Format(time.TimeOnly), event, oneLine(e.Detail))
		}
	}
	if len(pm.Status.ActionsExecuted) > 0 {
		b.WriteString("\n## Actions\n\n| action | params | result |\n|---|---|---|\n")
		for _, a := range pm.Status.ActionsExecuted {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", a.Action, params(a.Params), a.Result)
		}
	}
	list("Lessons learned", pm.Status.LessonsLearned)
	list("Prevention", pm.Status.PreventionActions)
	if pm.Status.RunbookRef != nil {
		fmt.Fprintf(&b, "\nRunbook kept: %s\n", pm.Status.RunbookRef.Name)
	}
	return b.String()
}

func params(p platformv1alpha1.ActionParams) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, " ")
}

func oneLine(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", "\\|")
}
