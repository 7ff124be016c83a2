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
	Severity Severity `json:"severity"`

	// resourceKind the Runbook handles, for example Deployment.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	ResourceKind string `json:"resourceKind"`
}

// RunbookStep is one action of a Runbook.
// +kubebuilder:validation:XValidation:rule="!(self.action in ['ScaleDeployment', 'ScaleStatefulSet']) || (has(self.params) && 'replicas' in self.params)",message="scale actions need a replicas param"
type RunbookStep struct {
	// name of the step.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name"`

	// action of the step.
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
type RunbookSpec struct {
	// description of the procedure.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Description string `json:"description,omitempty"`

	// trigger selects the Issues the Runbook applies to.
	Trigger RunbookTrigger `json:"trigger"`

	// steps run in order.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	Steps []RunbookStep `json:"steps"`

	// maxAttempts is how many times the Runbook may be tried for one Issue.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +optional
	MaxAttempts int32 `json:"maxAttempts,omitempty"`
}

// RunbookStatus is written by the remediator.
type RunbookStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// timesUsed counts the plans made from the Runbook.
	// +optional
	TimesUsed int32 `json:"timesUsed,omitempty"`

	// timesSucceeded counts those plans that completed.
	// +optional
	TimesSucceeded int32 `json:"timesSucceeded,omitempty"`

	// lastUsedAt is when a plan was last made from the Runbook.
	// +optional
	LastUsedAt *metav1.Time `json:"lastUsedAt,omitempty"`

	// conditions of the Runbook; Valid says whether every step passes the
	// action policy.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Runbook is a reusable remediation procedure, written by people or
// generated from successful remediations.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rb,categories=chatcli
// +kubebuilder:printcolumn:name="Signal",type=string,JSONPath=`.spec.trigger.signalType`
// +kubebuilder:printcolumn:name="Severity",type=string,JSONPath=`.spec.trigger.severity`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.trigger.resourceKind`
// +kubebuilder:printcolumn:name="Used",type=integer,JSONPath=`.status.timesUsed`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Runbook struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RunbookSpec   `json:"spec"`
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
	SchemeBuilder.Register(&Runbook{}, &RunbookList{})
}
