package remediationplan

import (
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/pipeline"
)

// The pipeline stages the remediator ends (libs/pipeline).
var (
	// planToFirstAction runs from the plan's creation to its first action
	// applied: policy, approval when none is needed, lock and budget.
	planToFirstAction = pipeline.NewStage("remediator", "plan_to_first_action", "From a RemediationPlan's creation to its first action applied.")
	// actionToHealthy runs from the last action applied to the first
	// healthy verification of the target.
	actionToHealthy = pipeline.NewStage("remediator", "action_to_healthy", "From a plan's last applied action to the first healthy verification of its target.")
)

// lastActionAt is when the plan's last action result was recorded; zero
// when it has none (nothing to measure).
func lastActionAt(p *platformv1alpha1.RemediationPlan) time.Time {
	var last time.Time
	for _, r := range p.Status.ActionResults {
		if r.Timestamp != nil && r.Timestamp.After(last) {
			last = r.Timestamp.Time
		}
	}
	return last
}
