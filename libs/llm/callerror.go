package llm

import (
	"errors"
	"fmt"
	"time"
)

// ErrorKind classifies a failed provider call, for retries, the breaker and
// the error metrics.
type ErrorKind string

const (
	// KindRateLimited: HTTP 429 or the provider's throttling error.
	KindRateLimited ErrorKind = "rate_limited"
	// KindServer: HTTP 5xx, or an overloaded provider.
	KindServer ErrorKind = "server"
	// KindTimeout: the call's deadline passed.
	KindTimeout ErrorKind = "timeout"
	// KindAuth: HTTP 401 or 403; retrying does not help.
	KindAuth ErrorKind = "auth"
	// KindBadRequest: another HTTP 4xx; retrying does not help.
	KindBadRequest ErrorKind = "bad_request"
	// KindNetwork: the connection failed or was cut.
	KindNetwork ErrorKind = "network"
	// KindEmpty: the provider answered without text.
	KindEmpty ErrorKind = "empty_answer"
)

// CallError is a failed provider call. It wraps ErrUnavailable, so callers
// that only ask "did the provider fail" need not know about it. Its message
// never holds the request or a key: only the provider, the kind and the
// status.
type CallError struct {
	Kind   ErrorKind
	Status int
	// RetryAfter is what the provider asked to wait, when it said.
	RetryAfter time.Duration
	// Detail is a short, key-free description (the provider's error type).
	Detail string
}

func (e *CallError) Error() string {
	msg := string(e.Kind)
	if e.Status != 0 {
		msg = fmt.Sprintf("%s (HTTP %d)", msg, e.Status)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap makes a CallError an ErrUnavailable.
func (e *CallError) Unwrap() error { return ErrUnavailable }

// Retryable says whether the same call may succeed later.
func (e *CallError) Retryable() bool {
	switch e.Kind {
	case KindRateLimited, KindServer, KindTimeout, KindNetwork:
		return true
	}
	return false
}

// KindOf returns the kind of a provider error, "other" when it has none.
func KindOf(err error) ErrorKind {
	var ce *CallError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ce):
		return ce.Kind
	case errors.Is(err, ErrNotConfigured):
		return "not_configured"
	case errors.Is(err, ErrBudgetExhausted):
		return "budget_exhausted"
	case errors.Is(err, ErrCircuitOpen):
		return "circuit_open"
	}
	return "other"
}

// ErrCircuitOpen: the provider failed too often lately and is not called
// until its breaker lets a probe through.
var ErrCircuitOpen = fmt.Errorf("circuit open: %w", ErrUnavailable)

// StatusKind classifies an HTTP status of a failed call.
func StatusKind(status int) ErrorKind {
	switch {
	case status == 429:
		return KindRateLimited
	case status == 401 || status == 403:
		return KindAuth
	case status == 408:
		return KindTimeout
	case status >= 500:
		return KindServer
	}
	return KindBadRequest
}
