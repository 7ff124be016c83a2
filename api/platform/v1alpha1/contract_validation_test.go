package v1alpha1_test

import (
	"fmt"
	"strings"
	"testing"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Timestamps for the cases, one minute apart.
const (
	t0 = `"2026-02-16T10:30:00Z"`
	t1 = `"2026-02-16T10:31:00Z"`
)

// long is a string of n characters.
func long(n int) string { return strings.Repeat("a", n) }

// TestContractRulesRefuse has one refused object for each rule and bound of
// the contract fields (attempts, approval, verification, recurrence, kinds);
// TestContractRulesAccept has the valid object next to it.
func TestContractRulesRefuse(t *testing.T) {
	expectRefused(t, map[string]refusal{
		// ActionParams, on every kind that carries them.
		"ParamNameWithASpace": {
			reason: "param names are identifiers",
			base:   validPlan, patch: `spec: {actions: [{type: RestartDeployment, params: {"bad key": x}}]}`,
			wantField: "spec.actions[0].params", wantMessage: "param names are 1-63 letters",
		},
		"ParamNameTooLong": {
			reason: "param names are at most 63 characters",
			base:   validRunbook, patch: fmt.Sprintf(`spec: {steps: [{name: s, action: RestartDeployment, params: {%s: x}}]}`, long(64)),
			wantField: "spec.steps[0].params", wantMessage: "param names are 1-63 letters",
		},
		"ParamValueTooLong": {
			reason: "param values are bounded",
			base:   validInsight, status: fmt.Sprintf(`status: {suggestedActions: [{action: RestartDeployment, params: {reason: %s}}]}`, long(8193)),
			wantField: "status.suggestedActions[0].params", wantMessage: "param values are at most 8192 characters",
		},

		// ResourceReference.
		"APIVersionWithoutVersion": {
			reason: "an apiVersion ends in a version",
			base:   validIssue, patch: `spec: {resource: {apiVersion: apps}}`,
			wantField: "spec.resource.apiVersion", wantMessage: "should match",
		},
		"UIDTooLong": {
			reason: "uids are bounded",
			base:   validIssue, patch: fmt.Sprintf(`spec: {resource: {uid: %s}}`, long(129)),
			wantField: "spec.resource.uid", wantMessage: "Too long",
		},
		"IssueResourceUIDChanged": {
			reason: "an Issue stays about the object it was opened for",
			base:   validIssue, patch: `spec: {resource: {uid: 6f1c6b0e-0000-4000-8000-000000000001}}`,
			update:    `spec: {resource: {uid: 6f1c6b0e-0000-4000-8000-000000000002}}`,
			wantField: "spec.resource", wantMessage: "resource is immutable",
		},
		"AnomalyOfAConfigMap": {
			reason: "an Anomaly is about a kind the platform watches",
			base:   validAnomaly, patch: `spec: {resource: {kind: ConfigMap}}`,
			wantField: "spec.resource", wantMessage: "kind is not one the platform watches",
		},

		// TimelineEntry.
		"TransitionWithoutToState": {
			reason: "a transition names both states",
			base:   validIssue, status: fmt.Sprintf(`status: {timeline: [{timestamp: %s, type: analyzing, fromState: Detected}]}`, t0),
			wantField: "status.timeline[0]", wantMessage: "fromState and toState are set together",
		},
		"TimelineUnknownState": {
			reason: "timeline states are Issue states",
			base:   validIssue, status: fmt.Sprintf(`status: {timeline: [{timestamp: %s, type: x, fromState: Detected, toState: Fixed}]}`, t0),
			wantField: "status.timeline[0].toState", wantMessage: `Unsupported value: "Fixed"`,
		},
		"TimelineAttemptBeyondTen": {
			reason: "there are at most 10 attempts",
			base:   validIssue, status: fmt.Sprintf(`status: {timeline: [{timestamp: %s, type: x, attempt: 11}]}`, t0),
			wantField: "status.timeline[0].attempt", wantMessage: "should be less than or equal to 10",
		},
		"TimelineObjectTooLong": {
			reason: "object names are at most 253 characters",
			base:   validPostMortem, status: fmt.Sprintf(`status: {timeline: [{timestamp: %s, type: x, object: %s}]}`, t0, long(254)),
			wantField: "status.timeline[0].object", wantMessage: "Too long",
		},

		// Issue status.
		"AttemptOutcomeWithoutEnd": {
			reason: "an attempt has an outcome when, and only when, it ended",
			base:   validIssue, status: fmt.Sprintf(`status: {attempts: [{attempt: 1, startedAt: %s, outcome: Failed}]}`, t0),
			wantField: "status.attempts[0]", wantMessage: "outcome and endedAt are set together",
		},
		"AttemptEndedBeforeStart": {
			reason: "time runs forward",
			base:   validIssue, status: fmt.Sprintf(`status: {attempts: [{attempt: 1, startedAt: %s, endedAt: %s, outcome: Failed}]}`, t1, t0),
			wantField: "status.attempts[0]", wantMessage: "endedAt cannot be before startedAt",
		},
		"AttemptNumberTwice": {
			reason: "attempts are keyed by their number",
			base:   validIssue, status: `status: {attempts: [{attempt: 1}, {attempt: 1}]}`,
			wantField: "status.attempts[1]", wantMessage: "Duplicate value",
		},
		"UnknownAttemptOutcome": {
			reason: "attempt outcomes are a closed set",
			base:   validIssue, status: fmt.Sprintf(`status: {attempts: [{attempt: 1, endedAt: %s, outcome: Meh}]}`, t0),
			wantField: "status.attempts[0].outcome", wantMessage: `Unsupported value: "Meh"`,
		},
		"AttemptFailureContextTooLong": {
			reason: "the failure context given to the next analysis is bounded",
			base:   validIssue, status: fmt.Sprintf(`status: {attempts: [{attempt: 1, failureContext: %s}]}`, long(8193)),
			wantField: "status.attempts[0].failureContext", wantMessage: "Too long",
		},
		"RecurrenceOfChanged": {
			reason: "an Issue recurs one earlier Issue, for good",
			base:   validIssue, before: `status: {state: Detected, recurrenceOf: {name: api-issue-1}}`,
			status:    `status: {recurrenceOf: {name: api-issue-2}}`,
			wantField: "status", wantMessage: "recurrenceOf cannot be changed or removed once set",
		},
		"RecurrenceOfRemoved": {
			reason: "an Issue recurs one earlier Issue, for good",
			base:   validIssue, before: `status: {state: Detected, recurrenceOf: {name: api-issue-1}}`,
			status:    `status: {recurrenceOf: null}`,
			wantField: "status", wantMessage: "recurrenceOf cannot be changed or removed once set",
		},
		"EscalationReasonOnAnOpenIssue": {
			reason: "only an escalated Issue has an escalation reason",
			base:   validIssue, status: `status: {state: Remediating, escalationReason: AttemptsExhausted}`,
			wantField: "status", wantMessage: "escalationReason is set only on an Escalated Issue",
		},
		"EscalationReasonNotCamelCase": {
			reason: "the escalation reason is a machine-readable reason",
			base:   validIssue, status: `status: {state: Escalated, escalationReason: "it broke"}`,
			wantField: "status.escalationReason", wantMessage: "should match",
		},
		"RelatedAnomalyNameTooLong": {
			reason: "related anomalies are object names",
			base:   validIssue, status: fmt.Sprintf(`status: {relatedAnomalies: [%s]}`, long(254)),
			wantField: "status.relatedAnomalies[0]", wantMessage: "Too long",
		},

		// AIInsight.
		"InsightAttemptChanged": {
			reason: "an analysis serves one attempt",
			base:   validInsight, patch: `spec: {attempt: 1}`, update: `spec: {attempt: 2}`,
			wantField: "spec", wantMessage: "attempt is immutable once set",
		},
		"InsightAttemptRemoved": {
			reason: "an analysis serves one attempt",
			base:   validInsight, patch: `spec: {attempt: 1}`, update: `spec: {attempt: null}`,
			wantField: "spec", wantMessage: "attempt is immutable once set",
		},
		"InsightAttemptZero": {
			reason: "attempts count from 1",
			base:   validInsight, patch: `spec: {attempt: 0}`,
			wantField: "spec.attempt", wantMessage: "should be greater than or equal to 1",
		},
		"InsightFailureContextTooLong": {
			reason: "the failure context is bounded",
			base:   validInsight, patch: fmt.Sprintf(`spec: {failureContext: %s}`, long(8193)),
			wantField: "spec.failureContext", wantMessage: "Too long",
		},
		"RejectedActionWithoutReason": {
			reason: "a refusal says why",
			base:   validInsight, status: `status: {rejectedActions: [{action: NukeCluster}]}`,
			wantField: "status.rejectedActions[0].reason", wantMessage: "Required value",
		},
		"RecommendationTooLong": {
			reason: "recommendations are bounded",
			base:   validInsight, status: fmt.Sprintf(`status: {recommendations: [%s]}`, long(4097)),
			wantField: "status.recommendations[0]", wantMessage: "Too long",
		},
		"TooManyRecommendations": {
			reason: "lists are bounded",
			base:   validInsight, status: `status: {recommendations: [` + strings.Repeat("r,", 32) + `r]}`,
			wantField: "status.recommendations", wantMessage: "must have at most 32 items",
		},
		"UnknownUsedProvider": {
			reason: "the provider used is a provider",
			base:   validInsight, status: `status: {provider: SKYNET}`,
			wantField: "status.provider", wantMessage: `Unsupported value: "SKYNET"`,
		},

		// RemediationPlan spec.
		"ApprovalLifted": {
			reason: "nobody can lift the approval requirement from a waiting plan",
			base:   validPlan, patch: `spec: {approval: {required: true}}`, update: `spec: {approval: {required: false}}`,
			wantField: "spec", wantMessage: "approval is immutable",
		},
		"ApprovalRemoved": {
			reason: "nobody can lift the approval requirement from a waiting plan",
			base:   validPlan, patch: `spec: {approval: {required: true}}`, update: `spec: {approval: null}`,
			wantField: "spec", wantMessage: "approval is immutable",
		},
		"AgenticStepNumberTwice": {
			reason: "agentic steps are keyed by their number",
			base:   validPlan, patch: `spec: {agenticMode: true, agenticHistory: [{stepNumber: 1}, {stepNumber: 1}]}`,
			wantField: "spec.agenticHistory[1]", wantMessage: "Duplicate value",
		},
		"SafetyConstraintTooLong": {
			reason: "safety constraints are bounded",
			base:   validPlan, patch: fmt.Sprintf(`spec: {safetyConstraints: [%s]}`, long(1025)),
			wantField: "spec.safetyConstraints[0]", wantMessage: "Too long",
		},

		// RemediationPlan status.
		"ApprovedAndRejected": {
			reason: "a decision is one or the other",
			base:   validPlan, status: fmt.Sprintf(`status: {approval: {approvedBy: alice, approvedAt: %s, rejectedBy: bob, rejectedAt: %s}}`, t0, t1),
			wantField: "status.approval", wantMessage: "a plan is approved or rejected, not both",
		},
		"ApprovedByNobody": {
			reason: "an approval names who gave it",
			base:   validPlan, status: fmt.Sprintf(`status: {approval: {approvedAt: %s}}`, t0),
			wantField: "status.approval", wantMessage: "approvedBy and approvedAt are set together",
		},
		"RejectedByNobody": {
			reason: "a rejection names who gave it",
			base:   validPlan, status: `status: {approval: {rejectedBy: bob}}`,
			wantField: "status.approval", wantMessage: "rejectedBy and rejectedAt are set together",
		},
		"ApproverChanged": {
			reason: "a recorded approval is audit evidence",
			base:   validPlan, before: fmt.Sprintf(`status: {state: Executing, approval: {approvedBy: alice, approvedAt: %s}}`, t0),
			status:    `status: {approval: {approvedBy: mallory}}`,
			wantField: "status.approval", wantMessage: "an approval cannot be changed or withdrawn",
		},
		"RejectionWithdrawn": {
			reason: "a recorded rejection is audit evidence",
			base:   validPlan, before: fmt.Sprintf(`status: {state: Failed, approval: {rejectedBy: bob, rejectedAt: %s, reason: risky}}`, t0),
			status:    `status: {approval: {rejectedBy: null, rejectedAt: null}}`,
			wantField: "status.approval", wantMessage: "a rejection cannot be changed or withdrawn",
		},
		"ApprovalStatusRemoved": {
			reason: "a recorded decision stays",
			base:   validPlan, before: fmt.Sprintf(`status: {approval: {approvedBy: alice, approvedAt: %s}}`, t0),
			status:    `status: {approval: null}`,
			wantField: "status", wantMessage: "approval cannot be removed",
		},
		"ApprovalReasonTooLong": {
			reason: "the reason of a decision is bounded",
			base:   validPlan, status: fmt.Sprintf(`status: {approval: {reason: %s}}`, long(1025)),
			wantField: "status.approval.reason", wantMessage: "Too long",
		},
		"ResolvedTargetWithoutUID": {
			reason: "the remediator acts only on the object it resolved, by uid",
			base:   validPlan, status: `status: {resolvedTarget: {kind: Deployment, name: api, namespace: validation}}`,
			wantField: "status.resolvedTarget", wantMessage: "resolvedTarget needs the uid of the object",
		},
		"ResolvedTargetChanged": {
			reason: "a plan acts on one object",
			base:   validPlan, before: `status: {resolvedTarget: {kind: Deployment, name: api, namespace: validation, uid: u-1}}`,
			status:    `status: {resolvedTarget: {uid: u-2}}`,
			wantField: "status.resolvedTarget", wantMessage: "resolvedTarget is immutable",
		},
		"ResolvedTargetRemoved": {
			reason: "a plan acts on one object",
			base:   validPlan, before: `status: {resolvedTarget: {kind: Deployment, name: api, namespace: validation, uid: u-1}}`,
			status:    `status: {resolvedTarget: null}`,
			wantField: "status", wantMessage: "resolvedTarget cannot be removed",
		},
		"NegativeActionIndex": {
			reason: "indexes count from 0",
			base:   validPlan, status: `status: {currentActionIndex: -1}`,
			wantField: "status.currentActionIndex", wantMessage: "should be greater than or equal to 0",
		},
		"UnknownActionOutcome": {
			reason: "action outcomes are the seed's four",
			base:   validPlan, status: `status: {actionResults: [{type: RestartDeployment, result: partial}]}`,
			wantField: "status.actionResults[0].result", wantMessage: `Unsupported value: "partial"`,
		},
		"SnapshotTooLong": {
			reason: "snapshots are bounded",
			base:   validPlan, status: fmt.Sprintf(`status: {actionResults: [{type: RestartDeployment, result: success, snapshot: %s}]}`, long(16385)),
			wantField: "status.actionResults[0].snapshot", wantMessage: "Too long",
		},
		"UnknownRollbackOutcome": {
			reason: "rollback outcomes are action outcomes",
			base:   validPlan, status: `status: {rollbackResults: [{type: RestartDeployment, result: undone}]}`,
			wantField: "status.rollbackResults[0].result", wantMessage: `Unsupported value: "undone"`,
		},
		"VerificationDeadlineBeforeStart": {
			reason: "time runs forward",
			base:   validPlan, status: fmt.Sprintf(`status: {verification: {startedAt: %s, deadline: %s}}`, t1, t0),
			wantField: "status.verification", wantMessage: "deadline cannot be before startedAt",
		},
		"VerificationCheckTwice": {
			reason: "checks are keyed by name",
			base:   validPlan, status: `status: {verification: {checks: [{name: rollout}, {name: rollout}]}}`,
			wantField: "status.verification.checks[1]", wantMessage: "Duplicate value",
		},

		// Runbook.
		"ManualRunbookPromotedFromAPlan": {
			reason: "only a generated Runbook comes from a plan",
			base:   validRunbook, patch: `spec: {promotedFrom: {name: api-plan-1}}`,
			wantField: "spec", wantMessage: "promotedFrom is only for Generated Runbooks",
		},
		"RunbookOriginChanged": {
			reason: "a generated Runbook cannot pass for a manual one",
			base:   validRunbook, patch: `spec: {origin: Generated}`, update: `spec: {origin: Manual}`,
			wantField: "spec.origin", wantMessage: "origin is immutable",
		},
		"UnknownRunbookOrigin": {
			reason: "origins are Manual and Generated",
			base:   validRunbook, patch: `spec: {origin: Imported}`,
			wantField: "spec.origin", wantMessage: `Unsupported value: "Imported"`,
		},
		"MoreOutcomesThanUses": {
			reason: "every outcome is of a plan made from the Runbook",
			base:   validRunbook, status: `status: {timesUsed: 2, timesSucceeded: 2, timesFailed: 1}`,
			wantField: "status", wantMessage: "timesSucceeded and timesFailed together cannot exceed timesUsed",
		},
		"MoreRecurrencesThanSuccesses": {
			reason: "only a fix that held for a while can recur",
			base:   validRunbook, status: `status: {timesUsed: 2, timesSucceeded: 1, timesRecurred: 2}`,
			wantField: "status", wantMessage: "timesRecurred cannot exceed timesSucceeded",
		},
		"NegativeTimesUsed": {
			reason: "counters count up from 0",
			base:   validRunbook, status: `status: {timesUsed: -1}`,
			wantField: "status.timesUsed", wantMessage: "should be greater than or equal to 0",
		},

		// PostMortem.
		"DurationNotAGoDuration": {
			reason: "the duration is a Go duration, as the seed writes it",
			base:   validPostMortem, status: `status: {duration: "two minutes"}`,
			wantField: "status.duration", wantMessage: "should match",
		},
		"BadIncidentID": {
			reason: "incident ids are INC-YYYYMMDD-NNN",
			base:   validPostMortem, patch: `spec: {incidentID: INC-1}`,
			wantField: "spec.incidentID", wantMessage: "should match",
		},
		"PlanRefTwice": {
			reason: "plan references are keyed by name",
			base:   validPostMortem, patch: `spec: {planRefs: [{name: p1}, {name: p1}]}`,
			wantField: "spec.planRefs[1]", wantMessage: "Duplicate value",
		},
		"LessonTooLong": {
			reason: "lessons are bounded",
			base:   validPostMortem, status: fmt.Sprintf(`status: {lessonsLearned: [%s]}`, long(4097)),
			wantField: "status.lessonsLearned[0]", wantMessage: "Too long",
		},
		"UnknownExecutedOutcome": {
			reason: "executed actions have action outcomes",
			base:   validPostMortem, status: `status: {actionsExecuted: [{action: RestartDeployment, result: great}]}`,
			wantField: "status.actionsExecuted[0].result", wantMessage: `Unsupported value: "great"`,
		},

		// Instance.
		"WatchTargetTwice": {
			reason: "a target is keyed by namespace, name and kind, and kind defaults to Deployment",
			base:   validInstance, patch: `spec: {watcher: {targets: [{name: api, namespace: prod}, {name: api, namespace: prod, kind: Deployment}]}}`,
			wantField: "spec.watcher.targets[1]", wantMessage: "Duplicate value",
		},
	})
}

// TestContractRulesAccept holds the valid side of each rule in
// TestContractRulesRefuse, so that no rule is stricter than the services
// need.
func TestContractRulesAccept(t *testing.T) {
	tests := map[string]acceptance{
		"LongestParams": {
			reason: "a 63-character name and an 8192-character value (a manifest) fit",
			base:   validPlan, patch: fmt.Sprintf(`spec: {actions: [{type: ApplyManifest, params: {%s: %s, memory_limit: 1Gi, app.kubernetes.io-x: "y"}}]}`, long(63), long(8192)),
		},
		"ResourceWithAPIVersionAndUID": {
			reason: "the remediator names the diagnosed object exactly",
			base:   validIssue, patch: `spec: {resource: {apiVersion: apps/v1, uid: 6f1c6b0e-0000-4000-8000-000000000001}}`,
		},
		"ResourceOfACustomGroup": {
			reason: "an Argo Rollout is apps of another group",
			base:   validAnomaly, patch: `spec: {resource: {kind: Rollout, apiVersion: argoproj.io/v1alpha1}}`,
		},
		"CoreAPIVersion": {
			reason: "core kinds have a bare version",
			base:   validAnomaly, patch: `spec: {resource: {kind: Pod, apiVersion: v1}}`,
		},
		"IssueLifecycle": {
			reason: "the correlator stamps transitions and attempts as the design says",
			base:   validIssue,
			status: fmt.Sprintf(`status: {state: Analyzing, stateTransitionTime: %s, remediationAttempts: 1, recurrenceOf: {name: api-issue-0},
  attempts: [{attempt: 1, insightRef: {name: i1}, startedAt: %s}],
  timeline: [{timestamp: %s, type: analyzing, fromState: Detected, toState: Analyzing, attempt: 1, object: i1}]}`, t0, t0, t0),
			then: fmt.Sprintf(`status: {state: Escalated, escalationReason: AttemptsExhausted, escalatedAt: %s, postMortemRef: {name: pm-1},
  attempts: [{attempt: 1, insightRef: {name: i1}, planRef: {name: p1}, strategy: runbook high-error-rate, startedAt: %s, endedAt: %s, outcome: RolledBack, failureContext: pods still restarting},
             {attempt: 2, startedAt: %s, endedAt: %s, outcome: Expired}]}`, t1, t0, t1, t1, t1),
		},
		"InsightAttemptSetLater": {
			reason: "an older writer may create the AIInsight first and the attempt is set once",
			base:   validInsight, update: `spec: {attempt: 2, failureContext: "attempt 1 rolled back"}`,
		},
		"InsightStatusWithRejections": {
			reason: "the analyzer records what it used and what the policy refused",
			base:   validInsight, patch: `spec: {provider: CLAUDEAI, attempt: 1}`,
			status: fmt.Sprintf(`status: {provider: BUILTIN, model: rules-v1, recommendations: [%s],
  rejectedActions: [{action: NukeCluster, params: {scope: all}, reason: not in the catalogue}]}`, long(4096)),
		},
		"PlanApprovedOnce": {
			reason: "the remediator records the request, then the decision, then execution",
			base:   validPlan, patch: `spec: {approval: {required: true}, safetyConstraints: [No delete operations]}`,
			status: fmt.Sprintf(`status: {state: WaitingApproval, approval: {requestedAt: %s, expiresAt: %s}}`, t0, t1),
			then: fmt.Sprintf(`status: {state: Verifying, approval: {requestedAt: %s, expiresAt: %s, generation: 1, approvedBy: alice, approvedAt: %s, reason: looks safe},
  resolvedTarget: {apiVersion: apps/v1, kind: Deployment, name: api, namespace: validation, uid: u-1},
  currentActionIndex: 0,
  actionResults: [{index: 0, type: RestartDeployment, result: success, startedAt: %s, timestamp: %s, snapshot: %s}],
  verification: {startedAt: %s, deadline: %s, checks: [{name: rollout, healthy: true}, {name: restarts, message: watching}]}}`, t0, t1, t0, t0, t0, long(16384), t0, t1),
		},
		"PlanRolledBack": {
			reason: "a failed verification rolls back and says so",
			base:   validPlan,
			status: fmt.Sprintf(`status: {state: RolledBack, verification: {startedAt: %s, deadline: %s, healthy: false, message: still crashing},
  actionResults: [{index: 0, type: RestartDeployment, result: rolled_back}],
  rollbackResults: [{index: 0, type: RestartDeployment, result: success}]}`, t0, t1),
		},
		"PlanRejected": {
			reason: "a rejection is recorded once",
			base:   validPlan,
			status: fmt.Sprintf(`status: {state: Failed, approval: {rejectedBy: bob, rejectedAt: %s, reason: risky}}`, t0),
		},
		"GeneratedRunbook": {
			reason: "the remediator promotes a successful plan",
			base:   validRunbook, patch: `spec: {origin: Generated, promotedFrom: {name: api-plan-1}}`,
			status: fmt.Sprintf(`status: {timesUsed: 5, timesSucceeded: 3, timesFailed: 2, timesRecurred: 1, lastSucceededAt: %s}`, t0),
		},
		"PostMortemWithRefs": {
			reason: "the postmortem-writer names what it was rebuilt from",
			base:   validPostMortem, patch: `spec: {incidentID: INC-20260216-001, insightRef: {name: i1}, planRefs: [{name: p1}, {name: p2}]}`,
			status: `status: {duration: 1h2m3.5s, runbookRef: {name: rb-1}, actionsExecuted: [{action: RestartDeployment, result: skipped}]}`,
		},
		"SameTargetOfTwoKinds": {
			reason: "a Deployment and a StatefulSet may share a name",
			base:   validInstance, patch: `spec: {watcher: {targets: [{name: api, namespace: prod}, {name: api, namespace: prod, kind: StatefulSet}]}}`,
		},
	}
	// Every kind of the allowlist, so that the Go list and the CEL rule
	// cannot drift apart in the accepting direction either.
	for _, kind := range platformv1alpha1.AnomalyResourceKinds {
		tests["AnomalyOf"+kind] = acceptance{
			reason: kind + " is in AnomalyResourceKinds",
			base:   validAnomaly, patch: fmt.Sprintf(`spec: {resource: {kind: %s}}`, kind),
		}
	}
	expectAccepted(t, tests)
}
