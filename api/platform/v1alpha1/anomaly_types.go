package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnomalySpec is one detected signal. It is a fact, so it never changes
// after creation.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable"
type AnomalySpec struct {
	// signalType is the kind of problem.
	SignalType SignalType `json:"signalType"`

	// source is where the signal came from.
	Source Source `json:"source"`

	// severity as the source reported it.
	Severity SignalSeverity `json:"severity"`

	// resource the signal is about, attributed to its top owner.
	Resource ResourceReference `json:"resource"`

	// description is a human sentence about the signal.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Description string `json:"description,omitempty"`

	// detectedAt is when the signal was seen.
	DetectedAt metav1.Time `json:"detectedAt"`

	// value measured, where known, for example "8" restarts.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Value string `json:"value,omitempty"`

	// threshold the value crossed, where known.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Threshold string `json:"threshold,omitempty"`
}

// AnomalyStatus is written by the correlator.
type AnomalyStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// correlated is true once the anomaly belongs to an Issue.
	// +optional
	Correlated bool `json:"correlated,omitempty"`

	// issueRef names the Issue the anomaly belongs to.
	// +optional
	IssueRef *LocalObjectReference `json:"issueRef,omitempty"`

	// correlatedAt is when the anomaly joined its Issue.
	// +optional
	CorrelatedAt *metav1.Time `json:"correlatedAt,omitempty"`

	// conditions of the Anomaly.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Anomaly is a raw signal about a workload, created by the watcher-bridge.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=anom,categories=chatcli
// +kubebuilder:printcolumn:name="Signal",type=string,JSONPath=`.spec.signalType`
// +kubebuilder:printcolumn:name="Severity",type=string,JSONPath=`.spec.severity`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.resource.kind`
// +kubebuilder:printcolumn:name="Resource",type=string,JSONPath=`.spec.resource.name`
// +kubebuilder:printcolumn:name="Issue",type=string,JSONPath=`.status.issueRef.name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Anomaly struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AnomalySpec   `json:"spec"`
	Status AnomalyStatus `json:"status,omitempty"`
}

// AnomalyList is a list of Anomalies.
//
// +kubebuilder:object:root=true
type AnomalyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Anomaly `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Anomaly{}, &AnomalyList{})
}
