package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AIInsightSpec asks for a root-cause analysis of one Issue. The correlator
// creates one AIInsight per remediation attempt.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.attempt) || (has(self.attempt) && self.attempt == oldSelf.attempt)",message="attempt is immutable once set"
type AIInsightSpec struct {
	// issueRef names the analysed Issue.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="issueRef is immutable"
	IssueRef LocalObjectReference `json:"issueRef"`

	// provider to ask; BUILTIN is the offline analyzer.
	// +optional
	Provider Provider `json:"provider,omitempty"`

	// model of the provider.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Model string `json:"model,omitempty"`

	// attempt is the Issue's remediation attempt this analysis serves,
	// counting from 1. It never changes once set.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +optional
	Attempt int32 `json:"attempt,omitempty"`

	// failureContext is the evidence of the previous attempts' failures
	// (what was tried and what the executor saw), so that the analysis
	// suggests a different strategy. It is scrubbed before it reaches a
	// provider.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	FailureContext string `json:"failureContext,omitempty"`
}

// RejectedAction is an action the analysis suggested and the action policy
// refused, kept so that people can see what the AI wanted and why it was
// not allowed. The action is free text, since a refused action may not be
// in the catalogue; the analyzer truncates what exceeds the bounds.
type RejectedAction struct {
	// action as the analysis named it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Action string `json:"action"`

	// params as the analysis gave them.
	// +optional
	Params ActionParams `json:"params,omitempty"`

	// reason the policy refused the action.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`
}

// LLMUsage is the tokens and the estimated cost of an analysis.
type LLMUsage struct {
	// inputTokens the providers reported.
	// +kubebuilder:validation:Minimum=0
	// +required
	InputTokens int64 `json:"inputTokens"`

	// outputTokens the providers reported.
	// +kubebuilder:validation:Minimum=0
	// +required
	OutputTokens int64 `json:"outputTokens"`

	// estimatedCostUSD is the cost in US dollars by the analyzer's price
	// table (--llm-prices, per million tokens), as a decimal with six
	// places. Absent when a call that spent tokens used a model the table
	// does not price.
	// +kubebuilder:validation:Pattern=`^[0-9]{1,12}\.[0-9]{6}$`
	// +kubebuilder:validation:MaxLength=19
	// +optional
	EstimatedCostUSD string `json:"estimatedCostUSD,omitempty"`
}

// AIInsightStatus is written by the analyzer.
type AIInsightStatus struct {
	// conditions of the AIInsight; Ready means the analysis is usable.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// provider that produced the analysis. It differs from spec.provider
	// when the analyzer fell back to BUILTIN (no key, a spent budget or a
	// failing provider).
	// +optional
	Provider Provider `json:"provider,omitempty"`

	// model that produced the analysis.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Model string `json:"model,omitempty"`

	// server names the Instance (of this namespace) whose ChatCLI server
	// produced the analysis through chatcli.v1 AnalyzeIssue, because its
	// spec.aiops.analysisMode is server; provider and model are then what
	// the server reported. Empty when the analyzer asked the provider
	// itself.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Server string `json:"server,omitempty"`

	// usage is what the provider calls behind the analysis spent, the
	// repair request and failed calls of the fallback chain included; a
	// failed analysis records it too when its calls spent tokens. Absent
	// when a ChatCLI server answered (chatcli.v1 reports no tokens).
	// +optional
	Usage *LLMUsage `json:"usage,omitempty"`

	// analysis is the root-cause analysis.
	// +kubebuilder:validation:MaxLength=32768
	// +optional
	Analysis string `json:"analysis,omitempty"`

	// confidence of the analysis, from 0 to 1.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1
	// +optional
	Confidence *float64 `json:"confidence,omitempty"`

	// recommendations for people.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=4096
	// +optional
	Recommendations []string `json:"recommendations,omitempty"`

	// suggestedActions are catalogue actions, validated by the action policy
	// before they were stored.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +optional
	SuggestedActions []SuggestedAction `json:"suggestedActions,omitempty"`

	// rejectedActions are the suggested actions the action policy refused.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +optional
	RejectedActions []RejectedAction `json:"rejectedActions,omitempty"`

	// generatedAt is when the analysis was produced.
	// +optional
	GeneratedAt *metav1.Time `json:"generatedAt,omitempty"`
}

// AIInsight is the root-cause analysis of an Issue, with suggested actions.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ai,categories=chatcli
// +kubebuilder:printcolumn:name="Issue",type=string,JSONPath=`.spec.issueRef.name`
// +kubebuilder:printcolumn:name="Attempt",type=integer,JSONPath=`.spec.attempt`
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Confidence",type=number,JSONPath=`.status.confidence`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AIInsight struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the request for analysis.
	// +required
	Spec AIInsightSpec `json:"spec"`

	// status is the analysis.
	// +optional
	Status AIInsightStatus `json:"status,omitempty"`
}

// AIInsightList is a list of AIInsights.
//
// +kubebuilder:object:root=true
type AIInsightList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AIInsight `json:"items"`
}

func init() {
	register(&AIInsight{}, &AIInsightList{})
}
