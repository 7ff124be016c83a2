package signals

import "unicode/utf8"

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
