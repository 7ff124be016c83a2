package report_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/incidenttest"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// entry is what a test checks of a timeline entry: when (from T0), what
// and about which object.
type entry struct {
	at     time.Duration
	typ    string
	object string
}

func entries(tl []platformv1alpha1.TimelineEntry) []entry {
	out := make([]entry, 0, len(tl))
	for _, e := range tl {
		out = append(out, entry{e.Timestamp.Sub(incidenttest.T0), e.Type, e.Object})
	}
	return out
}

func TestBuildAgenticResolution(t *testing.T) {
	h := incidenttest.AgenticResolution("prod", "gw", incidenttest.T0)
	rep := report.Build(h.Records())

	want := []entry{
		{0, report.EventAnomalyDetected, "gw-oom"},
		{5 * time.Second, "detected", ""},
		{6 * time.Second, "analysis_requested", "gw-insight"},
		{20 * time.Second, report.EventAnomalyDetected, "gw-restart"},
		{50 * time.Second, report.EventInsightGenerated, "gw-insight"},
		{time.Minute, "remediation_started", "gw-plan-1"},
		{90 * time.Second, report.EventActionRolledBack, "gw-plan-1"},
		{95 * time.Second, report.EventVerificationFailed, "gw-plan-1"},
		{2*time.Minute + 50*time.Second, report.EventRollback, "gw-plan-1"},
		{2*time.Minute + 55*time.Second, "plan_rolledback", "gw-plan-1"},
		{3 * time.Minute, "retrying", "gw-insight-2"},
		{3*time.Minute + 30*time.Second, report.EventInsightGenerated, "gw-insight-2"},
		{4 * time.Minute, "remediation_started", "gw-plan-2"},
		{5 * time.Minute, report.EventAgenticStep, "gw-plan-2"},
		{5*time.Minute + 10*time.Second, report.EventActionExecuted, "gw-plan-2"},
		{6 * time.Minute, report.EventAgenticStep, "gw-plan-2"},
		{6*time.Minute + 5*time.Second, report.EventActionExecuted, "gw-plan-2"},
		{8 * time.Minute, report.EventAgenticStep, "gw-plan-2"},
		{8*time.Minute + 10*time.Second, report.EventVerificationPassed, "gw-plan-2"},
		{9*time.Minute + 50*time.Second, "plan_completed", "gw-plan-2"},
		{10 * time.Minute, "resolved", "gw-plan-2"},
	}
	if diff := cmp.Diff(want, entries(rep.Timeline), cmp.AllowUnexported(entry{})); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
	if rep.Duration == nil || rep.Duration.Duration != 10*time.Minute {
		t.Errorf("duration = %v; want 10m0s, from the first Anomaly to the resolution", rep.Duration)
	}
	wantActions := []platformv1alpha1.ExecutedAction{
		{Action: platformv1alpha1.ActionAdjustResources, Params: platformv1alpha1.ActionParams{"memory_limit": "1Gi"}, Result: platformv1alpha1.ActionRolledBack, Timestamp: ptr.To(metav1.NewTime(incidenttest.T0.Add(90 * time.Second)))},
		{Action: platformv1alpha1.ActionRestartDeployment, Result: platformv1alpha1.ActionSucceeded, Timestamp: ptr.To(metav1.NewTime(incidenttest.T0.Add(5*time.Minute + 10*time.Second)))},
		{Action: platformv1alpha1.ActionScaleDeployment, Params: platformv1alpha1.ActionParams{"replicas": "5"}, Result: platformv1alpha1.ActionSucceeded, Timestamp: ptr.To(metav1.NewTime(incidenttest.T0.Add(6*time.Minute + 5*time.Second)))},
	}
	if diff := cmp.Diff(wantActions, rep.ActionsExecuted); diff != "" {
		t.Errorf("actionsExecuted (-want +got):\n%s", diff)
	}
	// The prose is the AI's account of the agentic resolution.
	if rep.Summary != incidenttest.AgenticSummary || rep.Impact != incidenttest.AgenticImpact || rep.RootCause != incidenttest.AgenticRootCause {
		t.Errorf("narrative = %q / %q / %q; want the agentic resolution's", rep.Summary, rep.RootCause, rep.Impact)
	}
	if diff := cmp.Diff([]string{"Memory limits should account for peak workload patterns"}, rep.LessonsLearned); diff != "" {
		t.Errorf("lessonsLearned (-want +got):\n%s", diff)
	}
}

