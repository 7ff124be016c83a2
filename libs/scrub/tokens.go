package scrub

import (
	"encoding/base64"
	"math"
	"strings"
)

// Byte classes, looked up once per byte.
const (
	classLower = 1 << iota
	classUpper
	classDigit
	classWord  // [A-Za-z0-9_-]
	classB64   // [A-Za-z0-9+/_-]
	classHex   // [0-9a-fA-F]
	classEmail // local part: [A-Za-z0-9._%+-]
)

var classes = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= classLower | classWord | classB64 | classEmail
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= classUpper | classWord | classB64 | classEmail
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= classDigit | classWord | classB64 | classHex | classEmail
	}
	for _, c := range "abcdefABCDEF" {
		t[c] |= classHex
	}
	for _, c := range "_-" {
		t[c] |= classWord | classB64
	}
	for _, c := range "+/" {
		t[c] |= classB64
	}
	for _, c := range "._%+-" {
		t[c] |= classEmail
	}
	return t
}()

func is(c byte, class uint8) bool { return classes[c]&class != 0 }

// Thresholds of the generic detectors. Below them, runs are identifiers,
// names and paths far more often than secrets.
const (
	minBase64Secret  = 40
	minBase64Entropy = 4.2 // bits per byte; random base64 has about 5, identifiers about 4
	minHexSecret     = 32
)

// scanTokens finds the token-shaped secrets in one pass per class of run.
func scanTokens(in string, spans []span) []span {
	spans = scanWordRuns(in, spans)
	spans = scanBase64Runs(in, spans)
	spans = scanHexRuns(in, spans)
	spans = scanIPv4(in, spans)
	return scanEmails(in, spans)
}

// scanWordRuns classifies each run of [A-Za-z0-9_-] by its prefix.
func scanWordRuns(in string, spans []span) []span {
	for i := 0; i < len(in); {
		if !is(in[i], classWord) {
			i++
			continue
		}
		j := i + 1
		for j < len(in) && is(in[j], classWord) {
			j++
		}
		if j-i >= 16 {
			if sp, ok := classifyWord(in, i, j); ok {
				spans = append(spans, sp)
				j = max(j, sp.end)
			}
		}
		i = j
	}
	return spans
}

var githubTokenPrefixes = []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}
var awsKeyPrefixes = []string{"AKIA", "ASIA", "AIDA", "AROA", "AGPA", "ANPA", "ANVA", "AIPA"}

func classifyWord(in string, i, j int) (span, bool) {
	w := in[i:j]
	switch {
	case len(w) == 20 && hasAnyPrefix(w, awsKeyPrefixes) && all(w, classUpper|classDigit):
		return span{i, j, KindAWSKey}, true
	case strings.HasPrefix(w, "github_pat_") && len(w) >= len("github_pat_")+22:
		return span{i, j, KindGitHubPAT}, true
	case hasAnyPrefix(w, githubTokenPrefixes) && len(w) >= 40 && all(w[4:], classUpper|classLower|classDigit):
		return span{i, j, KindGitHubToken}, true
	case len(w) >= 15 && strings.HasPrefix(w, "xox") && strings.IndexByte("abprse", w[3]) >= 0 && w[4] == '-':
		return span{i, j, KindSlackToken}, true
	case strings.HasPrefix(w, "sk-") && len(w) >= 23:
		return span{i, j, KindOpenAIKey}, true
	case strings.HasPrefix(w, "eyJ"):
		return classifyJWT(in, i, j)
	}
	return span{}, false
}

// classifyJWT reads header.payload.signature from the header's run, and
// tells a Kubernetes service account token by its issuer.
func classifyJWT(in string, i, headerEnd int) (span, bool) {
	if headerEnd-i < 10 || headerEnd >= len(in) || in[headerEnd] != '.' {
		return span{}, false
	}
	p := headerEnd + 1
	q := p
	for q < len(in) && is(in[q], classWord) {
		q++
	}
	if q-p < 10 || q >= len(in) || in[q] != '.' {
		return span{}, false
	}
	end := q + 1
	for end < len(in) && is(in[end], classWord) {
		end++
	}
	kind := KindJWT
	if payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(in[p:q], "=")); err == nil {
		s := string(payload)
		if strings.Contains(s, "kubernetes.io") || strings.Contains(s, `"kubernetes/serviceaccount"`) {
			kind = KindK8sSAToken
		}
	}
	return span{i, end, kind}, true
}

