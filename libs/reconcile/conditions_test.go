package reconcile_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/chatcli/aiops/libs/reconcile"
)

func TestOutcomeMark(t *testing.T) {
	t.Parallel()
	obj := &metav1.ObjectMeta{Generation: 4}
	was := metav1.Condition{Type: "Analyzed", Status: metav1.ConditionTrue, Reason: "InsightReady", Message: "AIInsight is ready", ObservedGeneration: 3}
	cases := map[string]struct {
		reason      string
		err         error
		want        metav1.Condition
		wantChanged bool
	}{
		"Success": {
			reason: "Success is True with the success reason, stamped with the generation.",
			want:   metav1.Condition{Type: "Analyzed", Status: metav1.ConditionTrue, Reason: "InsightReady", Message: "AIInsight is ready", ObservedGeneration: 4}, wantChanged: true,
		},
		"Failure": {
			reason: "A failure is False with the failure reason and the error's message.",
			err:    fmt.Errorf("get AIInsight %q: %w", "x", io.ErrUnexpectedEOF),
			want:   metav1.Condition{Type: "Analyzed", Status: metav1.ConditionFalse, Reason: "AnalysisFailed", Message: `get AIInsight "x": unexpected EOF`, ObservedGeneration: 4}, wantChanged: true,
		},
		"Terminal": {
			reason: "A terminal error reads as its cause.",
			err:    reconcile.TerminalError(errors.New("spec.resource is invalid")),
			want:   metav1.Condition{Type: "Analyzed", Status: metav1.ConditionFalse, Reason: "AnalysisFailed", Message: "spec.resource is invalid", ObservedGeneration: 4}, wantChanged: true,
		},
		"Conflict": {
			reason: "A conflict, even wrapped, leaves the condition as it was.",
			err:    fmt.Errorf("update Issue: %w", issueConflict()),
			want:   was,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conds := []metav1.Condition{was}
			changed := analyzed.Mark(obj, &conds, tc.err)
			if diff := cmp.Diff([]metav1.Condition{tc.want}, conds, ignoreTime); diff != "" || changed != tc.wantChanged {
				t.Errorf("%s\nMark() changed = %t, want %t; conditions (-want +got):\n%s", tc.reason, changed, tc.wantChanged, diff)
			}
		})
	}
}

func TestSetConditionKeepsTransitionTime(t *testing.T) {
	t.Parallel()
	obj := &metav1.ObjectMeta{Generation: 1}
	var conds []metav1.Condition
	reconcile.SetCondition(obj, &conds, "Ready", metav1.ConditionFalse, "Pending", "")
	since := metav1.Unix(1, 0)
	conds[0].LastTransitionTime = since
	if !reconcile.SetCondition(obj, &conds, "Ready", metav1.ConditionFalse, "Failed", "b") {
		t.Error("SetCondition() with a new reason reported no change")
	}
	if !conds[0].LastTransitionTime.Equal(&since) {
		t.Errorf("a new reason moved lastTransitionTime to %v; want it kept, the status did not change", conds[0].LastTransitionTime)
	}
	if reconcile.SetCondition(obj, &conds, "Ready", metav1.ConditionFalse, "Failed", "b") {
		t.Error("SetCondition() with the same condition reported a change")
	}
}

func TestSetConditionCutsLongMessages(t *testing.T) {
	t.Parallel()
	var conds []metav1.Condition
	message := strings.Repeat("é", 20000) // 40000 bytes
	reconcile.SetCondition(&metav1.ObjectMeta{}, &conds, "Ready", metav1.ConditionFalse, "Failed", message)
	got := conds[0].Message
	if len(got) > 32768 || !utf8.ValidString(got) || !strings.HasPrefix(message, got) {
		t.Errorf("message of %d bytes (valid UTF-8: %t); want a prefix of at most 32768 bytes", len(got), utf8.ValidString(got))
	}
}

func TestTerminalError(t *testing.T) {
	t.Parallel()
	cause := errors.New("spec.resource is invalid")
	cases := map[string]struct {
		reason string
		err    error
		want   bool
	}{
		"Ours":        {reason: "TerminalError is terminal.", err: reconcile.TerminalError(cause), want: true},
		"Wrapped":     {reason: "Wrapping keeps it terminal.", err: fmt.Errorf("validate: %w", reconcile.TerminalError(cause)), want: true},
		"Theirs":      {reason: "controller-runtime's is terminal too.", err: crreconcile.TerminalError(cause), want: true},
		"Plain":       {reason: "A plain error is retried.", err: cause},
		"Nil":         {reason: "No error is not terminal.", err: reconcile.TerminalError(nil)},
		"JoinedPlain": {reason: "A join of plain errors is not terminal.", err: errors.Join(cause, io.EOF)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := reconcile.IsTerminal(tc.err); got != tc.want {
				t.Errorf("%s\nIsTerminal(%v) = %t; want %t", tc.reason, tc.err, got, tc.want)
			}
		})
	}
	err := reconcile.TerminalError(cause)
	if err.Error() != cause.Error() || !errors.Is(err, cause) || !errors.Is(err, crreconcile.TerminalError(nil)) {
		t.Errorf("TerminalError(%v) = %q; want the cause's message, with both the cause and controller-runtime's terminal error in its chain", cause, err)
	}
}
