package detect

import (
	"testing"
	"time"

	"github.com/chatcli/aiops/libs/signals"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// now is the fixed instant every test evaluates at.
var now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// ago is a metav1.Time d before now.
func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

// agoPtr is ago for pointer fields.
func agoPtr(d time.Duration) *metav1.Time {
	t := ago(d)
	return &t
}

// ptrTo returns a pointer to a copy of v, for optional API fields.
func ptrTo[T any](v T) *T { return &v }

// meta is the object metadata the tests share.
func meta(name string, created time.Duration) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, Namespace: "shop", UID: types.UID("uid-" + name),
		Generation: 1, CreationTimestamp: ago(created),
	}
}

// finding builds an expected finding with the severity of the table.
func finding(t platformv1alpha1.SignalType, container, value, threshold, description string) Finding {
	return Finding{Type: t, Severity: severities[t], Description: description, Value: value, Threshold: threshold, Container: container}
}

// diffResult compares results; an empty and a nil findings list are equal.
func diffResult(t *testing.T, reason string, want, got Result) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s\n-want, +got:\n%s", reason, diff)
	}
}

// checkInvariants holds for every result of every detector.
func checkInvariants(t *testing.T, r Result) {
	t.Helper()
	if r.RecheckAfter < 0 {
		t.Errorf("negative RecheckAfter %v", r.RecheckAfter)
	}
	for _, f := range r.Findings {
		if !f.Type.IsValid() {
			t.Errorf("invalid signal type %q", f.Type)
		}
		if !f.Severity.IsValid() {
			t.Errorf("invalid severity %q for %s", f.Severity, f.Type)
		}
		if f.Description == "" || len(f.Description) > maxDescription {
			t.Errorf("description of %s has %d bytes", f.Type, len(f.Description))
		}
		if len(f.Value) > maxValue || len(f.Threshold) > maxValue {
			t.Errorf("value %q or threshold %q of %s is too long", f.Value, f.Threshold, f.Type)
		}
	}
}

func TestSeverityTableCoversEveryDetectedType(t *testing.T) {
	for typ, sev := range severities {
		if !typ.IsValid() || !sev.IsValid() {
			t.Errorf("severities[%q] = %q: not a valid pair", typ, sev)
		}
	}
}

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	bad := Config{RestartThreshold: 64, PodCapacityRatio: 2, DeployGrace: -time.Second}
	if err := bad.Validate(); err == nil {
		t.Fatal("Validate accepted a threshold above the history's cap, a ratio above 1 and a negative grace")
	}
}

func TestHelpers(t *testing.T) {
	cases := map[string]struct {
		reason string
		got    string
		want   string
	}{
		"HumanHours":              {reason: "whole hours drop zero units", got: human(2 * time.Hour), want: "2h"},
		"HumanMixed":              {reason: "hours and minutes drop zero seconds", got: human(time.Hour + time.Minute), want: "1h1m"},
		"HumanSeconds":            {reason: "sub-minute durations keep seconds", got: human(40 * time.Second), want: "40s"},
		"HumanHoursToMinute":      {reason: "above an hour, seconds are noise", got: human(time.Hour + 3*time.Second), want: "1h"},
		"HumanMinutesKeepSeconds": {reason: "below an hour, seconds count", got: human(2*time.Minute + 5*time.Second), want: "2m5s"},
		"HumanNegative":           {reason: "a negative duration reads as zero", got: human(-time.Second), want: "0s"},
		"TruncateASCII":           {reason: "cut at the byte limit", got: signals.Truncate("abcdef", 3), want: "abc"},
		"TruncateUTF8":            {reason: "never split a rune", got: signals.Truncate("aé", 2), want: "a"},
		"QuoteEmpty":              {reason: "nothing to quote", got: quote("", " "), want: ""},
		"QuoteWhitespce":          {reason: "whitespace is collapsed", got: quote("R", "a\n  b"), want: " (R: a b)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("%s: got %q, want %q", tc.reason, tc.got, tc.want)
			}
		})
	}
}
