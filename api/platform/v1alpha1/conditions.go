package v1alpha1

// Condition types. Each is positive: True is the good state.
const (
	// InstanceReadyCondition is True when the server Deployment is available.
	InstanceReadyCondition = "Ready"

	// AnomalyCorrelatedCondition is True once the Anomaly belongs to an Issue.
	AnomalyCorrelatedCondition = "Correlated"

	// IssueIdentifiedCondition is True once the Issue has its incident id;
	// False while Redis, which hands the ids out, does not answer.
	IssueIdentifiedCondition = "Identified"
	// IssueAnalyzedCondition is True when a usable AIInsight exists.
	IssueAnalyzedCondition = "Analyzed"
	// IssueRemediatedCondition is True when a plan completed and verified.
	IssueRemediatedCondition = "Remediated"
	// IssueDedupReleasedCondition is True once the watcher-bridge was told,
	// after the Issue was Resolved, to forget the dedup keys of its
	// resource (WatcherService.InvalidateDedup), so that a new fault on it
	// opens a new incident at once.
	IssueDedupReleasedCondition = "DedupReleased"

	// AIInsightReadyCondition is True when the analysis is usable.
	AIInsightReadyCondition = "Ready"

	// RemediationPlanApprovedCondition is True when the plan may execute.
	RemediationPlanApprovedCondition = "Approved"
	// RemediationPlanPolicyAllowedCondition is True when every action passed
	// the action policy.
	RemediationPlanPolicyAllowedCondition = "PolicyAllowed"
	// RemediationPlanVerifiedCondition is True when the target was healthy
	// after execution.
	RemediationPlanVerifiedCondition = "Verified"
	// RemediationPlanTargetResolvedCondition is True when the target was
	// found with the uid the Issue names, and recorded in
	// status.resolvedTarget.
	RemediationPlanTargetResolvedCondition = "TargetResolved"

	// RunbookValidCondition is True when every step passes the action policy.
	RunbookValidCondition = "Valid"

	// PostMortemReadyCondition is True when the report is written.
	PostMortemReadyCondition = "Ready"
)

