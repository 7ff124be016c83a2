package incidenttest

import (
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Agentic resolution texts of AgenticResolution's plan.
const (
	AgenticSummary   = "OOMKilled containers caused cascading restarts on api-gateway"
	AgenticRootCause = "A cache leak after the v2 rollout; the AI saw AWS key " + PlantedAWSKey + " in the env"
	AgenticImpact    = "Service degradation for 10 minutes, 30% error rate increase"
)

// setAgenticResolution gives the plan the AI's account of its resolution.
func setAgenticResolution(p *platformv1alpha1.RemediationPlan, t0 time.Time) {
	p.Status.AgenticResolution = &platformv1alpha1.AgenticResolution{
		Summary: AgenticSummary, RootCause: AgenticRootCause, Impact: AgenticImpact,
		LessonsLearned:    []string{"Memory limits should account for peak workload patterns"},
		PreventionActions: []string{"Configure HPA with min 3 replicas for api-gateway"},
		ResolvedAt:        at(t0, 8*time.Minute),
	}
}

func clearAgenticResolution(p *platformv1alpha1.RemediationPlan) { p.Status.AgenticResolution = nil }
