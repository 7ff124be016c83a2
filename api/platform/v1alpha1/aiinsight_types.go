package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AIInsightSpec asks for a root-cause analysis of one Issue.
type AIInsightSpec struct {
	// issueRef names the analysed Issue.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="issueRef is immutable"
	IssueRef LocalObjectReference `json:"issueRef"`

	// provider to ask; BUILTIN is the offline analyzer.
	// +optional
	Provider Provider `json:"provider,omitempty"`

	// model of the provider.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Model string `json:"model,omitempty"`
}

// AIInsightStatus is written by the analyzer.
type AIInsightStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

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
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Recommendations []string `json:"recommendations,omitempty"`

	// suggestedActions are catalogue actions, validated by the action policy
	// before they were stored.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	SuggestedActions []SuggestedAction `json:"suggestedActions,omitempty"`

	// generatedAt is when the analysis was produced.
	// +optional
	GeneratedAt *metav1.Time `json:"generatedAt,omitempty"`

	// conditions of the AIInsight; Ready means the analysis is usable.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AIInsight is the root-cause analysis of an Issue, with suggested actions.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ai,categories=chatcli
// +kubebuilder:printcolumn:name="Issue",type=string,JSONPath=`.spec.issueRef.name`
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Confidence",type=number,JSONPath=`.status.confidence`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AIInsight struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AIInsightSpec   `json:"spec"`
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
	SchemeBuilder.Register(&AIInsight{}, &AIInsightList{})
}
