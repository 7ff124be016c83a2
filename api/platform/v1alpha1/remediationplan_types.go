package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RemediationAction is one action of a plan.
// +kubebuilder:validation:XValidation:rule="!(self.type in ['ScaleDeployment', 'ScaleStatefulSet']) || (has(self.params) && 'replicas' in self.params)",message="scale actions need a replicas param"
type RemediationAction struct {
	// type of the action.
	Type ActionType `json:"type"`

	// params of the action.
	// +optional
	Params ActionParams `json:"params,omitempty"`
}

// AgenticStep is one observe-decide-act step of an agentic plan.
type AgenticStep struct {
	// stepNumber counts from 1.
	// +kubebuilder:validation:Minimum=1
	StepNumber int32 `json:"stepNumber"`

	// aiMessage is the reasoning the AI gave for the step.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	AIMessage string `json:"aiMessage,omitempty"`

	// action taken in the step; absent when the AI declared the issue resolved.
	// +optional
	Action *RemediationAction `json:"action,omitempty"`

	// observation is what the executor saw after the action.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	Observation string `json:"observation,omitempty"`

	// timestamp of the step.
	// +optional
	Timestamp *metav1.Time `json:"timestamp,omitempty"`
}

// RemediationPlanSpec is what to do for one attempt at an Issue.
// +kubebuilder:validation:XValidation:rule="(has(self.agenticMode) && self.agenticMode) || (has(self.actions) && size(self.actions) > 0)",message="a plan needs actions unless agenticMode is true"
// +kubebuilder:validation:XValidation:rule="(has(self.agenticMode) && self.agenticMode) || !has(self.agenticHistory) || size(self.agenticHistory) == 0",message="agenticHistory is only allowed with agenticMode"
// +kubebuilder:validation:XValidation:rule="!has(self.agenticHistory) || !has(self.agenticMaxSteps) || size(self.agenticHistory) <= self.agenticMaxSteps",message="agenticHistory cannot exceed agenticMaxSteps"
type RemediationPlanSpec struct {
	// issueRef names the Issue.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="issueRef is immutable"
	IssueRef LocalObjectReference `json:"issueRef"`

	// attempt is the Issue's remediation attempt this plan serves.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="attempt is immutable"
	Attempt int32 `json:"attempt"`

	// strategy explains the plan to people.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	Strategy string `json:"strategy,omitempty"`

	// actions run in order in standard mode.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Actions []RemediationAction `json:"actions,omitempty"`

	// safetyConstraints are shown to people and to the AI; the action policy
	// enforces the real limits whatever they say.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	SafetyConstraints []string `json:"safetyConstraints,omitempty"`

	// runbookRef names the Runbook the plan came from.
	// +optional
	RunbookRef *LocalObjectReference `json:"runbookRef,omitempty"`

	// agenticMode lets the AI choose one action per step.
	// +optional
	AgenticMode bool `json:"agenticMode,omitempty"`

	// agenticMaxSteps bounds the agentic loop.
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=30
	// +optional
	AgenticMaxSteps int32 `json:"agenticMaxSteps,omitempty"`

	// agenticHistory records the agentic steps taken so far.
	// +kubebuilder:validation:MaxItems=30
	// +optional
	AgenticHistory []AgenticStep `json:"agenticHistory,omitempty"`
}

// ActionResult is the outcome of one executed action.
type ActionResult struct {
	// type of the action.
	Type ActionType `json:"type"`

	// params the action ran with.
	// +optional
	Params ActionParams `json:"params,omitempty"`

	// result is success, failed, skipped or rolled_back.
	// +kubebuilder:validation:Enum=success;failed;skipped;rolled_back
	Result string `json:"result"`

	// message from the executor.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Message string `json:"message,omitempty"`

	// timestamp of the outcome.
	// +optional
	Timestamp *metav1.Time `json:"timestamp,omitempty"`
}

// RemediationPlanStatus is written by the remediator.
type RemediationPlanStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// state of the plan.
	// +optional
	State PlanState `json:"state,omitempty"`

	// result is a human summary of the outcome.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	Result string `json:"result,omitempty"`

	// agenticStepCount is the number of agentic steps taken.
	// +kubebuilder:validation:Minimum=0
	// +optional
	AgenticStepCount int32 `json:"agenticStepCount,omitempty"`

	// actionResults are the outcomes of executed actions, in order.
	// +kubebuilder:validation:MaxItems=64
	// +optional
	ActionResults []ActionResult `json:"actionResults,omitempty"`

	// startedAt is when execution began.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// completedAt is when the plan reached a terminal state.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// conditions of the plan.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// RemediationPlan is the concrete set of actions for one remediation attempt.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rp,categories=chatcli
// +kubebuilder:printcolumn:name="Issue",type=string,JSONPath=`.spec.issueRef.name`
// +kubebuilder:printcolumn:name="Attempt",type=integer,JSONPath=`.spec.attempt`
// +kubebuilder:printcolumn:name="Agentic",type=boolean,JSONPath=`.spec.agenticMode`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RemediationPlan struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RemediationPlanSpec   `json:"spec"`
	Status RemediationPlanStatus `json:"status,omitempty"`
}

// RemediationPlanList is a list of RemediationPlans.
//
// +kubebuilder:object:root=true
type RemediationPlanList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RemediationPlan `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RemediationPlan{}, &RemediationPlanList{})
}
