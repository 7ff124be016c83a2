package signals

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Truncate cuts s to at most max bytes without splitting a UTF-8 sequence,
// so that text from any source fits the Anomaly's limits.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// CleanText normalises free text from any source before it is stored: it
// drops invalid UTF-8 and control and format characters (bidi overrides,
// zero-width marks), and turns line breaks and tabs into spaces. The text
// later reaches LLM prompts, where such characters can fake structure or
// hide words from the people who review them. The result is never longer
// than s.
func CleanText(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			// A literal U+FFFD is kept; an invalid byte is dropped.
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 3 {
				b.WriteRune(r)
			}
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
