package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RemediationAction is one action of a plan.
// +kubebuilder:validation:XValidation:rule="!(self.type in ['ScaleDeployment', 'ScaleStatefulSet']) || (has(self.params) && 'replicas' in self.params)",message="scale actions need a replicas param"
type RemediationAction struct {
	// type of the action.
	// +required
	Type ActionType `json:"type"`

	// params of the action.
	// +optional
	Params ActionParams `json:"params,omitempty"`
}

// AgenticStep is one observe-decide-act step of an agentic plan.
type AgenticStep struct {
	// stepNumber counts from 1.
	// +required
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

// AgenticResolution is the AI's account of an agentic plan that ended with
// the issue resolved. The remediator scrubs it before it stores it.
type AgenticResolution struct {
	// summary of the incident and its fix.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	Summary string `json:"summary,omitempty"`

	// rootCause of the incident.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	RootCause string `json:"rootCause,omitempty"`

	// impact of the incident.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Impact string `json:"impact,omitempty"`

	// lessonsLearned from the incident.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=1024
	// +optional
	LessonsLearned []string `json:"lessonsLearned,omitempty"`

	// preventionActions that would stop it recurring.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=1024
	// +optional
	PreventionActions []string `json:"preventionActions,omitempty"`

	// resolvedAt is when the AI declared the issue resolved.
	// +optional
	ResolvedAt *metav1.Time `json:"resolvedAt,omitempty"`
}

// PlanApprovalSpec asks for a person's approval before the plan executes.
// The remediator sets it when it creates the plan, from the action policy
// (a destructive action, a dry-run namespace or Instance); it cannot be
// changed afterwards, so that nobody can lift the requirement from a
// waiting plan. The decision is recorded in status.approval.
type PlanApprovalSpec struct {
	// required is true when the plan waits in WaitingApproval until it is
	// approved.
	// +optional
	Required bool `json:"required,omitempty"`
}

// PlanApprovalStatus records the approval of a plan. Only the remediator
// writes it: a decision comes in through RemediatorService.ApprovePlan or
// RejectPlan, which names the plan's uid and generation, and the remediator
// records it only if both still match, so that a decision can never apply
// to a plan that was recreated or changed after the person looked at it.
// A decision, once recorded, never changes.
// +kubebuilder:validation:XValidation:rule="!(has(self.approvedAt) && has(self.rejectedAt))",message="a plan is approved or rejected, not both"
// +kubebuilder:validation:XValidation:rule="has(self.approvedBy) == has(self.approvedAt)",message="approvedBy and approvedAt are set together"
// +kubebuilder:validation:XValidation:rule="has(self.rejectedBy) == has(self.rejectedAt)",message="rejectedBy and rejectedAt are set together"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.approvedAt) || (has(self.approvedAt) && self.approvedAt == oldSelf.approvedAt && self.approvedBy == oldSelf.approvedBy)",message="an approval cannot be changed or withdrawn"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.rejectedAt) || (has(self.rejectedAt) && self.rejectedAt == oldSelf.rejectedAt && self.rejectedBy == oldSelf.rejectedBy)",message="a rejection cannot be changed or withdrawn"
type PlanApprovalStatus struct {
	// requestedAt is when the plan started to wait for approval.
	// +optional
	RequestedAt *metav1.Time `json:"requestedAt,omitempty"`

	// expiresAt is when the request lapses; a plan not decided by then
	// fails with the ApprovalExpired reason.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// generation of the plan the decision applies to.
	// +kubebuilder:validation:Minimum=1
	// +optional
	Generation int64 `json:"generation,omitempty"`

	// approvedBy is the authenticated identity that approved the plan.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +optional
	ApprovedBy string `json:"approvedBy,omitempty"`

	// approvedAt is when the plan was approved.
	// +optional
	ApprovedAt *metav1.Time `json:"approvedAt,omitempty"`

	// rejectedBy is the authenticated identity that rejected the plan.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +optional
	RejectedBy string `json:"rejectedBy,omitempty"`

	// rejectedAt is when the plan was rejected.
	// +optional
	RejectedAt *metav1.Time `json:"rejectedAt,omitempty"`

	// reason the person gave for the decision.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Reason string `json:"reason,omitempty"`
}

// RemediationPlanSpec is what to do for one attempt at an Issue.
// +kubebuilder:validation:XValidation:rule="(has(self.agenticMode) && self.agenticMode) || (has(self.actions) && size(self.actions) > 0)",message="a plan needs actions unless agenticMode is true"
// +kubebuilder:validation:XValidation:rule="(has(self.agenticMode) && self.agenticMode) || !has(self.agenticHistory) || size(self.agenticHistory) == 0",message="agenticHistory is only allowed with agenticMode"
// +kubebuilder:validation:XValidation:rule="!has(self.agenticHistory) || !has(self.agenticMaxSteps) || size(self.agenticHistory) <= self.agenticMaxSteps",message="agenticHistory cannot exceed agenticMaxSteps"
// +kubebuilder:validation:XValidation:rule="has(self.approval) == has(oldSelf.approval) && (!has(self.approval) || self.approval == oldSelf.approval)",message="approval is immutable"
type RemediationPlanSpec struct {
	// issueRef names the Issue.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="issueRef is immutable"
	IssueRef LocalObjectReference `json:"issueRef"`

	// attempt is the Issue's remediation attempt this plan serves.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="attempt is immutable"
	Attempt int32 `json:"attempt"`

	// strategy explains the plan to people.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	Strategy string `json:"strategy,omitempty"`

	// actions run in order in standard mode.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Actions []RemediationAction `json:"actions,omitempty"`

	// safetyConstraints are shown to people and to the AI; the action policy
	// enforces the real limits whatever they say.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=1024
	// +optional
	SafetyConstraints []string `json:"safetyConstraints,omitempty"`

	// runbookRef names the Runbook the plan came from.
	// +optional
	RunbookRef *LocalObjectReference `json:"runbookRef,omitempty"`

	// approval asks for a person's approval before execution.
	// +optional
	Approval *PlanApprovalSpec `json:"approval,omitempty"`

	// agenticMode lets the AI choose one action per step.
	// +optional
	AgenticMode bool `json:"agenticMode,omitempty"`

	// agenticMaxSteps bounds the agentic loop.
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=30
	// +optional
	AgenticMaxSteps int32 `json:"agenticMaxSteps,omitempty"`

	// agenticHistory records the agentic steps taken so far, one entry per
	// step number.
	// +listType=map
	// +listMapKey=stepNumber
	// +kubebuilder:validation:MaxItems=30
	// +optional
	AgenticHistory []AgenticStep `json:"agenticHistory,omitempty"`
}

// ActionResult is the outcome of one executed action, or of one rollback.
type ActionResult struct {
	// index of the action in spec.actions, from 0; in agentic mode, the
	// index of its step in spec.agenticHistory.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=63
	// +optional
	Index *int32 `json:"index,omitempty"`

	// type of the action.
	// +required
	Type ActionType `json:"type"`

	// params the action ran with.
	// +optional
	Params ActionParams `json:"params,omitempty"`

	// result of the action.
	// +required
	Result ActionOutcome `json:"result"`

	// message from the executor.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Message string `json:"message,omitempty"`

	// startedAt is when the action began.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// timestamp of the outcome.
	// +optional
	Timestamp *metav1.Time `json:"timestamp,omitempty"`

	// snapshot is what the executor saved of the target before acting (for
	// example the replicas, or the JSON of the fields the action changes),
	// from which a rollback restores it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=16384
	// +optional
	Snapshot string `json:"snapshot,omitempty"`
}

// PendingAction is the action a plan is executing. The remediator records
// it, with the snapshot of what it changes, before the action runs, and
// clears it in the same status write that records the action's result. A
// remediator that finds it set after a crash runs the action again from
// the recorded snapshot (every action is idempotent for its plan and
// index), never takes a new snapshot of a half-changed target, and never
// runs an action whose result is recorded.
type PendingAction struct {
	// index of the action in spec.actions, from 0; in agentic mode, the
	// index of its step in spec.agenticHistory.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=63
	Index int32 `json:"index"`

	// type of the action.
	// +required
	Type ActionType `json:"type"`

	// params the action runs with.
	// +optional
	Params ActionParams `json:"params,omitempty"`

	// startedAt is when the action began.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// snapshot is what the executor saved of the target before acting.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=16384
	// +optional
	Snapshot string `json:"snapshot,omitempty"`
}

// AnnotationApprovalDecision on a RemediationPlan carries a person's
// decision to the remediator's reconciler, which alone writes status:
// RemediatorService.ApprovePlan and RejectPlan set it, and people with
// the right to patch plans may set it too. Its value is JSON:
// {"decision":"approve"|"reject","by":...,"reason":...,"uid":...,"generation":N}.
// The reconciler records the decision in status.approval only when uid and
// generation are the plan's own, and then never changes it.
const AnnotationApprovalDecision = "platform.chatcli.io/approval-decision"

// VerificationCheck is one health check of a verification.
type VerificationCheck struct {
	// name of the check, for example rollout-complete or no-restarts.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// healthy is the check's verdict; absent while it is undecided.
	// +optional
	Healthy *bool `json:"healthy,omitempty"`

	// message says what the check saw.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// VerificationStatus is the check, after execution, that the target is
// healthy: once its controller observed the change, and then for a
// stability window.
// +kubebuilder:validation:XValidation:rule="!has(self.startedAt) || !has(self.deadline) || self.deadline >= self.startedAt",message="deadline cannot be before startedAt"
type VerificationStatus struct {
	// startedAt is when verification began.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// deadline is when verification times out; a target not healthy by
	// then is rolled back.
	// +optional
	Deadline *metav1.Time `json:"deadline,omitempty"`

	// healthy is the verdict; absent while verification runs.
	// +optional
	Healthy *bool `json:"healthy,omitempty"`

	// healthySince is when the target was first seen healthy after its
	// controller observed the change: the start of the stability window.
	// +optional
	HealthySince *metav1.Time `json:"healthySince,omitempty"`

	// restartBaseline is the restart count of the target's pods at
	// healthySince; a higher count inside the window fails verification.
	// +kubebuilder:validation:Minimum=0
	// +optional
	RestartBaseline *int32 `json:"restartBaseline,omitempty"`

	// checks are the individual health checks.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Checks []VerificationCheck `json:"checks,omitempty"`

	// message summarises the verification for people.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Message string `json:"message,omitempty"`
}

// RemediationPlanStatus is written by the remediator.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.approval) || has(self.approval)",message="approval cannot be removed"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.resolvedTarget) || has(self.resolvedTarget)",message="resolvedTarget cannot be removed"
type RemediationPlanStatus struct {
	// conditions of the plan.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

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

	// approval records the request and the decision, when spec.approval
	// asks for one.
	// +optional
	Approval *PlanApprovalStatus `json:"approval,omitempty"`

	// resolvedTarget is the object the plan acts on, with its uid, as the
	// remediator resolved it before the first action: the Issue's object,
	// or the Job an earlier attempt re-ran from it (annotation
	// platform.chatcli.io/retry-of-uid). Every action acts on it, and none
	// runs if the live object's uid differs (the object was recreated),
	// unless the object is a Job this plan's own RetryJob created, which
	// carries platform.chatcli.io/retry-key=<plan uid>/<index>. It never
	// changes once set.
	// +kubebuilder:validation:XValidation:rule="has(self.uid)",message="resolvedTarget needs the uid of the object"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="resolvedTarget is immutable"
	// +optional
	ResolvedTarget *ResourceReference `json:"resolvedTarget,omitempty"`

	// agenticStepCount is the number of agentic steps taken.
	// +kubebuilder:validation:Minimum=0
	// +optional
	AgenticStepCount int32 `json:"agenticStepCount,omitempty"`

	// currentActionIndex is the index of the action executing, or next to
	// execute, in spec.actions (in agentic mode, in spec.agenticHistory).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=63
	// +optional
	CurrentActionIndex *int32 `json:"currentActionIndex,omitempty"`

	// actionResults are the outcomes of executed actions, in order.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +optional
	ActionResults []ActionResult `json:"actionResults,omitempty"`

	// verification is the health check after execution.
	// +optional
	Verification *VerificationStatus `json:"verification,omitempty"`

	// rollbackResults are the outcomes of restoring the snapshots, in the
	// order they ran (the reverse of the actions).
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +optional
	RollbackResults []ActionResult `json:"rollbackResults,omitempty"`

	// pendingAction is the action executing now, recorded before it runs.
	// +optional
	PendingAction *PendingAction `json:"pendingAction,omitempty"`

	// agenticResolution is what the AI said when it declared an agentic
	// plan's issue resolved; the postmortem-writer builds on it. Absent for
	// standard plans and for agentic plans that did not resolve.
	// +optional
	AgenticResolution *AgenticResolution `json:"agenticResolution,omitempty"`

	// startedAt is when execution began.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// completedAt is when the plan reached a terminal state.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
}

// RemediationPlan is the concrete set of actions for one remediation attempt.
//
// Who writes what: the remediator creates the plan (spec, including
// spec.approval) through ProposePlan and is the only writer of its status.
// People approve or reject through RemediatorService.ApprovePlan and
// RejectPlan, never by editing the plan; the remediator records the
// decision in status.approval.
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
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what the plan does.
	// +required
	Spec RemediationPlanSpec `json:"spec"`

	// status is how the execution goes.
	// +optional
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
	register(&RemediationPlan{}, &RemediationPlanList{})
}
