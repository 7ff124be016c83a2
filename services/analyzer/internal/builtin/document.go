package builtin

// Document is the untrusted data of a request, as the analyzer renders it
// (scrubbed) for every provider. Models read it as JSON; BUILTIN parses it
// back to run its rules.
type Document struct {
	Issue IssueInfo `json:"issue"`
	// KubernetesContext is the rendered k8sctx.Context, or free text from a
	// client that collected its own.
	KubernetesContext string `json:"kubernetesContext,omitempty"`
	Attempt           int32  `json:"attempt,omitempty"`
	// PreviousFailure is the evidence of earlier attempts' failures.
	PreviousFailure string `json:"previousFailure,omitempty"`

	// The agentic step's fields.
	History         []Step   `json:"history,omitempty"`
	MaxSteps        int32    `json:"maxSteps,omitempty"`
	CurrentStep     int32    `json:"currentStep,omitempty"`
	InsightAnalysis string   `json:"insightAnalysis,omitempty"`
	InsightActions  []string `json:"insightActions,omitempty"`

	// The summary's fields.
	IncidentID      string   `json:"incidentId,omitempty"`
	Timeline        []string `json:"timeline,omitempty"`
	ActionsExecuted []string `json:"actionsExecuted,omitempty"`
	Analysis        string   `json:"analysis,omitempty"`
}

// IssueInfo describes the incident.
type IssueInfo struct {
	Name         string `json:"name"`
	Namespace    string `json:"namespace"`
	ResourceKind string `json:"resourceKind"`
	ResourceName string `json:"resourceName"`
	SignalType   string `json:"signalType"`
	Severity     string `json:"severity,omitempty"`
	Description  string `json:"description,omitempty"`
	RiskScore    int32  `json:"riskScore,omitempty"`
}

// Step is one step of an agentic history.
type Step struct {
	Number      int32             `json:"number"`
	Message     string            `json:"message,omitempty"`
	Action      string            `json:"action,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	Observation string            `json:"observation,omitempty"`
}
