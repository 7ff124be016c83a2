package v1alpha1

import "slices"

// SignalType is the kind of problem a signal reports.
// +kubebuilder:validation:Enum=error_rate;latency;pod_restart;cpu_high;memory_high;oom_kill;pod_not_ready;deploy_failing;disk_pressure;node_not_ready;pid_pressure;network_unavailable;pod_capacity_high;pvc_pending;ingress_error;hpa_maxed;job_failed;cronjob_missed;certificate_expiring;image_pull_error;crashloop_backoff;helm_release_failed;argocd_degraded;config_drift
type SignalType string

// The signal types, the same 24 as the ChatCLI reference.
const (
	SignalErrorRate          SignalType = "error_rate"
	SignalLatency            SignalType = "latency"
	SignalPodRestart         SignalType = "pod_restart"
	SignalCPUHigh            SignalType = "cpu_high"
	SignalMemoryHigh         SignalType = "memory_high"
	SignalOOMKill            SignalType = "oom_kill"
	SignalPodNotReady        SignalType = "pod_not_ready"
	SignalDeployFailing      SignalType = "deploy_failing"
	SignalDiskPressure       SignalType = "disk_pressure"
	SignalNodeNotReady       SignalType = "node_not_ready"
	SignalPIDPressure        SignalType = "pid_pressure"
	SignalNetworkUnavailable SignalType = "network_unavailable"
	SignalPodCapacityHigh    SignalType = "pod_capacity_high"
	SignalPVCPending         SignalType = "pvc_pending"
	SignalIngressError       SignalType = "ingress_error"
	SignalHPAMaxed           SignalType = "hpa_maxed"
	SignalJobFailed          SignalType = "job_failed"
	SignalCronJobMissed      SignalType = "cronjob_missed"
	SignalCertExpiring       SignalType = "certificate_expiring"
	SignalImagePullError     SignalType = "image_pull_error"
	SignalCrashLoopBackOff   SignalType = "crashloop_backoff"
	SignalHelmReleaseFailed  SignalType = "helm_release_failed"
	SignalArgoCDDegraded     SignalType = "argocd_degraded"
	SignalConfigDrift        SignalType = "config_drift"
)

// SignalTypes lists every valid SignalType, in catalogue order.
var SignalTypes = []SignalType{
	SignalErrorRate, SignalLatency, SignalPodRestart, SignalCPUHigh, SignalMemoryHigh,
	SignalOOMKill, SignalPodNotReady, SignalDeployFailing, SignalDiskPressure,
	SignalNodeNotReady, SignalPIDPressure, SignalNetworkUnavailable, SignalPodCapacityHigh,
	SignalPVCPending, SignalIngressError, SignalHPAMaxed, SignalJobFailed, SignalCronJobMissed,
	SignalCertExpiring, SignalImagePullError, SignalCrashLoopBackOff, SignalHelmReleaseFailed,
	SignalArgoCDDegraded, SignalConfigDrift,
}

// IsValid reports whether s is one of the catalogue's signal types.
func (s SignalType) IsValid() bool { return slices.Contains(SignalTypes, s) }

// Source says where a signal came from.
// +kubebuilder:validation:Enum=prometheus;events;logs;webhook;watcher
type Source string

// The signal sources.
const (
	SourcePrometheus Source = "prometheus"
	SourceEvents     Source = "events"
	SourceLogs       Source = "logs"
	SourceWebhook    Source = "webhook"
	SourceWatcher    Source = "watcher"
)

// Sources lists every valid Source.
var Sources = []Source{SourcePrometheus, SourceEvents, SourceLogs, SourceWebhook, SourceWatcher}

// IsValid reports whether s is a known source.
func (s Source) IsValid() bool { return slices.Contains(Sources, s) }

// Severity ranks an Issue, a Runbook trigger or a PostMortem.
// +kubebuilder:validation:Enum=critical;high;medium;low
type Severity string

// The severities of incidents, from the risk score.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
)

// Severities lists every valid Severity, most severe first.
var Severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow}

// IsValid reports whether s is a known incident severity.
func (s Severity) IsValid() bool { return slices.Contains(Severities, s) }

// SignalSeverity ranks a raw signal. Besides the incident severities it takes
// the alerting words warning and info, because signals arrive with the labels
// of their source (the seed's Anomaly example says "warning").
// +kubebuilder:validation:Enum=critical;high;medium;low;warning;info
type SignalSeverity string

// The severities only a raw signal can carry.
const (
	SignalSeverityWarning SignalSeverity = "warning"
	SignalSeverityInfo    SignalSeverity = "info"
)

// SignalSeverities lists every valid SignalSeverity.
var SignalSeverities = []SignalSeverity{
	SignalSeverity(SeverityCritical), SignalSeverity(SeverityHigh), SignalSeverity(SeverityMedium),
	SignalSeverity(SeverityLow), SignalSeverityWarning, SignalSeverityInfo,
}

// IsValid reports whether s is a known signal severity.
func (s SignalSeverity) IsValid() bool { return slices.Contains(SignalSeverities, s) }

// IssueState is where an incident is in its life.
// +kubebuilder:validation:Enum=Detected;Analyzing;Remediating;Resolved;Escalated
type IssueState string

// The Issue states.
const (
	IssueDetected    IssueState = "Detected"
	IssueAnalyzing   IssueState = "Analyzing"
	IssueRemediating IssueState = "Remediating"
	IssueResolved    IssueState = "Resolved"
	IssueEscalated   IssueState = "Escalated"
)

// IsTerminal reports whether no further transition can leave s.
func (s IssueState) IsTerminal() bool { return s == IssueResolved || s == IssueEscalated }

