package grpcx

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc/credentials"
)

// MinTokenLength is the shortest bearer token a server, an HTTP endpoint or
// a token file accepts, in bytes. `openssl rand -hex 32` makes a 64-byte
// token with 256 bits of entropy.
const MinTokenLength = 32

// Tokens are the bearer tokens an endpoint accepts: Current and, during a
// rotation, Next. Clients send Current.
//
// A token file holds one line (the current token) or two (current, then
// next). Rotating a Secret shared by servers and clients without a gap
// takes three writes, each waiting until every pod sees it (the kubelet
// takes up to a minute or two):
//
//  1. "old\nnew": servers accept both, clients still send old;
//  2. "new\nold": clients send new, servers still accept old;
//  3. "new": old is refused.
type Tokens struct {
	Current string
	Next    string
}

// Why a bearer check failed. The messages never hold a token.
var (
	// ErrNoTokenConfigured: the endpoint has no token and refuses everyone.
	ErrNoTokenConfigured = errors.New("no bearer token is configured")
	// ErrMissingToken: the request has no authorization header.
	ErrMissingToken = errors.New("missing bearer token")
	// ErrNotBearer: the header is not "Bearer <token>".
	ErrNotBearer = errors.New("authorization must use the Bearer scheme")
	// ErrInvalidToken: the token is neither Current nor Next.
	ErrInvalidToken = errors.New("invalid bearer token")
)

// Check reports whether header, an authorization header or metadata value,
// is "Bearer <token>" with Current or Next; the scheme is case insensitive
// (RFC 6750 follows RFC 7235 there). Tokens are compared as SHA-256 digests
// in constant time, so neither their content nor their length leaks
// through timing. Empty tokens never match: Tokens{} refuses everyone.
func (t Tokens) Check(header string) error {
	if t.Current == "" && t.Next == "" {
		return ErrNoTokenConfigured
	}
	if header == "" {
		return ErrMissingToken
	}
	got, ok := bearerToken(header)
	if !ok {
		return ErrNotBearer
	}
	if got == "" {
		return ErrInvalidToken
	}
	digest := sha256.Sum256([]byte(got))
	match := 0
	for _, want := range [...]string{t.Current, t.Next} {
		if want == "" {
			continue
		}
		wantDigest := sha256.Sum256([]byte(want))
		match |= subtle.ConstantTimeCompare(digest[:], wantDigest[:])
	}
	if match != 1 {
		return ErrInvalidToken
	}
	return nil
}

// Matches is Check(header) == nil.
func (t Tokens) Matches(header string) bool { return t.Check(header) == nil }

// BearerMatches reports whether header is "Bearer <want>", compared in
// constant time. An empty want matches nothing.
func BearerMatches(header, want string) bool {
	return Tokens{Current: want}.Matches(header)
}

// bearerToken extracts the token from "Bearer <token>"; the scheme is case
// insensitive.
func bearerToken(header string) (string, bool) {
	const scheme = "bearer "
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimSpace(header[len(scheme):]), true
}

// ValidateToken checks that token is fit to authenticate callers: at least
// MinTokenLength bytes of printable ASCII without spaces, which both HTTP
// headers and gRPC metadata carry unchanged. Its errors never hold the
// token.
func ValidateToken(token string) error {
	if len(token) < MinTokenLength {
		return fmt.Errorf("token is %d bytes, shorter than the minimum of %d: generate one with `openssl rand -hex 32`", len(token), MinTokenLength)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("token holds a space, control or non-ASCII byte at offset %d: use printable ASCII only", i)
		}
	}
	return nil
}

// parseTokens reads a token file: one line with the current token, or two
// with the current and the next, surrounding whitespace and blank lines
// ignored. Each token must pass ValidateToken.
func parseTokens(contents [][]byte) (Tokens, error) {
	var lines []string
	for _, line := range strings.Split(string(contents[0]), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	switch len(lines) {
	case 0:
		return Tokens{}, errors.New("token file is empty")
	case 1, 2:
	default:
		return Tokens{}, fmt.Errorf("token file holds %d tokens; want the current token and at most one next token, one per line", len(lines))
	}
	for i, token := range lines {
		if err := ValidateToken(token); err != nil {
			return Tokens{}, fmt.Errorf("%s token (line %d): %w", [...]string{"current", "next"}[i], i+1, err)
		}
	}
	t := Tokens{Current: lines[0]}
	if len(lines) == 2 {
		t.Next = lines[1]
	}
	return t, nil
}

// WatchTokenFile reads a token file (see Tokens for its format and
// ValidateToken for the rules each token must pass) and returns a function
// that answers the file's current tokens: it re-reads the file at most once
// a second and, when the new content is empty, unreadable or invalid, keeps
// the last good tokens; log hears of each reload and each new failure. A
// Secret rotated in its volume thus takes effect without a restart. The
// first read must succeed.
func WatchTokenFile(path string, log logr.Logger) (func() Tokens, error) {
	r, err := newFileReloader(DefaultCertReloadInterval, parseTokens, logReloads(log, "token"), path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	return r.get, nil
}

// ReadToken reads a token file once, such as a mounted Secret, and returns
// its current token (the first line); the file must pass the same checks as
// WatchTokenFile's.
func ReadToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	t, err := parseTokens([][]byte{data})
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	return t.Current, nil
}

// BearerTokenFile returns per-RPC credentials that send the current token
// of a token file (its first line) as "authorization: Bearer <token>". The
// file is re-read at most once a second, on a call, so a rotated Secret is
// used by the next call without a redial; a file that becomes empty,
// unreadable or invalid keeps the last good token, and log hears of it.
// Like BearerToken, they refuse to go over a connection without TLS.
func BearerTokenFile(path string, log logr.Logger) (credentials.PerRPCCredentials, error) {
	return newTokenFileCredentials(path, DefaultCertReloadInterval, logReloads(log, "token"))
}

func newTokenFileCredentials(path string, interval time.Duration, report func([]string, error)) (credentials.PerRPCCredentials, error) {
	r, err := newFileReloader(interval, parseTokens, report, path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	return tokenFileCredentials{tokens: r}, nil
}

type tokenFileCredentials struct {
	tokens *fileReloader[Tokens]
}

func (c tokenFileCredentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if err := requirePrivacy(ctx); err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + c.tokens.get().Current}, nil
}

func (tokenFileCredentials) RequireTransportSecurity() bool { return true }

// requirePrivacy refuses to attach a token to a call whose connection is
// not encrypted and authenticated.
func requirePrivacy(ctx context.Context) error {
	info, _ := credentials.RequestInfoFromContext(ctx)
	if err := credentials.CheckSecurityLevel(info.AuthInfo, credentials.PrivacyAndIntegrity); err != nil {
		return fmt.Errorf("send bearer token: %w", err)
	}
	return nil
}
