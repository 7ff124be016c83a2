package grpcx

// Reasons of the analyzer's RPCs, which the AIInsight reconciler turns into
// the Ready condition's reason.
const (
	// ReasonInvalidResponse (Internal): the provider's answer was not the
	// JSON asked for, even after one repair request. Retrying the same
	// call is unlikely to help.
	ReasonInvalidResponse = "INVALID_RESPONSE"
	// ReasonProviderUnavailable (Unavailable or DeadlineExceeded): the
	// provider failed or did not answer in time.
	ReasonProviderUnavailable = "PROVIDER_UNAVAILABLE"
	// ReasonBudgetExhausted (ResourceExhausted): the token budget of the
	// incident or the day is spent.
	ReasonBudgetExhausted = "BUDGET_EXHAUSTED"
)
