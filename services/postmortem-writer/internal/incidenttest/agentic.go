package incidenttest

import (
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// setAgenticResolution gives the plan the AI's account of its resolution
// (status.agenticResolution, once main has it).
func setAgenticResolution(_ *platformv1alpha1.RemediationPlan, _ time.Time) {}

func clearAgenticResolution(_ *platformv1alpha1.RemediationPlan) {}
