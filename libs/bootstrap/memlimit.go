package bootstrap

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupMemoryFiles are where cgroup v2, then v1 (older nodes), publish a
// container's memory limit.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// cgroupV1Unlimited is at or below what cgroup v1 reports for no limit
// (the largest page-aligned int64).
const cgroupV1Unlimited = int64(1) << 62

// memoryLimitShare is the part of the container limit given to the Go heap;
// the rest covers stacks, the binary's pages and what the runtime does not
// count.
const memoryLimitShare = 0.85

// applyMemoryLimit makes the garbage collector work harder as the heap
// nears the container's memory limit, instead of letting the container be
// OOM-killed. GOMEMLIMIT, when set, wins.
func applyMemoryLimit() (int64, bool) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return 0, false
	}
	limit, ok := containerMemoryLimit(cgroupMemoryFiles)
	if !ok {
		return 0, false
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	return soft, true
}

// containerMemoryLimit reads the first of files that exists.
func containerMemoryLimit(files []string) (int64, bool) {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			return parseMemoryMax(string(data))
		}
	}
	return 0, false
}

// parseMemoryMax reads memory.max (a byte count, or "max" for none) or
// cgroup v1's memory.limit_in_bytes (a byte count, huge for none).
func parseMemoryMax(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || s == "max" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= cgroupV1Unlimited {
		return 0, false
	}
	return n, true
}
