package grpcx_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	"github.com/chatcli/aiops/libs/grpcx"
)

func TestTokensCheck(t *testing.T) {
	current, next := longToken("current"), longToken("next")
	rotating := grpcx.Tokens{Current: current, Next: next}
	cases := map[string]struct {
		reason string
		tokens grpcx.Tokens
		header string
		want   error
	}{
		"missing header":         {reason: "no header, no entry", tokens: rotating, want: grpcx.ErrMissingToken},
		"wrong scheme":           {reason: "only Bearer is understood", tokens: rotating, header: "Basic " + current, want: grpcx.ErrNotBearer},
		"no scheme":              {reason: "a bare token lacks the scheme", tokens: rotating, header: current, want: grpcx.ErrNotBearer},
		"scheme only":            {reason: "the scheme needs a token", tokens: rotating, header: "Bearer ", want: grpcx.ErrNotBearer},
		"blank token":            {reason: "spaces are no token", tokens: rotating, header: "Bearer   ", want: grpcx.ErrInvalidToken},
		"wrong token":            {reason: "a wrong token is refused", tokens: rotating, header: "Bearer " + current + "x", want: grpcx.ErrInvalidToken},
		"token prefix":           {reason: "a prefix of the token is refused", tokens: rotating, header: "Bearer " + current[:len(current)-1], want: grpcx.ErrInvalidToken},
		"right token":            {reason: "the current token enters", tokens: rotating, header: "Bearer " + current},
		"lower-case scheme":      {reason: "the scheme is case insensitive", tokens: rotating, header: "bearer " + current},
		"next token":             {reason: "during a rotation the next token enters too", tokens: rotating, header: "Bearer " + next},
		"next token, no rotate":  {reason: "without a rotation only the current token enters", tokens: grpcx.Tokens{Current: current}, header: "Bearer " + next, want: grpcx.ErrInvalidToken},
		"empty configured":       {reason: "an endpoint without a token refuses everyone", header: "Bearer " + current, want: grpcx.ErrNoTokenConfigured},
		"empty configured, bare": {reason: `not even "Bearer " gets through`, header: "Bearer ", want: grpcx.ErrNoTokenConfigured},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.tokens.Check(tc.header)
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: Check(%q) = %v, want %v", tc.reason, tc.header, err, tc.want)
			}
			if got := tc.tokens.Matches(tc.header); got != (tc.want == nil) {
				t.Errorf("%s: Matches = %v, want %v", tc.reason, got, tc.want == nil)
			}
			if tc.tokens.Next == "" {
				if got := grpcx.BearerMatches(tc.header, tc.tokens.Current); got != (tc.want == nil) {
					t.Errorf("%s: BearerMatches = %v, want %v", tc.reason, got, tc.want == nil)
				}
			}
		})
	}
}

func TestValidateToken(t *testing.T) {
	cases := map[string]struct {
		token   string
		wantErr string
	}{
		"exactly the minimum": {token: strings.Repeat("a", grpcx.MinTokenLength)},
		"hex of 32 bytes":     {token: strings.Repeat("0f", 32)},
		"one byte short":      {token: strings.Repeat("a", grpcx.MinTokenLength-1), wantErr: "token is 31 bytes, shorter than the minimum of 32"},
		"empty":               {wantErr: "token is 0 bytes"},
		"inner space":         {token: strings.Repeat("a", 20) + " " + strings.Repeat("b", 20), wantErr: "offset 20"},
		"non-ASCII":           {token: strings.Repeat("a", 32) + "é", wantErr: "offset 32"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := grpcx.ValidateToken(tc.token)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("ValidateToken: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ValidateToken error = %v, want one containing %q", err, tc.wantErr)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// TestWatchTokenFileRefusesShortTokensAtStart: a token below the minimum
// stops the service at start, with the rule in the error.
func TestWatchTokenFileRefusesShortTokensAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := grpcx.WatchTokenFile(path, logr.Discard())
	if err == nil || !strings.Contains(err.Error(), "shorter than the minimum of 32") {
		t.Errorf("WatchTokenFile error = %v, want the minimum length named", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows the token: %v", err)
	}
}

func TestWatchTokenFileReadsCurrentAndNext(t *testing.T) {
	current, next := longToken("current"), longToken("next")
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(current+"\n"+next+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := grpcx.WatchTokenFile(path, logr.Discard())
	if err != nil {
		t.Fatalf("WatchTokenFile: %v", err)
	}
	if got, want := tokens(), (grpcx.Tokens{Current: current, Next: next}); got != want {
		t.Errorf("tokens = %+v, want %+v", got, want)
	}
}
