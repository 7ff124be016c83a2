package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IssueSpec is a correlated incident on one resource.
type IssueSpec struct {
	// severity of the incident, derived from riskScore.
	Severity Severity `json:"severity"`

	// source of the first anomaly.
	Source Source `json:"source"`

	// signalType of the dominant anomaly, used for tiered Runbook matching.
	SignalType SignalType `json:"signalType"`

	// description is a human sentence about the incident.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Description string `json:"description,omitempty"`

	// resource the incident is about.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="resource is immutable"
	Resource ResourceReference `json:"resource"`

	// riskScore is the weighted sum of the correlated signals, capped at 100.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	RiskScore int32 `json:"riskScore"`
}

// IssueStatus is written by the correlator.
// The attempts rule is checked only when the count changes, so that a
// lowered maximum can never lock the correlator out of writing Escalated.
// +kubebuilder:validation:XValidation:rule="!has(self.remediationAttempts) || !has(self.maxRemediationAttempts) || self.remediationAttempts <= self.maxRemediationAttempts || (oldSelf.hasValue() && has(oldSelf.value().remediationAttempts) && oldSelf.value().remediationAttempts == self.remediationAttempts)",message="remediationAttempts cannot exceed maxRemediationAttempts",optionalOldSelf=true
type IssueStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// state of the incident.
	// +optional
	State IssueState `json:"state,omitempty"`

	// incidentID is the human id, INC-YYYYMMDD-NNN.
	// +kubebuilder:validation:Pattern=`^INC-[0-9]{8}-[0-9]{3,}$`
	// +optional
	IncidentID string `json:"incidentID,omitempty"`

	// remediationAttempts made so far.
	// +kubebuilder:validation:Minimum=0
	// +optional
	RemediationAttempts int32 `json:"remediationAttempts"`

	// maxRemediationAttempts before the Issue escalates.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +optional
	MaxRemediationAttempts int32 `json:"maxRemediationAttempts,omitempty"`

	// relatedAnomalies are the names of the correlated Anomalies.
	// +kubebuilder:validation:MaxItems=500
	// +listType=set
	// +optional
	RelatedAnomalies []string `json:"relatedAnomalies,omitempty"`

	// insightRef names the current AIInsight.
	// +optional
	InsightRef *LocalObjectReference `json:"insightRef,omitempty"`

	// planRef names the current RemediationPlan.
	// +optional
	PlanRef *LocalObjectReference `json:"planRef,omitempty"`

	// detectedAt is when the Issue was opened.
	// +optional
	DetectedAt *metav1.Time `json:"detectedAt,omitempty"`

	// resolvedAt is when the Issue was resolved.
	// +optional
	ResolvedAt *metav1.Time `json:"resolvedAt,omitempty"`

	// escalatedAt is when the Issue was escalated.
	// +optional
	EscalatedAt *metav1.Time `json:"escalatedAt,omitempty"`

	// lastFailure describes why the last remediation attempt failed; it is
	// given to the next analysis.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	LastFailure string `json:"lastFailure,omitempty"`

	// resolution says how the Issue ended.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Resolution string `json:"resolution,omitempty"`

	// timeline stamps every transition, so a post-mortem can be rebuilt
	// from the CRs alone.
	// +kubebuilder:validation:MaxItems=200
	// +optional
	Timeline []TimelineEntry `json:"timeline,omitempty"`

	// conditions of the Issue.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Issue is an incident: correlated anomalies on one resource, moved from
// detection to resolution by the correlator.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=iss,categories=chatcli
// +kubebuilder:printcolumn:name="Incident",type=string,JSONPath=`.status.incidentID`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Severity",type=string,JSONPath=`.spec.severity`
// +kubebuilder:printcolumn:name="Risk",type=integer,JSONPath=`.spec.riskScore`
// +kubebuilder:printcolumn:name="Resource",type=string,JSONPath=`.spec.resource.name`
// +kubebuilder:printcolumn:name="Attempts",type=integer,JSONPath=`.status.remediationAttempts`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Issue struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   IssueSpec   `json:"spec"`
	Status IssueStatus `json:"status,omitempty"`
}

// IssueList is a list of Issues.
//
// +kubebuilder:object:root=true
type IssueList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Issue `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Issue{}, &IssueList{})
}