// Condition reasons, CamelCase, each named for its cause.
const (
	InstanceAvailableReason     = "Available"
	InstanceProgressingReason   = "Progressing"
	InstanceSecretMissingReason = "SecretMissing"
	// InstanceConfigMapMissingReason means spec.agents names a ConfigMap
	// that does not exist; the operator waits for it.
	InstanceConfigMapMissingReason = "ConfigMapMissing"
	// InstanceScaledToZeroReason means spec.replicas is 0: nothing serves.
	InstanceScaledToZeroReason = "ScaledToZero"

	AnomalyCorrelatedReason = "Correlated"
	// AnomalyOutsideWindowReason means the Anomaly found no open Issue and
	// was detected longer ago than the correlation window, so it opens
	// none: a fault that persists raises a fresh Anomaly.
	AnomalyOutsideWindowReason = "OutsideCorrelationWindow"

	IssueIncidentIDAssignedReason  = "IncidentIDAssigned"
	IssueSequenceUnavailableReason = "SequenceUnavailable"
	IssueInsightRequestedReason    = "InsightRequested"
	IssueInsightReadyReason        = "InsightReady"
	IssueAnalysisFailedReason      = "AnalysisFailed"
	IssuePlanCompletedReason       = "PlanCompleted"
	IssuePlanFailedReason          = "PlanFailed"
	IssueAttemptsExhaustedReason   = "AttemptsExhausted"
	// IssueRetryingReason means an attempt failed and the next one is analysed
	// with its failure context.
	IssueRetryingReason = "Retrying"
	// IssueResourceMissingReason means the resource is gone, or was recreated
	// with another uid, so there is nothing the remediator may act on; the
	// Issue escalates.
	IssueResourceMissingReason = "ResourceMissing"
	// IssueRecurringReason means the problem recurred too often (the third
	// time in 24 hours), so the fixes do not hold; the Issue escalates.
	IssueRecurringReason = "Recurring"
	// IssuePlanRejectedReason means a person rejected the plan; the Issue
	// escalates.
	IssuePlanRejectedReason = "PlanRejected"
	// IssueApprovalExpiredReason means the plan's approval did not come in
	// time; the Issue escalates.
	IssueApprovalExpiredReason = "ApprovalExpired"
	// IssuePlanRefusedReason means the action policy refused the plan, or
	// every action a plan could hold; the Issue escalates.
	IssuePlanRefusedReason = "PlanRefused"
	// IssueNoPlanReason means no tier yields a plan: no matching Runbook,
	// no usable suggested action and no agentic mode; the Issue escalates.
	IssueNoPlanReason = "NoPlan"
	// IssueResolvedByRequestReason means a person resolved the Issue by
	// hand (CorrelatorService.ResolveIssue).
	IssueResolvedByRequestReason = "ResolvedByRequest"
	// IssueEscalationRequestedReason means a person escalated the Issue
	// (CorrelatorService.EscalateIssue).
	IssueEscalationRequestedReason = "EscalationRequested"
	// IssueRemediatingReason means a plan for the current attempt runs.
	IssueRemediatingReason = "Remediating"
	// IssueDedupReleasedReason and IssueDedupReleasePendingReason are the
	// reasons of the DedupReleased condition.
	IssueDedupReleasedReason       = "Released"
	IssueDedupReleasePendingReason = "ReleasePending"

	AIInsightAnalysisCompletedReason   = "AnalysisCompleted"
	AIInsightProviderUnavailableReason = "ProviderUnavailable"
	AIInsightInvalidResponseReason     = "InvalidResponse"
	// AIInsightBuiltinFallbackReason means the built-in analyzer answered
	// because no provider was configured, its budget was spent or it
	// failed; status.provider says BUILTIN.
	AIInsightBuiltinFallbackReason = "BuiltinFallback"
	// AIInsightBudgetExhaustedReason means the token budget of the incident or
	// the day is spent.
	AIInsightBudgetExhaustedReason = "BudgetExhausted"
	// AIInsightActionsRejectedReason means every suggested action was refused
	// by the action policy (see status.rejectedActions).
	AIInsightActionsRejectedReason = "ActionsRejected"
	// AIInsightAttemptSupersededReason means the Issue moved on to a later
	// attempt than spec.attempt, so the analysis is no longer wanted.
	AIInsightAttemptSupersededReason = "AttemptSuperseded"

	RemediationPlanApprovalRequiredReason    = "ApprovalRequired"
	RemediationPlanApprovedReason            = "Approved"
	RemediationPlanRejectedReason            = "Rejected"
	RemediationPlanPolicyDeniedReason        = "PolicyDenied"
	RemediationPlanPolicyPassedReason        = "PolicyPassed"
	RemediationPlanHealthyReason             = "Healthy"
	RemediationPlanVerificationFailedReason  = "VerificationFailed"
	RemediationPlanVerificationTimeoutReason = "VerificationTimeout"
	// RemediationPlanApprovalNotRequiredReason means spec.approval does not ask
	// for one, so the plan is approved by policy.
	RemediationPlanApprovalNotRequiredReason = "ApprovalNotRequired"
	// RemediationPlanApprovalExpiredReason means status.approval.expiresAt
	// passed without a decision.
	RemediationPlanApprovalExpiredReason = "ApprovalExpired"
	// RemediationPlanTargetFoundReason means the target exists with the
	// expected uid.
	RemediationPlanTargetFoundReason = "TargetFound"
	// RemediationPlanTargetMissingReason means the target is gone.
	RemediationPlanTargetMissingReason = "TargetMissing"
	// RemediationPlanTargetReplacedReason means an object of the target's kind
	// and name exists with another uid: it was recreated, and the plan
	// does not act on it.
	RemediationPlanTargetReplacedReason = "TargetReplaced"
	// RemediationPlanRolledBackReason means the snapshots were restored.
	RemediationPlanRolledBackReason = "RolledBack"
	// RemediationPlanRollbackFailedReason means a snapshot could not be
	// restored.
	RemediationPlanRollbackFailedReason = "RollbackFailed"

	RunbookStepsValidReason  = "StepsValid"
	RunbookStepRefusedReason = "StepRefused"

	PostMortemGeneratedReason = "Generated"
)
