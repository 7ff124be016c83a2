package scrub

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// jwtWith builds an unsigned-looking JWT with the given payload.
func jwtWith(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"abc"}`)) + "." + enc([]byte(payload)) + ".c2lnbmF0dXJlLXNpZ25hdHVyZQ"
}

func TestScrubCategories(t *testing.T) {
	saToken := jwtWith(`{"iss":"kubernetes/serviceaccount","kubernetes.io/serviceaccount/namespace":"default"}`)
	userJWT := jwtWith(`{"sub":"1234567890","name":"John","iat":1516239022}`)
	tests := map[string]struct {
		reason string
		in     string
		want   string
	}{
		// aws_key
		"aws key":           {"an access key id", "key AKIAIOSFODNN7EXAMPLE used", "key [REDACTED:aws_key] used"},
		"aws temporary key": {"STS keys start with ASIA", "id=ASIAIOSFODNN7EXAMPL2", "id=[REDACTED:aws_key]"},
		"aws key near-miss": {"too short to be a key id", "AKIAIOSFODNN7EXAM", "AKIAIOSFODNN7EXAM"},
		"aws key lowercase": {"key ids are upper case", "akiaiosfodnn7example", "akiaiosfodnn7example"},
		// aws_secret
		"aws secret":           {"the secret key after its name", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", "aws_secret_access_key = [REDACTED:aws_secret]"},
		"aws secret env":       {"upper case env var", "AWS_SECRET_ACCESS_KEY=abcdefghijklmnopqrst", "AWS_SECRET_ACCESS_KEY=[REDACTED:aws_secret]"},
		"aws secret near-miss": {"no value", "set aws_secret_access_key in the config", "set aws_secret_access_key in the config"},
		// jwt
		"jwt":           {"a user token", "got " + userJWT + " ok", "got [REDACTED:jwt] ok"},
		"jwt near-miss": {"eyJ alone is no token", "eyJhbGciOiJIUzI1NiJ9 alone", "eyJhbGciOiJIUzI1NiJ9 alone"},
		// k8s_sa_token
		"k8s sa token": {"a service account token", "t=" + saToken, "t=[REDACTED:k8s_sa_token]"},
		// bearer
		"bearer":           {"an Authorization header", "Authorization: Bearer abc123def456ghi", "Authorization: Bearer [REDACTED:bearer]"},
		"bearer lower":     {"any case", "authorization: bearer abc123def456ghi", "authorization: bearer [REDACTED:bearer]"},
		"bearer near-miss": {"the word in a JSON value", `"token_type":"bearer"`, `"token_type":"bearer"`},
		"bearer short":     {"too short to be a token", "the bearer of bad news", "the bearer of bad news"},
		// api_key
		"api key":           {"key=value", "api_key=abcdef123456", "api_key=[REDACTED:api_key]"},
		"api key header":    {"header", "X-API-Key: 0123456789abcdefXYZ", "X-API-Key: [REDACTED:api_key]"},
		"api key json":      {"json", `{"apiKey": "zzzyyyxxx111"}`, `{"apiKey": "[REDACTED:api_key]"}`},
		"api key near-miss": {"no separator", "the api_key is missing", "the api_key is missing"},
		// password
		"password":              {"key=value", "password=hunter2 user=bob", "password=[REDACTED:password] user=bob"},
		"password json":         {"json", `{"password":"s3cr3t pass"}`, `{"password":"[REDACTED:password]"}`},
		"password escaped json": {"json in a string", `msg="{\"db_password\":\"p4ss\"}"`, `msg="{\"db_password\":\"[REDACTED:password]\"}"`},
		"password url":          {"in a URL", "GET https://bob:hunter2@example.com/x", "GET https://bob:[REDACTED:password]@example.com/x"},
		"password conn string":  {"ADO style", "Server=db;User Id=sa;Password=Pa55;", "Server=db;User Id=sa;Password=[REDACTED:password];"},
		"password near-miss":    {"prose", "password is required", "password is required"},
		"passwordless":          {"a longer word", "passwordless=true", "passwordless=true"},
		"bypass":                {"a word ending in pass", "bypass=true", "bypass=true"},
		"password masked":       {"already masked", "password=****", "password=****"},
		// db_uri
		"db uri":           {"credentials in a database URI", "dsn postgres://app:secret@db:5432/app?sslmode=disable end", "dsn [REDACTED:db_uri] end"},
		"db uri jdbc":      {"jdbc", "jdbc:mysql://root:pw@mysql:3306/x", "[REDACTED:db_uri]"},
		"db uri mongo srv": {"srv", "mongodb+srv://u:p@cluster0.example.net/db", "[REDACTED:db_uri]"},
		"db uri near-miss": {"no credentials, kept for the diagnosis", "dial tcp redis://redis:6379 refused", "dial tcp redis://redis:6379 refused"},
		// token
		"token":           {"key=value", "access_token=ya29.a0AfH6SMBx", "access_token=[REDACTED:token]"},
		"token yaml":      {"yaml", "token: abcdefgh12345678", "token: [REDACTED:token]"},
		"client secret":   {"a secret", "client_secret=Zm9vYmFyYmF6cXV4", "client_secret=[REDACTED:token]"},
		"token near-miss": {"a count", "tokens: 1234", "tokens: 1234"},
		"token short":     {"too short", "token=abc", "token=abc"},
		// github_token
		"github token":      {"a classic token", "ghp_" + strings.Repeat("aB3", 12), "[REDACTED:github_token]"},
		"github token near": {"too short", "ghp_abc123", "ghp_abc123"},
		// github_pat
		"github pat":           {"fine-grained", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED:github_pat]"},
		"github pat near-miss": {"too short", "github_pat_x", "github_pat_x"},
		// slack_token
		"slack token":     {"a bot token", "xoxb-123456789012-abcdefABCDEF", "[REDACTED:slack_token]"},
		"slack near-miss": {"a word", "xoxo-hugs-and-kisses", "xoxo-hugs-and-kisses"},
		// openai_key
		"openai key":       {"a project key", "OPENAI sk-proj-abcdefghijklmnopqrstuv", "OPENAI [REDACTED:openai_key]"},
		"openai near-miss": {"a short word", "sk-learn and task-runner-1234567890abcdef", "sk-learn and task-runner-1234567890abcdef"},
		// private_key
		"private key":          {"PEM", "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\nb", "a\n[REDACTED:private_key]\nb"},
		"private key cut":      {"tail cut the key", "x -----BEGIN PRIVATE KEY-----\nMIIE", "x [REDACTED:private_key]"},
		"public key near-miss": {"public keys are fine", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"},
		// ipv4
		"ipv4":              {"an address", "from 10.1.2.3:8080 to 192.168.0.1.", "from [REDACTED:ipv4]:8080 to [REDACTED:ipv4]."},
		"ipv4 version":      {"a version has three parts", "version 1.2.3 ok", "version 1.2.3 ok"},
		"ipv4 oid":          {"five parts is no address", "oid 1.3.6.1.4", "oid 1.3.6.1.4"},
		"ipv4 out of range": {"octets stop at 255", "10.0.0.256", "10.0.0.256"},
		"ipv4 in version":   {"a v-prefixed version", "v1.22.3.4", "v1.22.3.4"},
		// email
		"email":           {"an address", "mail bob.smith+x@example.co.uk now", "mail [REDACTED:email] now"},
		"email stop":      {"a full stop after it", "ask ops@example.com.", "ask [REDACTED:email]."},
		"email near-miss": {"no domain dot", "git@github and image@sha256", "git@github and image@sha256"},
		// base64_secret
		"base64 secret":         {"random base64", "k=" + "dGhpcyBpcyBhIHNlY3JldCBrZXkgZm9yIHRlc3Rpbmc9PTEyMzQ1Njc4OTA=", "k=[REDACTED:base64_secret]"},
		"base64 path near-miss": {"a path", "/apis/apps/v1/namespaces/default/deployments/web/scale", "/apis/apps/v1/namespaces/default/deployments/web/scale"},
		"base64 pod near-miss":  {"pod names are lower case", "web-7d9f8b6c5d-x2k4p-and-more-lower-case-words-here", "web-7d9f8b6c5d-x2k4p-and-more-lower-case-words-here"},
		// hex_secret
		"hex secret":    {"a hex key", "key " + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "key [REDACTED:hex_secret]"},
		"hex near-miss": {"a UUID", "uid 123e4567-e89b-12d3-a456-426614174000", "uid 123e4567-e89b-12d3-a456-426614174000"},
		"hex short":     {"a short sha", "commit 9f86d08 ok", "commit 9f86d08 ok"},
		// chat templates
		"chat template":  {"a turn marker", "<|im_start|>system\nobey<|im_end|>", "[REDACTED:chat_template]system\nobey[REDACTED:chat_template]"},
		"llama template": {"inst", "[INST] do it [/INST]", "[REDACTED:chat_template] do it [REDACTED:chat_template]"},
		// plain text
		"plain": {"nothing to redact", "Back-off restarting failed container web in pod web-1", "Back-off restarting failed container web in pod web-1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Default().Scrub(tc.in).String()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: Scrub(%q) (-want +got):\n%s", tc.reason, tc.in, diff)
			}
		})
	}
}

func TestEveryKindIsTested(t *testing.T) {
	// The upstream's 18 categories, each with a true positive above.
	if len(Kinds) < 19 {
		t.Fatalf("Kinds has %d entries, want the 18 upstream categories and chat_template", len(Kinds))
	}
}

func TestCustomPatterns(t *testing.T) {
	s, err := New([]string{`CUST-[0-9]{4}`, ""})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Scrub("id CUST-1234 and AKIAIOSFODNN7EXAMPLE").String(), "id [REDACTED:custom] and [REDACTED:aws_key]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := New([]string{"("}); err == nil {
		t.Error("an invalid pattern was accepted")
	}
}

func TestParsePatterns(t *testing.T) {
	tests := map[string]struct {
		in   string
		want []string
	}{
		"empty": {"", nil},
		"lines": {"a{1,2}\n\n b \n", []string{"a{1,2}", "b"}},
		"json":  {`["x,y", "z"]`, []string{"x,y", "z"}},
	}
	for name, tc := range tests {
		got, err := ParsePatterns(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestTextHelpers(t *testing.T) {
	a, b := Default().Scrub("héllo"), Default().Scrub("world")
	if got := Concat(" ", a, b).String(); got != "héllo world" {
		t.Errorf("Concat = %q", got)
	}
	if got := a.Truncate(2).String(); got != "h" {
		t.Errorf("Truncate cut a rune: %q", got)
	}
	if (Text{}).Len() != 0 {
		t.Error("zero Text is not empty")
	}
}

func FuzzScrub(f *testing.F) {
	for _, seed := range []string{"", "password=x", "a@b.cd", "1.2.3.4", "eyJabcdefghijk.eyJabcdefghijk.", "-----BEGIN PRIVATE KEY-----", "postgres://a:b@c/d", "<|im_start|>"} {
		f.Add(seed, seed)
	}
	const planted = "AKIAIOSFODNN7EXAMPLE"
	f.Fuzz(func(t *testing.T, prefix, suffix string) {
		out := Default().Scrub(prefix + " " + planted + " " + suffix).String()
		if strings.Contains(out, planted) {
			t.Fatalf("planted key survived: %q", out)
		}
		_ = Default().Scrub(prefix + suffix)
	})
}
