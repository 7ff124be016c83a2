package report_test

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/report"
)

// FuzzRenderTable feeds untrusted text (an AI's message, an executor's
// observation, a reviewer's note) into every table cell and checks the
// tables keep their shape: one row per entry, five columns each.
func FuzzRenderTable(f *testing.F) {
	for _, seed := range []string{"plain", "a | b", `a \| b`, "line\nbreak | x", "| Time | Event |", "\r\n\t|||"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		at := metav1.NewTime(time.Date(2026, 2, 16, 10, 30, 0, 0, time.UTC))
		pm := &platformv1alpha1.PostMortem{Status: platformv1alpha1.PostMortemStatus{
			Timeline: []platformv1alpha1.TimelineEntry{
				{Timestamp: at, Type: text, Detail: text, Object: text},
				{Timestamp: at, Type: "resolved", Detail: text},
			},
			Reviews: []platformv1alpha1.PostMortemReview{{State: platformv1alpha1.PostMortemInReview, By: text, At: at, Note: text}},
		}}
		var rows int
		for _, line := range strings.Split(report.Render(pm), "\n") {
			if !strings.HasPrefix(line, "| 2026-02-16T10:30:00Z |") {
				continue
			}
			rows++
			if n := strings.Count(line, "|"); n != 6 && n != 5 {
				t.Fatalf("row %q has %d pipes; want 6 (timeline) or 5 (review)", line, n)
			}
		}
		if rows != 3 {
			t.Fatalf("rendered %d rows; want 3", rows)
		}
	})
}
