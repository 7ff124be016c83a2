package report

import (
	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// agenticNarrative is the AI's own account of an agentic plan that ended
// resolved (status.agenticResolution, scrubbed by the remediator and
// scrubbed here again), and false when the plan has none.
func agenticNarrative(p *platformv1alpha1.RemediationPlan) (Narrative, bool) {
	ai := p.Status.AgenticResolution
	if ai == nil {
		return Narrative{}, false
	}
	return Narrative{
		Summary: ai.Summary, RootCause: ai.RootCause, Impact: ai.Impact,
		LessonsLearned: nonEmpty(ai.LessonsLearned), PreventionActions: nonEmpty(ai.PreventionActions),
	}, true
}
