package scrub

import (
	"strings"
)

// keywordRule redacts the value that follows a keyword, as in
// password=..., "api_key": "...", token: ....
type keywordRule struct {
	keyword string // lower case
	kind    string
	// boundary requires a non-letter before the keyword, for keywords
	// that end other words ("bypass=").
	boundary bool
	minValue int
}

// Longer keywords first: the first rule that takes an occurrence wins, and
// "aws_secret_access_key" must not be read as the generic "secret".
var keywordRules = []keywordRule{
	{keyword: "aws_secret_access_key", kind: KindAWSSecret, minValue: 16},
	{keyword: "secret_access_key", kind: KindAWSSecret, minValue: 16},
	{keyword: "secretaccesskey", kind: KindAWSSecret, minValue: 16},
	{keyword: "aws_secret_key", kind: KindAWSSecret, minValue: 16},
	{keyword: "password", kind: KindPassword, minValue: 1},
	{keyword: "passwd", kind: KindPassword, minValue: 1},
	{keyword: "pass", kind: KindPassword, boundary: true, minValue: 1},
	{keyword: "pwd", kind: KindPassword, boundary: true, minValue: 1},
	{keyword: "api_key", kind: KindAPIKey, minValue: 6},
	{keyword: "api-key", kind: KindAPIKey, minValue: 6},
	{keyword: "apikey", kind: KindAPIKey, minValue: 6},
	{keyword: "token", kind: KindToken, minValue: 8},
	{keyword: "secret", kind: KindToken, minValue: 8},
}

// dbSchemes are the URI schemes whose credentials make the whole URI a
// db_uri.
var dbSchemes = []string{
	"postgres", "postgresql", "mysql", "mariadb", "mongodb", "mongodb+srv", "redis", "rediss",
	"amqp", "amqps", "mssql", "sqlserver", "cockroachdb", "clickhouse", "cassandra", "couchdb",
}

// chatTemplateTokens open or close turns in the chat templates of common
// models; untrusted text must not carry them to a model.
var chatTemplateTokens = []string{"[inst]", "[/inst]", "<<sys>>", "<</sys>>", "<start_of_turn>", "<end_of_turn>", "<s>", "</s>"}

// scanKeywords finds the secrets that follow a keyword. The input is
// lowered once, and each keyword is looked for with strings.Index.
func scanKeywords(in string, spans []span) []span {
	lower := asciiLower(in)
	taken := map[int]bool{} // keyword positions already read by a longer rule
	for _, r := range keywordRules {
		for pos := 0; ; {
			k := strings.Index(lower[pos:], r.keyword)
			if k < 0 {
				break
			}
			k += pos
			pos = k + len(r.keyword)
			if taken[k] || (r.boundary && k > 0 && is(in[k-1], classLower|classUpper)) {
				continue
			}
			if s, e, ok := valueAfter(in, pos); ok && e-s >= r.minValue {
				spans = append(spans, span{s, e, r.kind})
				for x := k; x < pos; x++ {
					taken[x] = true
				}
			}
		}
	}
	spans = scanAuthorization(in, lower, "bearer", KindBearer, spans)
	spans = scanAuthorization(in, lower, "basic", KindPassword, spans)
	spans = scanURIs(in, lower, spans)
	spans = scanPrivateKeys(in, lower, spans)
	return scanChatTemplates(in, lower, spans)
}

// valueAfter reads `"?\s*[:=]\s*"?value` from pos, where quotes may be
// escaped (JSON inside a log line), and returns the value's bounds.
func valueAfter(in string, pos int) (int, int, bool) {
	i := skipQuotes(in, pos)
	i = skipSpaces(in, i)
	if i >= len(in) || (in[i] != ':' && in[i] != '=') {
		return 0, 0, false
	}
	i++
	if i < len(in) && in[i] == '>' { // Ruby's =>
		i++
	}
	i = skipSpaces(in, i)
	quoted := i < len(in) && (in[i] == '"' || in[i] == '\'' || in[i] == '\\')
	i = skipQuotes(in, i)
	start := i
	for i < len(in) && !endsValue(in[i], quoted) {
		i++
	}
	value := in[start:i]
	if value == "" || strings.HasPrefix(value, "[REDACTED") || strings.Trim(value, "*") == "" {
		return 0, 0, false
	}
	return start, i, true
}

func endsValue(c byte, quoted bool) bool {
	switch c {
	case '"', '\'', '`', '\\', '\n', '\r', '\t':
		return true
	case ' ', ',', ';', '&', '<', '>', '{', '}', '(', ')', '[', ']':
		// Inside quotes, a password may hold spaces and punctuation.
		return !quoted
	}
	return false
}

func skipQuotes(in string, i int) int {
	for n := 0; i < len(in) && n < 3 && (in[i] == '"' || in[i] == '\'' || in[i] == '\\'); n++ {
		i++
	}
	return i
}