// scanBase64Runs finds long, high-entropy runs of base64 (standard or URL
// alphabet, with padding).
func scanBase64Runs(in string, spans []span) []span {
	for i := 0; i < len(in); {
		if !is(in[i], classB64) {
			i++
			continue
		}
		j := i + 1
		for j < len(in) && is(in[j], classB64) {
			j++
		}
		end := j
		for end < len(in) && end-j < 2 && in[end] == '=' {
			end++
		}
		if j-i >= minBase64Secret && looksRandom(in[i:j]) {
			spans = append(spans, span{i, end, KindBase64Secret})
		}
		i = j
	}
	return spans
}

// looksRandom wants upper and lower letters, digits, and the entropy of
// random data, which paths and identifiers lack.
func looksRandom(s string) bool {
	var seen uint8
	var counts [256]int
	for k := 0; k < len(s); k++ {
		seen |= classes[s[k]]
		counts[s[k]]++
	}
	if seen&classUpper == 0 || seen&classLower == 0 || seen&classDigit == 0 {
		return false
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h >= minBase64Entropy
}

// scanHexRuns finds runs of at least 32 hex digits of one letter case,
// bounded by non-alphanumerics, with both digits and letters.
func scanHexRuns(in string, spans []span) []span {
	for i := 0; i < len(in); {
		if !is(in[i], classHex) || (i > 0 && is(in[i-1], classLower|classUpper|classDigit)) {
			i++
			continue
		}
		j := i
		var seen uint8
		for j < len(in) && is(in[j], classHex) {
			seen |= classes[in[j]]
			j++
		}
		if j-i >= minHexSecret && (j == len(in) || !is(in[j], classLower|classUpper|classDigit)) &&
			seen&classDigit != 0 && seen&(classLower|classUpper) != 0 && seen&(classLower|classUpper) != classLower|classUpper {
			spans = append(spans, span{i, j, KindHexSecret})
		}
		i = j + 1
	}
	return spans
}

// scanIPv4 finds dotted quads of octets 0-255 that are not part of a longer
// dotted number (a version or an OID).
func scanIPv4(in string, spans []span) []span {
	for i := 0; i < len(in); i++ {
		if !is(in[i], classDigit) || (i > 0 && (in[i-1] == '.' || is(in[i-1], classLower|classUpper|classDigit))) {
			continue
		}
		end, ok := parseQuad(in, i)
		if !ok {
			continue
		}
		if end < len(in) && (is(in[end], classLower|classUpper|classDigit) ||
			(in[end] == '.' && end+1 < len(in) && is(in[end+1], classDigit))) {
			i = end
			continue
		}
		spans = append(spans, span{i, end, KindIPv4})
		i = end
	}
	return spans
}

func parseQuad(in string, i int) (int, bool) {
	for octet := 0; octet < 4; octet++ {
		if octet > 0 {
			if i >= len(in) || in[i] != '.' {
				return i, false
			}
			i++
		}
		v, n := 0, 0
		for i < len(in) && is(in[i], classDigit) && n < 4 {
			v = v*10 + int(in[i]-'0')
			i++
			n++
		}
		if n == 0 || n > 3 || v > 255 {
			return i, false
		}
	}
	return i, true
}

// scanEmails finds local@domain.tld around each '@'.
func scanEmails(in string, spans []span) []span {
	for at := strings.IndexByte(in, '@'); at >= 0; {
		start := at
		for start > 0 && is(in[start-1], classEmail) {
			start--
		}
		for start < at && in[start] == '.' {
			start++
		}
		end, lastDot := at+1, -1
		for end < len(in) && (is(in[end], classLower|classUpper|classDigit) || in[end] == '-' || in[end] == '.') {
			if in[end] == '.' {
				lastDot = end
			}
			end++
		}
		for end > at+1 && in[end-1] == '.' { // a sentence's full stop
			end--
			lastDot = strings.LastIndexByte(in[at+1:end], '.')
			if lastDot >= 0 {
				lastDot += at + 1
			}
		}
		// user:password@host is a URL's userinfo, redacted as a password.
		inURL := start > 0 && (in[start-1] == ':' || in[start-1] == '/')
		if !inURL && start < at && lastDot > at+1 && end-lastDot-1 >= 2 && all(in[lastDot+1:end], classLower|classUpper) {
			spans = append(spans, span{start, end, KindEmail})
		}
		next := strings.IndexByte(in[at+1:], '@')
		if next < 0 {
			break
		}
		at += 1 + next
	}
	return spans
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func all(s string, class uint8) bool {
	for k := 0; k < len(s); k++ {
		if !is(s[k], class) {
			return false
		}
	}
	return true
}
