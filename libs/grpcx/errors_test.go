package grpcx_test

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chatcli/aiops/libs/grpcx"
)

// TestErrorInfoCrossesTheWire: the reason and metadata a handler puts in
// an error reach the caller over a real TLS connection, through the
// interceptors, and survive wrapping on the caller's side.
func TestErrorInfoCrossesTheWire(t *testing.T) {
	pki := newPKI(t)
	ts := startServer(t, pki, nil)
	conn := dial(t, ts.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken})

	err := call(conn, refuseMethod)
	got := map[string]any{
		"code":     status.Code(err),
		"message":  status.Convert(err).Message(),
		"reason":   grpcx.Reason(err),
		"metadata": grpcx.ErrorMetadata(err),
		"domain":   grpcx.ErrorInfo(err).GetDomain(),
	}
	want := map[string]any{
		"code":     codes.FailedPrecondition,
		"message":  "issue web-oom used its 3 remediation attempts",
		"reason":   grpcx.ReasonAttemptsExhausted,
		"metadata": map[string]string{"max_attempts": "3", "issue": "web-oom"},
		"domain":   "platform.chatcli.io",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error received (-want +got):\n%s", diff)
	}
	if wrapped := fmt.Errorf("propose plan: %w", err); grpcx.Reason(wrapped) != grpcx.ReasonAttemptsExhausted {
		t.Errorf("Reason of a wrapped error = %q, want %q", grpcx.Reason(wrapped), grpcx.ReasonAttemptsExhausted)
	}
}

func TestReasonWithoutErrorInfo(t *testing.T) {
	foreign, err := status.New(codes.FailedPrecondition, "x").WithDetails(status.New(codes.Internal, "not ErrorInfo").Proto())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]error{
		"nil":             nil,
		"plain error":     errors.New("boom"),
		"status, no info": status.Error(codes.NotFound, "gone"),
		"other detail":    foreign.Err(),
	}
	for name, err := range cases {
		t.Run(name, func(t *testing.T) {
			if got := grpcx.Reason(err); got != "" {
				t.Errorf("Reason = %q, want none", got)
			}
			if got := grpcx.ErrorMetadata(err); got != nil {
				t.Errorf("ErrorMetadata = %v, want nil", got)
			}
		})
	}
}

// TestReasonsAreWellFormed checks every reason against the format
// google.rpc.ErrorInfo prescribes: UPPER_SNAKE_CASE, at most 63 characters.
func TestReasonsAreWellFormed(t *testing.T) {
	format := regexp.MustCompile(`^[A-Z][A-Z0-9_]+[A-Z0-9]$`)
	reasons := []string{
		grpcx.ReasonAttemptsExhausted, grpcx.ReasonIssueNotRemediating, grpcx.ReasonPlanRefusedByPolicy,
		grpcx.ReasonApprovalStale, grpcx.ReasonResourceGone, grpcx.ReasonProviderNotConfigured,
		grpcx.ReasonRedisUnavailable, grpcx.ReasonRateLimited, grpcx.ReasonIssueResolved, grpcx.ReasonResolveRequested,
		grpcx.ReasonPlanInProgress, grpcx.ReasonInvalidPageToken,
	}
	seen := map[string]bool{}
	for _, r := range reasons {
		if !format.MatchString(r) || len(r) > 63 {
			t.Errorf("reason %q is not UPPER_SNAKE_CASE of at most 63 characters", r)
		}
		if seen[r] {
			t.Errorf("reason %q is declared twice", r)
		}
		seen[r] = true
	}
}