func TestBuildFromTheInsightWithoutAnAgenticResolution(t *testing.T) {
	cases := map[string]struct {
		reason        string
		history       func() incidenttest.History
		wantRootCause string
		wantSummary   string
		wantLesson    string
		wantEnd       time.Duration
	}{
		"ResolvedWithoutTheAIsAccount": {
			reason: "Without agenticResolution, the prose comes from the insight of the attempt that worked and from the records.",
			history: func() incidenttest.History {
				h := incidenttest.AgenticResolution("prod", "gw", incidenttest.T0)
				h.Plans[0].Status.AgenticResolution = nil
				return h
			},
			wantRootCause: "A cache leak after the v2 rollout outgrows any memory limit",
			wantSummary:   "INC-20260216-001: oom_kill on Deployment prod/api-gateway (high) was resolved by attempt 2 of 2 (agentic): All pods stable, issue resolved",
			wantLesson:    "Attempt 1 (AI actions) ended RolledBack: AdjustResources memory_limit=1Gi: pods still restarting after 2m",
			wantEnd:       10 * time.Minute,
		},
		"Escalated": {
			reason:        "An escalated incident reads from the last insight and says why people took over.",
			history:       func() incidenttest.History { return incidenttest.Escalated("prod", "gw", incidenttest.T0) },
			wantRootCause: "A cache leak after the v2 rollout outgrows any memory limit",
			wantSummary:   "INC-20260216-001: oom_kill on Deployment prod/api-gateway (high) was escalated to people after 2 attempt(s): AttemptsExhausted",
			wantLesson:    "The platform could not fix this on its own (AttemptsExhausted); people took over",
			wantEnd:       10 * time.Minute,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rep := report.Build(tc.history().Records())
			if rep.RootCause != tc.wantRootCause {
				t.Errorf("%s\nrootCause = %q; want %q", tc.reason, rep.RootCause, tc.wantRootCause)
			}
			if rep.Summary != tc.wantSummary {
				t.Errorf("%s\nsummary = %q; want %q", tc.reason, rep.Summary, tc.wantSummary)
			}
			if !contains(rep.LessonsLearned, tc.wantLesson) {
				t.Errorf("%s\nlessonsLearned = %q; want it to hold %q", tc.reason, rep.LessonsLearned, tc.wantLesson)
			}
			if diff := cmp.Diff([]string{"Cap the cache size of api-gateway", "Alert on memory growth per pod"}, rep.PreventionActions); diff != "" {
				t.Errorf("%s\npreventionActions (-want +got):\n%s", tc.reason, diff)
			}
			if rep.Duration == nil || rep.Duration.Duration != tc.wantEnd {
				t.Errorf("%s\nduration = %v; want %s", tc.reason, rep.Duration, tc.wantEnd)
			}
		})
	}
}

func TestEscalationEntryWhenTheIssueTimelineLacksIt(t *testing.T) {
	h := incidenttest.Escalated("prod", "gw", incidenttest.T0)
	h.Issue.Status.Timeline = h.Issue.Status.Timeline[:len(h.Issue.Status.Timeline)-1]
	tl := report.Build(h.Records()).Timeline
	last := tl[len(tl)-1]
	if last.Type != report.EventEscalated || !last.Timestamp.Equal(h.Issue.Status.EscalatedAt) || !strings.Contains(last.Detail, "AttemptsExhausted") {
		t.Errorf("last entry = %+v; want the escalation from status.escalatedAt and its reason", last)
	}
}

