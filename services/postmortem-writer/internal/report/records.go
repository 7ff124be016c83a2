// Package report rebuilds the post-mortem of an incident from its records
// alone: the Issue, its Anomalies, its AIInsights and its RemediationPlans.
// Nothing here reads the cluster or calls a peer; the reconciler gathers
// the records and stores what Build returns, so the same records always
// give the same report.
package report

import (
	"cmp"
	"slices"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Records are everything an incident left behind.
type Records struct {
	Issue     *platformv1alpha1.Issue
	Anomalies []platformv1alpha1.Anomaly
	Insights  []platformv1alpha1.AIInsight
	Plans     []platformv1alpha1.RemediationPlan
}

// Sorted returns the records in a fixed order: Anomalies by detection then
// name, insights and plans by attempt then name, so that every pass builds
// the same report from the same objects, whatever order a list gave.
func (r Records) Sorted() Records {
	r.Anomalies = slices.Clone(r.Anomalies)
	slices.SortFunc(r.Anomalies, func(a, b platformv1alpha1.Anomaly) int {
		return cmp.Or(a.Spec.DetectedAt.Compare(b.Spec.DetectedAt.Time), cmp.Compare(a.Name, b.Name))
	})
	r.Insights = slices.Clone(r.Insights)
	slices.SortFunc(r.Insights, func(a, b platformv1alpha1.AIInsight) int {
		return cmp.Or(cmp.Compare(insightAttempt(&a), insightAttempt(&b)), cmp.Compare(a.Name, b.Name))
	})
	r.Plans = slices.Clone(r.Plans)
	slices.SortFunc(r.Plans, func(a, b platformv1alpha1.RemediationPlan) int {
		return cmp.Or(cmp.Compare(a.Spec.Attempt, b.Spec.Attempt), cmp.Compare(a.Name, b.Name))
	})
	return r
}

// insightAttempt is the attempt an insight serves; one created before
// attempts were numbered serves the first.
func insightAttempt(in *platformv1alpha1.AIInsight) int32 {
	return max(in.Spec.Attempt, 1)
}

// Ended reports whether the Issue reached Resolved or Escalated.
func (r Records) Ended() bool { return r.Issue != nil && r.Issue.Status.State.IsTerminal() }

// Resolved reports whether the Issue was resolved.
func (r Records) Resolved() bool {
	return r.Issue != nil && r.Issue.Status.State == platformv1alpha1.IssueResolved
}

// SucceededAttempt is the attempt whose plan resolved the Issue, or 0. The
// Issue's attempts say so; without one marked Succeeded, a Completed plan
// of a Resolved Issue does.
func (r Records) SucceededAttempt() int32 {
	if !r.Resolved() {
		return 0
	}
	for _, a := range r.Issue.Status.Attempts {
		if a.Outcome == platformv1alpha1.AttemptSucceeded {
			return a.Attempt
		}
	}
	var last int32
	for i := range r.Plans {
		if r.Plans[i].Status.State == platformv1alpha1.PlanCompleted {
			last = max(last, r.Plans[i].Spec.Attempt)
		}
	}
	return last
}

// SucceededPlan is the plan that resolved the Issue, or nil.
func (r Records) SucceededPlan() *platformv1alpha1.RemediationPlan {
	attempt := r.SucceededAttempt()
	if attempt == 0 {
		return nil
	}
	for i := range r.Plans {
		if r.Plans[i].Spec.Attempt == attempt && r.Plans[i].Status.State == platformv1alpha1.PlanCompleted {
			return &r.Plans[i]
		}
	}
	return nil
}

// AgenticallyResolved reports whether a completed agentic plan resolved
// the Issue: the case the seed always writes a post-mortem for, and the
// only one whose steps are promoted to a Runbook.
func (r Records) AgenticallyResolved() bool {
	p := r.SucceededPlan()
	return p != nil && p.Spec.AgenticMode
}

// Insight is the AIInsight of the attempt that worked, else the last one,
// else nil.
func (r Records) Insight() *platformv1alpha1.AIInsight {
	if len(r.Insights) == 0 {
		return nil
	}
	if attempt := r.SucceededAttempt(); attempt > 0 {
		for i := range r.Insights {
			if insightAttempt(&r.Insights[i]) == attempt {
				return &r.Insights[i]
			}
		}
	}
	return &r.Insights[len(r.Insights)-1]
}

// Window is the incident from its first detection (the earliest Anomaly,
// or the Issue's detection) to its end (resolution or escalation; for an
// Issue not ended, its last transition). ok is false when the records hold
// no start.
func (r Records) Window() (start, end time.Time, ok bool) {
	for i := range r.Anomalies {
		if t := r.Anomalies[i].Spec.DetectedAt.Time; !t.IsZero() && (start.IsZero() || t.Before(start)) {
			start = t
		}
	}
	st := &r.Issue.Status
	if st.DetectedAt != nil && (start.IsZero() || st.DetectedAt.Time.Before(start)) {
		start = st.DetectedAt.Time
	}
	switch {
	case st.State == platformv1alpha1.IssueResolved && st.ResolvedAt != nil:
		end = st.ResolvedAt.Time
	case st.State == platformv1alpha1.IssueEscalated && st.EscalatedAt != nil:
		end = st.EscalatedAt.Time
	case st.StateTransitionTime != nil:
		end = st.StateTransitionTime.Time
	}
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return start, end, false
	}
	return start, end, true
}
