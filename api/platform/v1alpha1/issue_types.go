package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IssueSpec is a correlated incident on one resource.
type IssueSpec struct {
	// severity of the incident, derived from riskScore.
	// +required
	Severity Severity `json:"severity"`

	// source of the first anomaly.
	// +required
	Source Source `json:"source"`

	// signalType of the dominant anomaly, used for tiered Runbook matching.
	// +required
	SignalType SignalType `json:"signalType"`

	// description is a human sentence about the incident.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Description string `json:"description,omitempty"`

	// resource the incident is about. With its uid, it is the object the
	// remediator may act on, and no other.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="resource is immutable"
	Resource ResourceReference `json:"resource"`

	// riskScore is the weighted sum of the correlated signals, capped at 100.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	RiskScore int32 `json:"riskScore"`
}

// RemediationAttempt is one round of analysis and remediation of an Issue:
// the AIInsight asked for it, the RemediationPlan made from it, and how it
// ended. It is written by the correlator.
// +kubebuilder:validation:XValidation:rule="has(self.outcome) == has(self.endedAt)",message="outcome and endedAt are set together, when the attempt ends"
// +kubebuilder:validation:XValidation:rule="!has(self.startedAt) || !has(self.endedAt) || self.endedAt >= self.startedAt",message="endedAt cannot be before startedAt"
type RemediationAttempt struct {
	// attempt counts from 1; it is the attempt of the AIInsight and the
	// RemediationPlan.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	Attempt int32 `json:"attempt"`

	// insightRef names the AIInsight of the attempt.
	// +optional
	InsightRef *LocalObjectReference `json:"insightRef,omitempty"`

	// planRef names the RemediationPlan of the attempt.
	// +optional
	PlanRef *LocalObjectReference `json:"planRef,omitempty"`

	// strategy says how the attempt remediates, for example the Runbook
	// used or "agentic".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Strategy string `json:"strategy,omitempty"`

	// outcome of the attempt; absent while it runs.
	// +optional
	Outcome AttemptOutcome `json:"outcome,omitempty"`

	// startedAt is when the attempt's analysis was asked for.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// endedAt is when the attempt reached its outcome.
	// +optional
	EndedAt *metav1.Time `json:"endedAt,omitempty"`

	// failureContext is the evidence of the failure, given to the analysis
	// of the next attempt so that it tries a different strategy.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	FailureContext string `json:"failureContext,omitempty"`
}

// IssueStatus is written by the correlator.
// The attempts rule is checked only when the count changes, so that a
// lowered maximum can never lock the correlator out of writing Escalated.
// +kubebuilder:validation:XValidation:rule="!has(self.remediationAttempts) || !has(self.maxRemediationAttempts) || self.remediationAttempts <= self.maxRemediationAttempts || (oldSelf.hasValue() && has(oldSelf.value().remediationAttempts) && oldSelf.value().remediationAttempts == self.remediationAttempts)",message="remediationAttempts cannot exceed maxRemediationAttempts",optionalOldSelf=true
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.recurrenceOf) || (has(self.recurrenceOf) && self.recurrenceOf == oldSelf.recurrenceOf)",message="recurrenceOf cannot be changed or removed once set"
// +kubebuilder:validation:XValidation:rule="!has(self.escalationReason) || (has(self.state) && self.state == 'Escalated')",message="escalationReason is set only on an Escalated Issue"
type IssueStatus struct {
	// conditions of the Issue.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// state of the incident.
	// +optional
	State IssueState `json:"state,omitempty"`

	// stateTransitionTime is when state last changed.
	// +optional
	StateTransitionTime *metav1.Time `json:"stateTransitionTime,omitempty"`

	// incidentID is the human id, INC-YYYYMMDD-NNN.
	// +kubebuilder:validation:MaxLength=32
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

	// attempts are the remediation attempts, one entry per attempt number.
	// +listType=map
	// +listMapKey=attempt
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Attempts []RemediationAttempt `json:"attempts,omitempty"`

	// relatedAnomalies are the names of the correlated Anomalies.
	// +kubebuilder:validation:MaxItems=500
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	RelatedAnomalies []string `json:"relatedAnomalies,omitempty"`

	// insightRef names the current AIInsight.
	// +optional
	InsightRef *LocalObjectReference `json:"insightRef,omitempty"`

	// planRef names the current RemediationPlan.
	// +optional
	PlanRef *LocalObjectReference `json:"planRef,omitempty"`

	// recurrenceOf names the resolved Issue of the same problem on the same
	// object that this Issue repeats within the recurrence cooldown: the
	// earlier fix did not hold. It never changes once set.
	// +optional
	RecurrenceOf *LocalObjectReference `json:"recurrenceOf,omitempty"`

	// postMortemRef names the PostMortem of the incident.
	// +optional
	PostMortemRef *LocalObjectReference `json:"postMortemRef,omitempty"`

	// detectedAt is when the Issue was opened.
	// +optional
	DetectedAt *metav1.Time `json:"detectedAt,omitempty"`

	// resolvedAt is when the Issue was resolved.
	// +optional
	ResolvedAt *metav1.Time `json:"resolvedAt,omitempty"`

	// escalatedAt is when the Issue was escalated.
	// +optional
	EscalatedAt *metav1.Time `json:"escalatedAt,omitempty"`

	// escalationReason is the CamelCase cause of the escalation, one of the
	// Issue*Reason constants: AttemptsExhausted, ResourceMissing,
	// Recurring, PlanRejected, ApprovalExpired, PlanRefused, NoPlan or
	// EscalationRequested.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`
	// +optional
	EscalationReason string `json:"escalationReason,omitempty"`

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
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=200
	// +optional
	Timeline []TimelineEntry `json:"timeline,omitempty"`
}

// Issue is an incident: correlated anomalies on one resource, moved from
// detection to resolution by the correlator.
//
// The correlator sets an Issue Resolved before it calls
// WatcherService.InvalidateDedup for the Issue's resource; from then on the
// watcher-bridge treats the Issue's Anomalies as a past incident, and a new
// signal of the same problem becomes an Anomaly of the next generation (see
// Anomaly). A recurrence within the cooldown opens a new Issue whose
// status.recurrenceOf names this one. An Escalated Issue stays open: its
// Anomalies keep deduplicating new signals until people close it.
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
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the incident.
	// +required
	Spec IssueSpec `json:"spec"`

	// status is where the incident is in its life.
	// +optional
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
	register(&Issue{}, &IssueList{})
}
