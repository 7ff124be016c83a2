package grpcx

import (
	"maps"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of the platform's errors.
const ErrorDomain = "platform.chatcli.io"

// Reasons are the google.rpc.ErrorInfo reasons the platform's services
// return, so that a caller can act on why a call failed without parsing
// its message. Each is listed with the code it comes with. A reason names
// a cause and never changes meaning; add a new one rather than widen one.
const (
	// ReasonAttemptsExhausted (FailedPrecondition): the Issue has used
	// every remediation attempt it is allowed; metadata "max_attempts".
	ReasonAttemptsExhausted = "ATTEMPTS_EXHAUSTED"
	// ReasonIssueNotRemediating (FailedPrecondition): the Issue is not in
	// the Remediating state, so no plan may be proposed; metadata "state".
	ReasonIssueNotRemediating = "ISSUE_NOT_REMEDIATING"
	// ReasonPlanRefusedByPolicy (FailedPrecondition): the action policy
	// denies the plan; metadata "rule" names the rule that refused it.
	ReasonPlanRefusedByPolicy = "PLAN_REFUSED_BY_POLICY"
	// ReasonNoPlan (FailedPrecondition): no tier yields a plan (no
	// matching Runbook, no usable suggested action, agentic mode off by
	// policy); metadata "detail" says which. The Issue escalates.
	ReasonNoPlan = "NO_PLAN"
	// ReasonApprovalStale (FailedPrecondition): the plan was decided, or
	// is past approval, so the approval or rejection cannot apply.
	ReasonApprovalStale = "APPROVAL_STALE"
	// ReasonResourceGone (NotFound or FailedPrecondition): the object a
	// call is about was deleted, or recreated with another UID.
	ReasonResourceGone = "RESOURCE_GONE"
	// ReasonProviderNotConfigured (FailedPrecondition): the LLM provider
	// has no credentials.
	ReasonProviderNotConfigured = "PROVIDER_NOT_CONFIGURED"
	// ReasonRedisUnavailable (Unavailable): Redis, which holds the locks
	// and counters the call needs, cannot be reached; retry with backoff.
	ReasonRedisUnavailable = "REDIS_UNAVAILABLE"
	// ReasonRateLimited (ResourceExhausted): a rate limit refused the
	// call; metadata "limit" is "peer" (the caller's bucket) or "server"
	// (the server-wide one). Retry with backoff.
	ReasonRateLimited = "RATE_LIMITED"
	// ReasonIssueResolved (FailedPrecondition): the Issue is Resolved, so
	// it cannot be acknowledged or escalated.
	ReasonIssueResolved = "ISSUE_RESOLVED"
	// ReasonResolveRequested (FailedPrecondition): a resolve request is
	// recorded on the Issue, so it cannot be escalated.
	ReasonResolveRequested = "RESOLVE_REQUESTED"
	// ReasonPlanInProgress (FailedPrecondition): a RemediationPlan of the
	// Issue is Executing or Verifying; metadata "plan" and "state".
	ReasonPlanInProgress = "PLAN_IN_PROGRESS"
	// ReasonInvalidPageToken (InvalidArgument): the page token was not
	// issued by the server, or was issued for other filters.
	ReasonInvalidPageToken = "INVALID_PAGE_TOKEN"
)

// Error returns a status error with code and msg and a google.rpc.ErrorInfo
// detail of ErrorDomain with reason and metadata, which may be nil. The
// message is for people; callers branch on Reason.
func Error(code codes.Code, reason, msg string, metadata map[string]string) error {
	st := status.New(code, msg)
	withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: maps.Clone(metadata)})
	if err != nil {
		// Only a nil detail or an OK code fails here; the caller still
		// gets its code and message.
		return st.Err()
	}
	return withInfo.Err()
}

// ErrorInfo returns the ErrorInfo detail of ErrorDomain in err, which may
// be wrapped, or nil.
func ErrorInfo(err error) *errdetails.ErrorInfo {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain {
			return info
		}
	}
	return nil
}

// Reason returns the ErrorInfo reason of ErrorDomain in err, or "" when err
// carries none.
func Reason(err error) string {
	return ErrorInfo(err).GetReason()
}

// ErrorMetadata returns the ErrorInfo metadata of ErrorDomain in err, or
// nil.
func ErrorMetadata(err error) map[string]string {
	return ErrorInfo(err).GetMetadata()
}
