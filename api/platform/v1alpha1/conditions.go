package v1alpha1

// Condition types. Each is positive: True is the good state.
const (
	// InstanceReadyCondition is True when the server Deployment is available.
	InstanceReadyCondition = "Ready"

	// AnomalyCorrelatedCondition is True once the Anomaly belongs to an Issue.
	AnomalyCorrelatedCondition = "Correlated"

	// IssueAnalyzedCondition is True when a usable AIInsight exists.
	IssueAnalyzedCondition = "Analyzed"
	// IssueRemediatedCondition is True when a plan completed and verified.
	IssueRemediatedCondition = "Remediated"

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

	AnomalyCorrelatedReason = "Correlated"

	IssueInsightReadyReason      = "InsightReady"
	IssueAnalysisFailedReason    = "AnalysisFailed"
	IssuePlanCompletedReason     = "PlanCompleted"
	IssuePlanFailedReason        = "PlanFailed"
	IssueAttemptsExhaustedReason = "AttemptsExhausted"

	AIInsightAnalysisCompletedReason   = "AnalysisCompleted"
	AIInsightProviderUnavailableReason = "ProviderUnavailable"
	AIInsightInvalidResponseReason     = "InvalidResponse"

	RemediationPlanApprovalRequiredReason    = "ApprovalRequired"
	RemediationPlanApprovedReason            = "Approved"
	RemediationPlanRejectedReason            = "Rejected"
	RemediationPlanPolicyDeniedReason        = "PolicyDenied"
	RemediationPlanPolicyPassedReason        = "PolicyPassed"
	RemediationPlanHealthyReason             = "Healthy"
	RemediationPlanVerificationFailedReason  = "VerificationFailed"
	RemediationPlanVerificationTimeoutReason = "VerificationTimeout"

	RunbookStepsValidReason  = "StepsValid"
	RunbookStepRefusedReason = "StepRefused"

	PostMortemGeneratedReason = "Generated"
)