// PlanState is where a RemediationPlan is in its execution.
// +kubebuilder:validation:Enum=Pending;WaitingApproval;Executing;Verifying;Completed;Failed;RolledBack
type PlanState string

// The RemediationPlan states.
const (
	PlanPending         PlanState = "Pending"
	PlanWaitingApproval PlanState = "WaitingApproval"
	PlanExecuting       PlanState = "Executing"
	PlanVerifying       PlanState = "Verifying"
	PlanCompleted       PlanState = "Completed"
	PlanFailed          PlanState = "Failed"
	PlanRolledBack      PlanState = "RolledBack"
)

// IsTerminal reports whether the plan has finished, for good or ill.
func (s PlanState) IsTerminal() bool {
	return s == PlanCompleted || s == PlanFailed || s == PlanRolledBack
}

// PostMortemState is the review state of a PostMortem.
// +kubebuilder:validation:Enum=Open;InReview;Closed
type PostMortemState string

// The PostMortem states.
const (
	PostMortemOpen     PostMortemState = "Open"
	PostMortemInReview PostMortemState = "InReview"
	PostMortemClosed   PostMortemState = "Closed"
)

// Provider names an LLM provider. BUILTIN is the deterministic offline
// analyzer, which needs no key.
// +kubebuilder:validation:Enum=OPENAI;CLAUDEAI;BEDROCK;GOOGLEAI;OLLAMA;COPILOT;OPENROUTER;GITHUB_MODELS;XAI;BUILTIN
type Provider string

// The providers.
const (
	ProviderOpenAI       Provider = "OPENAI"
	ProviderClaudeAI     Provider = "CLAUDEAI"
	ProviderBedrock      Provider = "BEDROCK"
	ProviderGoogleAI     Provider = "GOOGLEAI"
	ProviderOllama       Provider = "OLLAMA"
	ProviderCopilot      Provider = "COPILOT"
	ProviderOpenRouter   Provider = "OPENROUTER"
	ProviderGitHubModels Provider = "GITHUB_MODELS"
	ProviderXAI          Provider = "XAI"
	ProviderBuiltin      Provider = "BUILTIN"
)

// WorkloadKind is a kind of workload an Instance's watcher can target.
// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet;Job;CronJob
type WorkloadKind string

// The watchable workload kinds.
const (
	KindDeployment  WorkloadKind = "Deployment"
	KindStatefulSet WorkloadKind = "StatefulSet"
	KindDaemonSet   WorkloadKind = "DaemonSet"
	KindJob         WorkloadKind = "Job"
	KindCronJob     WorkloadKind = "CronJob"
)

// ActionOutcome is how one executed action ended. The values are the
// seed's words.
// +kubebuilder:validation:Enum=success;failed;skipped;rolled_back
type ActionOutcome string

// The action outcomes.
const (
	// ActionSucceeded means the action did what it was asked.
	ActionSucceeded ActionOutcome = "success"
	// ActionFailed means the action was tried and did not succeed.
	ActionFailed ActionOutcome = "failed"
	// ActionSkipped means the action was not tried, for example because
	// an earlier action failed or the policy refused it.
	ActionSkipped ActionOutcome = "skipped"
	// ActionRolledBack means the action succeeded and was then undone from
	// its snapshot.
	ActionRolledBack ActionOutcome = "rolled_back"
)

// ActionOutcomes lists every valid ActionOutcome.
var ActionOutcomes = []ActionOutcome{ActionSucceeded, ActionFailed, ActionSkipped, ActionRolledBack}

// IsValid reports whether o is a known action outcome.
func (o ActionOutcome) IsValid() bool { return slices.Contains(ActionOutcomes, o) }

// AttemptOutcome is how one remediation attempt of an Issue ended. An
// attempt that is still running has no outcome.
// +kubebuilder:validation:Enum=Succeeded;Failed;RolledBack;Rejected;Expired
type AttemptOutcome string

// The attempt outcomes.
const (
	// AttemptSucceeded means the plan completed and verification held.
	AttemptSucceeded AttemptOutcome = "Succeeded"
	// AttemptFailed means no plan could be made, or the plan failed
	// without a rollback.
	AttemptFailed AttemptOutcome = "Failed"
	// AttemptRolledBack means the plan failed, or its verification did,
	// and its changes were rolled back.
	AttemptRolledBack AttemptOutcome = "RolledBack"
	// AttemptRejected means a person rejected the plan.
	AttemptRejected AttemptOutcome = "Rejected"
	// AttemptExpired means the plan waited for an approval that did not
	// come in time.
	AttemptExpired AttemptOutcome = "Expired"
)

// AttemptOutcomes lists every valid AttemptOutcome.
var AttemptOutcomes = []AttemptOutcome{AttemptSucceeded, AttemptFailed, AttemptRolledBack, AttemptRejected, AttemptExpired}

// IsValid reports whether o is a known attempt outcome.
func (o AttemptOutcome) IsValid() bool { return slices.Contains(AttemptOutcomes, o) }

// RunbookOrigin says who wrote a Runbook.
// +kubebuilder:validation:Enum=Manual;Generated
type RunbookOrigin string

// The Runbook origins.
const (
	// RunbookManual is a Runbook written by people. It takes precedence
	// over generated ones.
	RunbookManual RunbookOrigin = "Manual"
	// RunbookGenerated is a Runbook the remediator made from AI suggested
	// actions or promoted from a successful plan. It carries the
	// LabelRunbookGenerated label.
	RunbookGenerated RunbookOrigin = "Generated"
)
