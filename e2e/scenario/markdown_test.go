package scenario

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func TestMarkdown(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	later := metav1.NewTime(at.Add(5 * time.Second))
	full := &platformv1alpha1.PostMortem{
		ObjectMeta: metav1.ObjectMeta{Name: "pm-checkout"},
		Spec: platformv1alpha1.PostMortemSpec{
			IssueRef:   platformv1alpha1.LocalObjectReference{Name: "checkout-deployment-0"},
			Resource:   platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "shop", Name: "checkout"},
			Severity:   platformv1alpha1.SeverityHigh,
			IncidentID: "INC-20261202-001",
		},
		Status: platformv1alpha1.PostMortemStatus{
			Summary:   "checkout ran out of memory",
			RootCause: "limit 64Mi | too small",
			Timeline: []platformv1alpha1.TimelineEntry{
				{Timestamp: later, Type: "resolved", FromState: platformv1alpha1.IssueRemediating, ToState: platformv1alpha1.IssueResolved},
				{Timestamp: at, Type: "detected", Detail: "OOMKilled\nthree times"},
			},
			ActionsExecuted: []platformv1alpha1.ExecutedAction{{
				Action: platformv1alpha1.ActionAdjustResources, Params: platformv1alpha1.ActionParams{"memory_limit": "128Mi", "container": "app"},
				Result: platformv1alpha1.ActionSucceeded,
			}},
			LessonsLearned: []string{"size limits from usage"},
			Duration:       &metav1.Duration{Duration: 42 * time.Second},
		},
	}
	tests := map[string]struct {
		pm   *platformv1alpha1.PostMortem
		want []string
		not  []string
	}{
		"full report": {
			pm: full,
			want: []string{
				"# Post-mortem INC-20261202-001", "Deployment shop/checkout", "**Duration:** 42s",
				"## Root cause\n\nlimit 64Mi | too small",
				// Sorted by time, states named, one line per entry, pipes escaped in cells.
				"| 10:00:00 | detected | OOMKilled three times |\n| 10:00:05 | resolved (Remediating → Resolved) |",
				"| AdjustResources | container=app memory_limit=128Mi | success |",
				"## Lessons learned\n\n- size limits from usage",
			},
		},
		"empty sections are left out": {
			pm:   &platformv1alpha1.PostMortem{ObjectMeta: metav1.ObjectMeta{Name: "pm-bare"}},
			want: []string{"# Post-mortem pm-bare"},
			not:  []string{"## Summary", "## Timeline", "## Actions", "**Duration:**"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Markdown(tc.pm)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Markdown lacks %q:\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("Markdown has %q:\n%s", n, got)
				}
			}
		})
	}
}
