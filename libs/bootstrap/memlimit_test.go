package bootstrap

import (
	"os"
	"path/filepath"
	"testing"
)

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
		"V1NoLimit":   {reason: "cgroup v1 says no limit with the largest page-aligned int64", in: "9223372036854771712\n"},
		"V1Limit":     {reason: "cgroup v1 limits read the same way", in: "157286400\n", want: 157286400, ok: true},
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

func TestContainerMemoryLimitReadsTheFirstFileThatExists(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "memory.limit_in_bytes")
	if err := os.WriteFile(v1, []byte("157286400\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, ok := containerMemoryLimit([]string{filepath.Join(dir, "memory.max"), v1}); got != 157286400 || !ok {
		t.Errorf("containerMemoryLimit = %d, %v; want the v1 limit when memory.max is missing", got, ok)
	}
	if _, ok := containerMemoryLimit([]string{filepath.Join(dir, "missing")}); ok {
		t.Errorf("no file, yet a limit")
	}
}
