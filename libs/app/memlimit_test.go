package app

import "testing"

func TestParseMemoryMax(t *testing.T) {
	tests := map[string]struct {
		reason string
		in     string
		want   int64
		ok     bool
	}{
		"Limit":       {reason: "a container limit in bytes", in: "268435456\n", want: 268435456, ok: true},
		"NoLimit":     {reason: "no limit is spelled max", in: "max\n"},
		"Empty":       {reason: "an unreadable value sets nothing", in: ""},
		"Garbage":     {reason: "a malformed value sets nothing", in: "lots"},
		"NonPositive": {reason: "zero is not a limit", in: "0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := parseMemoryMax(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("%s: parseMemoryMax(%q) = %d, %v; want %d, %v", tc.reason, tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}
