package app

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupMemoryMax is where cgroup v2 publishes a container's memory limit.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

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
	data, err := os.ReadFile(cgroupMemoryMax)
	if err != nil {
		return 0, false
	}
	limit, ok := parseMemoryMax(string(data))
	if !ok {
		return 0, false
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	return soft, true
}

// parseMemoryMax reads memory.max: a byte count, or "max" for none.
func parseMemoryMax(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || s == "max" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
