package report

import (
	"github.com/chatcli/aiops/libs/scrub"
)

// Scrub redacts secrets from one text before it is stored or sent. Every
// string of a report passes through one, so a secret an agentic
// observation or an analysis quoted never reaches the PostMortem.
type Scrub func(string) string

// NewScrub returns the platform scrubber (libs/scrub), with customPatterns
// (Go regular expressions) on top of the built-in ones. It is the one
// place this service meets libs/scrub.
func NewScrub(customPatterns []string) (Scrub, error) {
	s := scrub.Default()
	if len(customPatterns) > 0 {
		var err error
		if s, err = scrub.New(customPatterns); err != nil {
			return nil, err
		}
	}
	return func(text string) string { return s.Scrub(text).String() }, nil
}
