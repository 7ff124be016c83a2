package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RunbookTrigger says which Issues a Runbook applies to. Matching is tiered:
// signalType, severity and resourceKind first, then severity and
// resourceKind.
type RunbookTrigger struct {
	// signalType the Runbook handles; empty matches any.
	// +optional
	SignalType SignalType `json:"signalType,omitempty"`

	// severity the Runbook handles.
	// +required
	Severity Severity `json:"severity"`

	// resourceKind the Runbook handles, for example Deployment.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	ResourceKind string `json:"resourceKind"`
}

// RunbookStep is one action of a Runbook.
// +kubebuilder:validation:XValidation:rule="!(self.action in ['ScaleDeployment', 'ScaleStatefulSet']) || (has(self.params) && 'replicas' in self.params)",message="scale actions need a replicas param"
type RunbookStep struct {
	// name of the step.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name"`

	// action of the step.
	// +required
	Action ActionType `json:"action"`

	// description of the step.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Description string `json:"description,omitempty"`

	// params of the action.
	// +optional
	Params ActionParams `json:"params,omitempty"`
}

// RunbookSpec is an operational procedure.
// +kubebuilder:validation:XValidation:rule="!has(self.promotedFrom) || self.origin == 'Generated'",message="promotedFrom is only for Generated Runbooks"
type RunbookSpec struct {
	// description of the procedure.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Description string `json:"description,omitempty"`

	// trigger selects the Issues the Runbook applies to.
	// +required
	Trigger RunbookTrigger `json:"trigger"`

	// steps run in order.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	Steps []RunbookStep `json:"steps"`

	// maxAttempts is how many times the Runbook may be tried for one Issue.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +optional
	MaxAttempts int32 `json:"maxAttempts,omitempty"`

	// origin says who wrote the Runbook: people (Manual), or the remediator
	// (Generated, from AI suggested actions or a successful plan). A
	// Manual Runbook takes precedence. It never changes.
	// +kubebuilder:default=Manual
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="origin is immutable"
	// +optional
	Origin RunbookOrigin `json:"origin,omitempty"`

	// promotedFrom names the RemediationPlan whose successful actions the
	// Runbook was made from.
	// +optional
	PromotedFrom *LocalObjectReference `json:"promotedFrom,omitempty"`
}

// RunbookStatus is written by the remediator, which counts the plans made
// from the Runbook and their outcomes. The correlator reports a recurrence
// (an Issue that came back after a plan of this Runbook resolved it)
// through RemediatorService, and the remediator counts it in
// timesRecurred; a Runbook whose fixes do not hold can then be demoted.
// +kubebuilder:validation:XValidation:rule="(has(self.timesSucceeded) ? self.timesSucceeded : 0) + (has(self.timesFailed) ? self.timesFailed : 0) <= (has(self.timesUsed) ? self.timesUsed : 0)",message="timesSucceeded and timesFailed together cannot exceed timesUsed"
// +kubebuilder:validation:XValidation:rule="(has(self.timesRecurred) ? self.timesRecurred : 0) <= (has(self.timesSucceeded) ? self.timesSucceeded : 0)",message="timesRecurred cannot exceed timesSucceeded"
type RunbookStatus struct {
	// conditions of the Runbook; Valid says whether every step passes the
	// action policy.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// timesUsed counts the plans made from the Runbook.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TimesUsed int32 `json:"timesUsed,omitempty"`

	// timesSucceeded counts those plans that completed.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TimesSucceeded int32 `json:"timesSucceeded,omitempty"`

	// timesFailed counts those plans that failed or were rolled back.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TimesFailed int32 `json:"timesFailed,omitempty"`

	// timesRecurred counts the successful plans whose Issue recurred
	// within the recurrence cooldown: the fix did not hold.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TimesRecurred int32 `json:"timesRecurred,omitempty"`

	// lastUsedAt is when a plan was last made from the Runbook.
	// +optional
	LastUsedAt *metav1.Time `json:"lastUsedAt,omitempty"`

	// lastSucceededAt is when a plan of the Runbook last completed.
	// +optional
	LastSucceededAt *metav1.Time `json:"lastSucceededAt,omitempty"`
}

// Runbook is a reusable remediation procedure, written by people or
// generated from successful remediations. A generated Runbook has
// spec.origin Generated and the LabelRunbookGenerated label.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rb,categories=chatcli
// +kubebuilder:printcolumn:name="Signal",type=string,JSONPath=`.spec.trigger.signalType`
// +kubebuilder:printcolumn:name="Severity",type=string,JSONPath=`.spec.trigger.severity`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.trigger.resourceKind`
// +kubebuilder:printcolumn:name="Origin",type=string,JSONPath=`.spec.origin`
// +kubebuilder:printcolumn:name="Used",type=integer,JSONPath=`.status.timesUsed`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Runbook struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the procedure.
	// +required
	Spec RunbookSpec `json:"spec"`

	// status counts the Runbook's use.
	// +optional
	Status RunbookStatus `json:"status,omitempty"`
}

// RunbookList is a list of Runbooks.
//
// +kubebuilder:object:root=true
type RunbookList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Runbook `json:"items"`
}

func init() {
	register(&Runbook{}, &RunbookList{})
}
