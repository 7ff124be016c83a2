package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PostMortemSpec names the incident a PostMortem reports on, and the
// objects its report is rebuilt from.
type PostMortemSpec struct {
	// issueRef names the Issue.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="issueRef is immutable"
	IssueRef LocalObjectReference `json:"issueRef"`

	// resource the incident was about.
	// +required
	Resource ResourceReference `json:"resource"`

	// severity of the incident.
	// +required
	Severity Severity `json:"severity"`

	// incidentID is the Issue's human id, INC-YYYYMMDD-NNN.
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^INC-[0-9]{8}-[0-9]{3,}$`
	// +optional
	IncidentID string `json:"incidentID,omitempty"`

	// insightRef names the AIInsight of the attempt that resolved the
	// incident.
	// +optional
	InsightRef *LocalObjectReference `json:"insightRef,omitempty"`

	// planRefs name the RemediationPlans of every attempt, in attempt
	// order.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=10
	// +optional
	PlanRefs []LocalObjectReference `json:"planRefs,omitempty"`
}

// ExecutedAction is one action the remediation ran.
type ExecutedAction struct {
	// action type.
	// +required
	Action ActionType `json:"action"`

	// params the action ran with.
	// +optional
	Params ActionParams `json:"params,omitempty"`

	// result of the action.
	// +required
	Result ActionOutcome `json:"result"`

	// timestamp of the action.
	// +optional
	Timestamp *metav1.Time `json:"timestamp,omitempty"`
}

// Labels and annotations of a PostMortem. The postmortem-writer labels each
// PostMortem with LabelIssue (the Issue's name), LabelResourceKey and
// LabelSignalType, so the correlator finds the PostMortem of an Issue and
// the recurrence of a problem is one label selector away.
const (
	// AnnotationReviewState asks the postmortem-writer to move the review
	// to this state (InReview or Closed). PostMortemService.Transition
	// writes it; a person may too, with kubectl annotate. The leader's
	// reconciler records the change in status.reviews and status.state.
	AnnotationReviewState = "platform.chatcli.io/review-state"
	// AnnotationReviewBy names who asked for the review change.
	AnnotationReviewBy = "platform.chatcli.io/review-by"
	// AnnotationReviewRequestedAt is when the change was asked for, RFC 3339.
	AnnotationReviewRequestedAt = "platform.chatcli.io/review-requested-at"
	// AnnotationReviewNote is the reviewer's note on the change.
	AnnotationReviewNote = "platform.chatcli.io/review-note"
)

// Condition types and reasons of a PostMortem besides Ready.
const (
	// PostMortemSummarizedCondition is True when AnalyzerService
	// refined the report; False when it was written from the records
	// alone.
	PostMortemSummarizedCondition = "Summarized"
	// PostMortemRunbookPromotedCondition is True when the steps of a
	// successful agentic plan became a Runbook (RemediatorService.PromoteRunbook).
	PostMortemRunbookPromotedCondition = "RunbookPromoted"

	PostMortemAnalyzerSummarizedReason    = "AnalyzerSummarized"
	PostMortemAnalyzerNotConfiguredReason = "AnalyzerNotConfigured"
	PostMortemAnalyzerFailedReason        = "AnalyzerFailed"
	PostMortemRunbookPromotedReason       = "Promoted"
	PostMortemPromotionFailedReason       = "PromotionFailed"
)

// PostMortemReview is one change of a PostMortem's review state.
type PostMortemReview struct {
	// state the review moved to.
	// +required
	State PostMortemState `json:"state"`

	// by is who asked for the change: the caller of
	// PostMortemService.Transition, or the review-by annotation.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	By string `json:"by"`

	// at is when the change was asked for.
	// +required
	At metav1.Time `json:"at"`

	// note the reviewer gave.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Note string `json:"note,omitempty"`
}

// RecurrenceReference names an earlier PostMortem of the same problem.
type RecurrenceReference struct {
	// namespace of the PostMortem.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// name of the PostMortem.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// incidentID of its Issue.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	IncidentID string `json:"incidentID,omitempty"`

	// detectedAt is when that incident was first detected.
	// +optional
	DetectedAt *metav1.Time `json:"detectedAt,omitempty"`
}

// PostMortemRecurrence is the trend of a problem: the earlier PostMortems
// of the same resource and signal type within the window before this
// incident's first detection, so that a person sees a fix that keeps
// failing.
type PostMortemRecurrence struct {
	// count of the earlier PostMortems in the window.
	// +kubebuilder:validation:Minimum=0
	// +required
	Count int32 `json:"count"`

	// window looked back over, as a Go duration (720h).
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:Type=string
	// +optional
	Window *metav1.Duration `json:"window,omitempty"`

	// postMortems are the earlier PostMortems, the most recent first.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=50
	// +optional
	PostMortems []RecurrenceReference `json:"postMortems,omitempty"`
}

// PostMortemStatus is written by the postmortem-writer.
type PostMortemStatus struct {
	// conditions of the PostMortem.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

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
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=200
	// +optional
	Timeline []TimelineEntry `json:"timeline,omitempty"`

	// actionsExecuted during remediation.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +optional
	ActionsExecuted []ExecutedAction `json:"actionsExecuted,omitempty"`

	// lessonsLearned from the incident.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=4096
	// +optional
	LessonsLearned []string `json:"lessonsLearned,omitempty"`

	// preventionActions to keep it from happening again.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=4096
	// +optional
	PreventionActions []string `json:"preventionActions,omitempty"`

	// duration from detection to resolution, as a Go duration (2m10s).
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:Type=string
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// runbookRef names the reusable Runbook promoted from the incident's
	// successful plan.
	// +optional
	RunbookRef *LocalObjectReference `json:"runbookRef,omitempty"`

	// generatedAt is when the report was written.
	// +optional
	GeneratedAt *metav1.Time `json:"generatedAt,omitempty"`

	// reviews are the changes of state, in order, each with who asked
	// and when.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Reviews []PostMortemReview `json:"reviews,omitempty"`

	// recurrence is the trend of the problem over the last 30 days.
	// +optional
	Recurrence *PostMortemRecurrence `json:"recurrence,omitempty"`
}

// PostMortem is the report of a resolved incident.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pm,categories=chatcli
// +kubebuilder:printcolumn:name="Issue",type=string,JSONPath=`.spec.issueRef.name`
// +kubebuilder:printcolumn:name="Incident",type=string,JSONPath=`.spec.incidentID`
// +kubebuilder:printcolumn:name="Severity",type=string,JSONPath=`.spec.severity`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.duration`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PostMortem struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the incident.
	// +required
	Spec PostMortemSpec `json:"spec"`

	// status is the report.
	// +optional
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
	register(&PostMortem{}, &PostMortemList{})
}
