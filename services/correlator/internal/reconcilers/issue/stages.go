package issue

import "github.com/chatcli/aiops/libs/pipeline"

// The pipeline stages the correlator ends (libs/pipeline).
var (
	// insightToPlan runs from the insight's generatedAt to the plan
	// ProposePlan returned.
	insightToPlan = pipeline.NewStage("correlator", "insight_to_plan", "From an AIInsight's generatedAt to the RemediationPlan the remediator proposed for it.")
	// healthyToResolved runs from the first healthy verification of the
	// plan (its stability window included) to Resolved.
	healthyToResolved = pipeline.NewStage("correlator", "healthy_to_resolved", "From the first healthy verification of the Completed plan to the Issue Resolved; the stability window is part of it.")
)
