package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PostMortemSpec names the incident a PostMortem reports on.
type PostMortemSpec struct {
	// issueRef names the Issue.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="issueRef is immutable"
	IssueRef LocalObjectReference `json:"issueRef"`

	// resource the incident was about.
	Resource ResourceReference `json:"resource"`

	// severity of the incident.
	Severity Severity `json:"severity"`
}

// ExecutedAction is one action the remediation ran.
type ExecutedAction struct {
	// action type.
	Action ActionType `json:"action"`

	// params the action ran with.
	// +optional
	Params ActionParams `json:"params,omitempty"`

	// result is success, failed, skipped or rolled_back.
	// +kubebuilder:validation:Enum=success;failed;skipped;rolled_back
	Result string `json:"result"`

	// timestamp of the action.
	// +optional
	Timestamp *metav1.Time `json:"timestamp,omitempty"`
}

// PostMortemStatus is written by the postmortem-writer.
type PostMortemStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// state of the review.
	// +optional
	State PostMortemState `json:"state,omitempty"`

	// summary of the incident.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	Summary string `json:"summary,omitempty"`

	// rootCause of the incident.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	RootCause string `json:"rootCause,omitempty"`

	// impact of the incident.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	Impact string `json:"impact,omitempty"`

	// timeline of the incident.
	// +kubebuilder:validation:MaxItems=200
	// +optional
	Timeline []TimelineEntry `json:"timeline,omitempty"`

	// actionsExecuted during remediation.
	// +kubebuilder:validation:MaxItems=64
	// +optional
	ActionsExecuted []ExecutedAction `json:"actionsExecuted,omitempty"`

	// lessonsLearned from the incident.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	LessonsLearned []string `json:"lessonsLearned,omitempty"`

	// preventionActions to keep it from happening again.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	PreventionActions []string `json:"preventionActions,omitempty"`

	// duration from detection to resolution, as a Go duration.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Duration string `json:"duration,omitempty"`

	// generatedAt is when the report was written.
	// +optional
	GeneratedAt *metav1.Time `json:"generatedAt,omitempty"`

	// conditions of the PostMortem.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// PostMortem is the report of a resolved incident.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pm,categories=chatcli
// +kubebuilder:printcolumn:name="Issue",type=string,JSONPath=`.spec.issueRef.name`
// +kubebuilder:printcolumn:name="Severity",type=string,JSONPath=`.spec.severity`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.duration`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PostMortem struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PostMortemSpec   `json:"spec"`
	Status PostMortemStatus `json:"status,omitempty"`
}

// PostMortemList is a list of PostMortems.
//
// +kubebuilder:object:root=true
type PostMortemList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PostMortem `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PostMortem{}, &PostMortemList{})
}
