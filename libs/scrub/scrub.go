// Package scrub removes secrets and personal data from text before it leaves
// the process for an LLM provider. Every match becomes [REDACTED:<kind>].
//
// The only way to make a Text is Scrubber.Scrub (or Concat of Texts), and
// the provider interface takes a Text, so handing a provider unscrubbed text
// does not compile.
//
// Speed comes from never running a regular expression over the whole input:
// token-shaped secrets (keys with fixed prefixes, JWTs, hex and base64 runs,
// IPv4 addresses, emails) are found by one byte scan, and secrets that follow
// a keyword (password=, Bearer, api_key:) run their anchored expression only
// at the places where the keyword occurs. Go's regexp is linear-time, so no
// input can make a pattern backtrack.
package scrub

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// The kinds a Scrubber redacts.
const (
	KindAWSKey       = "aws_key"
	KindAWSSecret    = "aws_secret"
	KindJWT          = "jwt"
	KindBearer       = "bearer"
	KindAPIKey       = "api_key"
	KindPassword     = "password"
	KindDBURI        = "db_uri"
	KindToken        = "token"
	KindK8sSAToken   = "k8s_sa_token"
	KindGitHubToken  = "github_token"
	KindGitHubPAT    = "github_pat"
	KindSlackToken   = "slack_token"
	KindOpenAIKey    = "openai_key"
	KindPrivateKey   = "private_key"
	KindIPv4         = "ipv4"
	KindEmail        = "email"
	KindBase64Secret = "base64_secret"
	KindHexSecret    = "hex_secret"
	// KindChatTemplate marks a chat-template control token (<|im_start|>,
	// [INST], ...) found in untrusted text, so that logs cannot open a
	// new turn of the conversation.
	KindChatTemplate = "chat_template"
	// KindCustom marks a match of a pattern from CHATCLI_LOG_SCRUB_PATTERNS.
	KindCustom = "custom"
)

// Kinds lists the built-in kinds.
var Kinds = []string{
	KindAWSKey, KindAWSSecret, KindJWT, KindBearer, KindAPIKey, KindPassword, KindDBURI, KindToken,
	KindK8sSAToken, KindGitHubToken, KindGitHubPAT, KindSlackToken, KindOpenAIKey, KindPrivateKey,
	KindIPv4, KindEmail, KindBase64Secret, KindHexSecret, KindChatTemplate,
}

// Text is scrubbed text. Its zero value is the empty text.
type Text struct{ s string }

// String returns the scrubbed text.
func (t Text) String() string { return t.s }

// Len is the length of the scrubbed text in bytes.
func (t Text) Len() int { return len(t.s) }

// Concat joins scrubbed texts with sep, which is a constant of the
// caller's code, never outside input.
func Concat(sep string, parts ...Text) Text {
	ss := make([]string, len(parts))
	for i, p := range parts {
		ss[i] = p.s
	}
	return Text{s: strings.Join(ss, sep)}
}

// Truncate cuts t to at most n bytes, on a rune boundary. Cutting never
// reveals anything that scrubbing hid.
func (t Text) Truncate(n int) Text {
	if len(t.s) <= n {
		return t
	}
	for n > 0 && n < len(t.s) && t.s[n]&0xC0 == 0x80 {
		n--
	}
	return Text{s: t.s[:n]}
}

// Scrubber redacts secrets. It is safe for concurrent use.
type Scrubber struct {
	custom []*regexp.Regexp
}

var defaultScrubber = &Scrubber{}

// Default is the Scrubber of the built-in kinds only.
func Default() *Scrubber { return defaultScrubber }

// New returns a Scrubber of the built-in kinds and customPatterns, regular
// expressions (RE2 syntax) whose whole matches are redacted as custom.
func New(customPatterns []string) (*Scrubber, error) {
	s := &Scrubber{}
	for _, p := range customPatterns {
		if strings.TrimSpace(p) == "" {
			continue
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("scrub pattern %q: %w", p, err)
		}
		s.custom = append(s.custom, re)
	}
	return s, nil
}

// ParsePatterns reads the value of CHATCLI_LOG_SCRUB_PATTERNS: a JSON array
// of strings, or one pattern per line (patterns may contain commas, so the
// comma is no separator).
func ParsePatterns(value string) ([]string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, nil
	}
	if strings.HasPrefix(value, "[") {
		var out []string
		if err := json.Unmarshal([]byte(value), &out); err != nil {
			return nil, fmt.Errorf("scrub patterns: %w", err)
		}
		return out, nil
	}
	var out []string
	for line := range strings.SplitSeq(value, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out, nil
}

// span is one redaction, [start, end) in the input.
type span struct {
	start, end int
	kind       string
}

// Scrub redacts every secret of in.
func (s *Scrubber) Scrub(in string) Text {
	if in == "" {
		return Text{}
	}
	var spans []span
	spans = scanTokens(in, spans)
	spans = scanKeywords(in, spans)
	for _, re := range s.custom {
		for _, m := range re.FindAllStringIndex(in, -1) {
			if m[1] > m[0] {
				spans = append(spans, span{m[0], m[1], KindCustom})
			}
		}
	}
	if len(spans) == 0 {
		return Text{s: in}
	}
	return Text{s: redact(in, spans)}
}

// redact replaces the union of spans. Overlapping spans merge, so that no
// part of either survives; the merged span takes the kind of the one that
// starts first (the longest among those).
func redact(in string, spans []span) string {
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].start != spans[j].start {
			return spans[i].start < spans[j].start
		}
		return spans[i].end > spans[j].end
	})
	var b strings.Builder
	b.Grow(len(in))
	last := 0
	for i := 0; i < len(spans); {
		cur := spans[i]
		j := i + 1
		for ; j < len(spans) && spans[j].start < cur.end; j++ {
			cur.end = max(cur.end, spans[j].end)
		}
		b.WriteString(in[last:cur.start])
		b.WriteString("[REDACTED:")
		b.WriteString(cur.kind)
		b.WriteByte(']')
		last = cur.end
		i = j
	}
	b.WriteString(in[last:])
	return b.String()
}
