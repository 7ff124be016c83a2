package issue

import (
	"testing"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/incidenttest"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/report"
)

func TestPolicyWants(t *testing.T) {
	agentic := func(severity platformv1alpha1.Severity) report.Records {
		h := incidenttest.AgenticResolution("ns", "gw", incidenttest.T0)
		h.Issue.Spec.Severity = severity
		return h.Records().Sorted()
	}
	resolvedByRunbook := func(severity platformv1alpha1.Severity) report.Records {
		r := agentic(severity)
		for i := range r.Plans {
			r.Plans[i].Spec.AgenticMode = false
			r.Plans[i].Spec.AgenticHistory = nil
		}
		return r
	}
	escalated := func(severity platformv1alpha1.Severity) report.Records {
		h := incidenttest.Escalated("ns", "gw", incidenttest.T0)
		h.Issue.Spec.Severity = severity
		return h.Records().Sorted()
	}
	open := func() report.Records {
		r := agentic(platformv1alpha1.SeverityCritical)
		r.Issue.Status.State = platformv1alpha1.IssueRemediating
		return r
	}
	cases := map[string]struct {
		reason  string
		policy  Policy
		records report.Records
		want    bool
	}{
		"AgenticLow":          {"An agentic resolution always gets one, as in the seed.", Policy{}, agentic(platformv1alpha1.SeverityLow), true},
		"RunbookHigh":         {"The default threshold is high.", Policy{}, resolvedByRunbook(platformv1alpha1.SeverityHigh), true},
		"RunbookMedium":       {"Below the default threshold, a non-agentic fix gets none.", Policy{}, resolvedByRunbook(platformv1alpha1.SeverityMedium), false},
		"EscalatedCritical":   {"Escalations at or above the threshold get one.", Policy{}, escalated(platformv1alpha1.SeverityCritical), true},
		"EscalatedLow":        {"Escalations below it do not.", Policy{}, escalated(platformv1alpha1.SeverityLow), false},
		"EscalatedLowAtLow":   {"The threshold is configurable.", Policy{MinSeverity: platformv1alpha1.SeverityLow}, escalated(platformv1alpha1.SeverityLow), true},
		"AllEnded":            {"The flag writes one for every ended Issue.", Policy{MinSeverity: platformv1alpha1.SeverityCritical, AllEnded: true}, resolvedByRunbook(platformv1alpha1.SeverityLow), true},
		"OpenIssue":           {"An Issue that has not ended never gets one.", Policy{AllEnded: true}, open(), false},
		"AgenticButEscalated": {"An escalated Issue's agentic plan is no agentic resolution.", Policy{MinSeverity: platformv1alpha1.SeverityCritical}, escalated(platformv1alpha1.SeverityHigh), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got, why := tc.policy.Wants(tc.records); got != tc.want {
				t.Errorf("%s\nWants() = %t (%s); want %t", tc.reason, got, why, tc.want)
			}
		})
	}
}

func TestAtLeast(t *testing.T) {
	cases := map[string]struct {
		s, min platformv1alpha1.Severity
		want   bool
	}{
		"Equal":   {platformv1alpha1.SeverityHigh, platformv1alpha1.SeverityHigh, true},
		"Above":   {platformv1alpha1.SeverityCritical, platformv1alpha1.SeverityHigh, true},
		"Below":   {platformv1alpha1.SeverityMedium, platformv1alpha1.SeverityHigh, false},
		"Unknown": {"severe", platformv1alpha1.SeverityLow, false},
	}
	for name, tc := range cases {
		if got := AtLeast(tc.s, tc.min); got != tc.want {
			t.Errorf("%s: AtLeast(%s, %s) = %t; want %t", name, tc.s, tc.min, got, tc.want)
		}
	}
}
