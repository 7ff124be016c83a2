package report

import (
	"regexp"
)

// Scrub redacts secrets from one text before it is stored or sent. Every
// string of a report passes through one, so a secret an agentic
// observation or an analysis quoted never reaches the PostMortem.
type Scrub func(string) string

// NewScrub returns the platform scrubber, with customPatterns (Go regular
// expressions) on top of the built-in ones.
//
// This is the one seam to libs/scrub: until that package lands on this
// branch it is a small stand-in with the same contract (every match of a
// pattern is replaced, the rest of the text is kept).
func NewScrub(customPatterns []string) (Scrub, error) {
	patterns := append([]*regexp.Regexp(nil), standInPatterns...)
	for _, p := range customPatterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, err
		}
		patterns = append(patterns, re)
	}
	return func(s string) string {
		for _, re := range patterns {
			s = re.ReplaceAllString(s, "[REDACTED]")
		}
		return s
	}, nil
}

// standInPatterns are the common secrets: keys, tokens, passwords and
// connection strings.
var standInPatterns = []*regexp.Regexp{
	regexp.MustCompile(`AKIA[0-9A-Z]{16}`),
	regexp.MustCompile(`sk-[A-Za-z0-9_-]{16,}`),
	regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`),
	regexp.MustCompile(`(?i)(password|passwd|pwd|secret|token|api[_-]?key)(\s*[=:]\s*)\S+`),
	regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://[^\s:/@]+:[^\s@]+@`),
	regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----`),
}
