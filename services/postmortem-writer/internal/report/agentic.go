package report

import (
	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// agenticNarrative is the AI's own account of an agentic plan that ended
// resolved (status.agenticResolution), and false when the plan has none.
func agenticNarrative(p *platformv1alpha1.RemediationPlan) (Narrative, bool) {
	// status.agenticResolution arrives with the next merge of main.
	_ = p
	return Narrative{}, false
}