func TestCleanScrubsEveryText(t *testing.T) {
	scrub, err := report.NewScrub(nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := report.Build(incidenttest.AgenticResolution("prod", "gw", incidenttest.T0).Records())
	rep.Clean(scrub)
	var texts []string
	texts = append(texts, rep.Summary, rep.RootCause, rep.Impact)
	texts = append(texts, rep.LessonsLearned...)
	texts = append(texts, rep.PreventionActions...)
	for _, e := range rep.Timeline {
		texts = append(texts, e.Detail)
	}
	for _, a := range rep.ActionsExecuted {
		for _, v := range a.Params {
			texts = append(texts, v)
		}
	}
	all := strings.Join(texts, "\n")
	for _, secret := range []string{incidenttest.PlantedAWSKey, incidenttest.PlantedPassword} {
		if strings.Contains(all, secret) {
			t.Errorf("the cleaned report still holds %q", secret)
		}
	}
	if !strings.Contains(all, "[REDACTED") {
		t.Error("the cleaned report shows no redaction; the planted secrets were not where the test thinks")
	}
}

func TestRefineKeepsWhatTheAnalyzerLeavesOut(t *testing.T) {
	n := report.Narrative{Summary: "s", RootCause: "r", Impact: "i", LessonsLearned: []string{"l"}, PreventionActions: []string{"p"}}
	got := n.Refine("better summary", " ", "", []string{" "}, []string{"p2"})
	want := report.Narrative{Summary: "better summary", RootCause: "r", Impact: "i", LessonsLearned: []string{"l"}, PreventionActions: []string{"p2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Refine (-want +got):\n%s", diff)
	}
}

// TestRender compares the Markdown of a full PostMortem with
// testdata/agentic.md; run with -update to rewrite it.
func TestRender(t *testing.T) {
	h := incidenttest.AgenticResolution("prod", "gw", incidenttest.T0)
	scrub, err := report.NewScrub(nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := report.Build(h.Records())
	rep.Clean(scrub)
	generated := metav1.NewTime(incidenttest.T0.Add(10*time.Minute + 2*time.Second))
	pm := &platformv1alpha1.PostMortem{
		ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "pm-gw", Labels: map[string]string{platformv1alpha1.LabelSignalType: "oom_kill"}},
		Spec: platformv1alpha1.PostMortemSpec{
			IssueRef: platformv1alpha1.LocalObjectReference{Name: "gw"}, Resource: h.Issue.Spec.Resource, Severity: platformv1alpha1.SeverityHigh,
			IncidentID: "INC-20260216-001", InsightRef: &platformv1alpha1.LocalObjectReference{Name: "gw-insight-2"},
			PlanRefs: []platformv1alpha1.LocalObjectReference{{Name: "gw-plan-1"}, {Name: "gw-plan-2"}},
		},
		Status: platformv1alpha1.PostMortemStatus{
			State: platformv1alpha1.PostMortemInReview, Summary: rep.Summary, RootCause: rep.RootCause, Impact: rep.Impact,
			Timeline: rep.Timeline, ActionsExecuted: rep.ActionsExecuted, LessonsLearned: rep.LessonsLearned, PreventionActions: rep.PreventionActions,
			Duration: rep.Duration, GeneratedAt: &generated, RunbookRef: &platformv1alpha1.LocalObjectReference{Name: "gw-plan-2-runbook"},
			Reviews: []platformv1alpha1.PostMortemReview{{State: platformv1alpha1.PostMortemInReview, By: "alice@example.com", At: metav1.NewTime(incidenttest.T0.Add(time.Hour)), Note: "first look | needs HPA"}},
			Recurrence: &platformv1alpha1.PostMortemRecurrence{
				Count: 1, Window: &metav1.Duration{Duration: report.RecurrenceWindow},
				PostMortems: []platformv1alpha1.RecurrenceReference{{Namespace: "prod", Name: "pm-gw-old", IncidentID: "INC-20260201-004", DetectedAt: ptr.To(metav1.NewTime(incidenttest.T0.Add(-15 * 24 * time.Hour)))}},
			},
		},
	}
	got := report.Render(pm)
	golden := filepath.Join("testdata", "agentic.md")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read the golden file (run with -update to write it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("Render (-want +got):\n%s", diff)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