func skipSpaces(in string, i int) int {
	for i < len(in) && (in[i] == ' ' || in[i] == '\t') {
		i++
	}
	return i
}

// scanAuthorization redacts the credentials after an HTTP authorization
// scheme: "Bearer <token>", "Basic <base64>".
func scanAuthorization(in, lower, scheme, kind string, spans []span) []span {
	for pos := 0; ; {
		k := strings.Index(lower[pos:], scheme)
		if k < 0 {
			return spans
		}
		k += pos
		pos = k + len(scheme)
		if k > 0 && is(in[k-1], classLower|classUpper) {
			continue
		}
		i := pos
		for i < len(in) && (in[i] == ' ' || in[i] == '\t' || in[i] == ':' || in[i] == '=') {
			i++
		}
		if i == pos || i >= len(in) || (in[i-1] != ' ' && in[i-1] != '\t') {
			continue
		}
		start := i
		for i < len(in) && (is(in[i], classB64) || in[i] == '.' || in[i] == '~') {
			i++
		}
		for i < len(in) && in[i] == '=' {
			i++
		}
		if i-start >= 8 {
			spans = append(spans, span{start, i, kind})
		}
	}
}

// scanURIs redacts the password of scheme://user:password@host, and the
// whole URI when the scheme is a database's and the URI carries
// credentials. A database URI without credentials is kept: it names a
// host, which helps the diagnosis, and holds no secret.
func scanURIs(in, lower string, spans []span) []span {
	for pos := 0; ; {
		k := strings.Index(lower[pos:], "://")
		if k < 0 {
			return spans
		}
		k += pos
		pos = k + 3
		schemeStart := k
		for schemeStart > 0 && (is(in[schemeStart-1], classLower|classUpper|classDigit) || in[schemeStart-1] == '+' || in[schemeStart-1] == '.' || in[schemeStart-1] == '-' || in[schemeStart-1] == ':') {
			schemeStart--
		}
		end := pos
		for end < len(in) && !strings.ContainsRune(" \t\r\n\"'`<>\\", rune(in[end])) {
			end++
		}
		authorityEnd := pos
		for authorityEnd < end && in[authorityEnd] != '/' && in[authorityEnd] != '?' && in[authorityEnd] != '#' {
			authorityEnd++
		}
		at := strings.LastIndexByte(in[pos:authorityEnd], '@')
		if at < 0 {
			continue
		}
		at += pos
		scheme := strings.TrimPrefix(lower[schemeStart:k], "jdbc:")
		if isDBScheme(scheme) {
			spans = append(spans, span{schemeStart, end, KindDBURI})
			continue
		}
		if colon := strings.IndexByte(in[pos:at], ':'); colon >= 0 && pos+colon+1 < at {
			spans = append(spans, span{pos + colon + 1, at, KindPassword})
		}
	}
}

func isDBScheme(scheme string) bool {
	for _, s := range dbSchemes {
		if scheme == s {
			return true
		}
	}
	return false
}

// scanPrivateKeys redacts PEM private keys, from BEGIN to END, or to the end
// of the text when a log tail cut the key off.
func scanPrivateKeys(in, lower string, spans []span) []span {
	for pos := 0; ; {
		k := strings.Index(lower[pos:], "-----begin")
		if k < 0 {
			return spans
		}
		k += pos
		pos = k + len("-----begin")
		header := strings.Index(lower[pos:], "-----")
		if header < 0 || header > 64 || !strings.HasSuffix(lower[pos:pos+header], "private key") {
			continue
		}
		end := len(in)
		if e := strings.Index(lower[pos:], "-----end"); e >= 0 {
			end = pos + e + len("-----end")
			if close := strings.Index(lower[end:], "-----"); close >= 0 && close <= 64 {
				end += close + len("-----")
			}
		}
		spans = append(spans, span{k, end, KindPrivateKey})
		pos = end
	}
}

// scanChatTemplates redacts <|...|> control tokens and the markers of the
// Llama and Gemma templates.
func scanChatTemplates(in, lower string, spans []span) []span {
	for pos := 0; ; {
		k := strings.Index(in[pos:], "<|")
		if k < 0 {
			break
		}
		k += pos
		pos = k + 2
		if e := strings.Index(in[pos:min(len(in), pos+64)], "|>"); e >= 0 {
			spans = append(spans, span{k, pos + e + 2, KindChatTemplate})
			pos += e + 2
		}
	}
	for _, tok := range chatTemplateTokens {
		for pos := 0; ; {
			k := strings.Index(lower[pos:], tok)
			if k < 0 {
				break
			}
			k += pos
			pos = k + len(tok)
			spans = append(spans, span{k, pos, KindChatTemplate})
		}
	}
	return spans
}

// asciiLower lowers ASCII letters only, so that byte offsets stay those of
// the input.
func asciiLower(s string) string {
	hasUpper := false
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			hasUpper = true
			break
		}
	}
	if !hasUpper {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
