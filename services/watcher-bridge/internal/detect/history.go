package detect

import (
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Bounds of the detectors' memory.
const (
	// DefaultMaxTrackedPods bounds a RestartHistory: a pod with two
	// restarting containers takes about 300 bytes, so 15 MiB at the bound
	// and 3 MiB for 10,000 pods.
	DefaultMaxTrackedPods = 50_000
	// DefaultMaxTrackedWorkloads bounds an UnhealthySince, which holds
	// only workloads that are unhealthy right now.
	DefaultMaxTrackedWorkloads = 10_000
	// maxRestartObservations caps the change points kept per container.
	// The kubelet's crash-loop back-off (10s doubling to 5m) allows about
	// eight restarts in ten minutes, so only a burst that fires anyway
	// reaches the cap: 64 kept changes mean a rise of at least 63.
	maxRestartObservations = 64
)

// RestartHistory remembers how the restart count of each container moved,
// so that pod_restart fires on restarts within a window and never on the
// cumulative count. It is keyed by pod UID and container name, safe for
// concurrent use, and bounded:
//   - per container it keeps only the changes of the count inside the
//     window, plus the last one before it (the count when the window
//     opened), and at most 64 of them;
//   - it holds at most maxPods pods. A new pod that finds it full first
//     drops the pods not seen within the window (they lose only their
//     baseline), then the pod seen least recently.
//
// Call Forget when a pod is deleted.
type RestartHistory struct {
	mu      sync.Mutex
	maxPods int
	pods    map[types.UID]*podRestarts
}

type podRestarts struct {
	lastSeen   int64 // unix nanoseconds of the newest observation
	containers []containerRestarts
}

type containerRestarts struct {
	name string
	// changes holds the observations at which the count changed, oldest
	// first. The first entry is the baseline: the first observation, or the
	// last change at or before the window's start.
	changes []restartObservation
}

type restartObservation struct {
	at    int64 // unix nanoseconds
	count int32
}

// NewRestartHistory returns an empty history for at most maxPods pods;
// maxPods <= 0 means DefaultMaxTrackedPods.
func NewRestartHistory(maxPods int) *RestartHistory {
	if maxPods <= 0 {
		maxPods = DefaultMaxTrackedPods
	}
	return &RestartHistory{maxPods: maxPods, pods: make(map[types.UID]*podRestarts)}
}

// Observe records that a container of pod uid had restarted count times at
// at, and returns by how much the count rose within the window that ends
// at at. The first observation of a container is only its baseline and
// returns 0: a pod first seen with 40 restarts is not restarting now. A
// count that falls (a kubelet that lost its state) becomes a new baseline.
func (h *RestartHistory) Observe(uid types.UID, container string, at time.Time, count int32, window time.Duration) int32 {
	now := at.UnixNano()
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.pods[uid]
	if p == nil {
		if len(h.pods) >= h.maxPods {
			h.makeRoom(now, window)
		}
		p = &podRestarts{}
		h.pods[types.UID(strings.Clone(string(uid)))] = p
	}
	p.lastSeen = max(p.lastSeen, now)
	for i := range p.containers {
		if p.containers[i].name == container {
			return p.containers[i].observe(now, count, window)
		}
	}
	p.containers = append(p.containers, containerRestarts{
		name:    strings.Clone(container),
		changes: []restartObservation{{at: now, count: count}},
	})
	return 0
}

func (c *containerRestarts) observe(now int64, count int32, window time.Duration) int32 {
	last := c.changes[len(c.changes)-1]
	switch {
	case count < last.count:
		c.changes = append(c.changes[:0], restartObservation{at: now, count: count})
		return 0
	case count > last.count:
		// Observations may race in out of order; keep the list sorted.
		c.changes = append(c.changes, restartObservation{at: max(now, last.at), count: count})
	}
	start := now - int64(window)
	drop := 0
	for i := 1; i < len(c.changes) && c.changes[i].at <= start; i++ {
		drop = i
	}
	drop = max(drop, len(c.changes)-maxRestartObservations)
	if drop > 0 {
		c.changes = append(c.changes[:0], c.changes[drop:]...)
	}
	// Give back the room a past burst grew.
	if cap(c.changes) > 8 && len(c.changes) <= cap(c.changes)/4 {
		c.changes = slices.Clone(c.changes)
	}
	return count - c.changes[0].count
}

// makeRoom drops the pods not seen within the window and, if that frees
// nothing, the pod seen least recently. Called with h.mu held.
func (h *RestartHistory) makeRoom(now int64, window time.Duration) {
	cutoff := now - int64(window)
	var oldest types.UID
	oldestSeen, found := int64(0), false
	for uid, p := range h.pods {
		if p.lastSeen < cutoff {
			delete(h.pods, uid)
			continue
		}
		if !found || p.lastSeen < oldestSeen {
			oldest, oldestSeen, found = uid, p.lastSeen, true
		}
	}
	if len(h.pods) >= h.maxPods {
		delete(h.pods, oldest)
	}
}

// Forget drops everything known about a pod; call it when the pod is
// deleted.
func (h *RestartHistory) Forget(uid types.UID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.pods, uid)
}

// Len is the number of pods tracked, for a gauge.
func (h *RestartHistory) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pods)
}

// UnhealthySince remembers, per workload UID, since when a workload whose
// status carries no timestamp (StatefulSet, DaemonSet) has been short of
// ready replicas without making progress. EvaluateStatefulSet and
// EvaluateDaemonSet update it and clear it when the workload is healthy
// again; call Forget when the workload is deleted. It is safe for
// concurrent use and holds at most max entries: when full, new episodes
// are not tracked (and so do not fire) until room frees up, while the
// older ones keep their start.
type UnhealthySince struct {
	mu  sync.Mutex
	max int
	m   map[types.UID]unhealthyEpisode
}

type unhealthyEpisode struct {
	since int64 // unix nanoseconds
	best  int64 // the highest progress measure seen in this episode
}

// NewUnhealthySince returns an empty tracker for at most max workloads;
// max <= 0 means DefaultMaxTrackedWorkloads.
func NewUnhealthySince(max int) *UnhealthySince {
	if max <= 0 {
		max = DefaultMaxTrackedWorkloads
	}
	return &UnhealthySince{max: max, m: make(map[types.UID]unhealthyEpisode)}
}

// observe marks uid unhealthy at now and returns when the episode started:
// its first unhealthy observation, moved to now whenever progress (a count
// of ready or updated replicas) beats the best seen in the episode, so that
// a slow but moving rollout never counts as stuck. ok is false when the
// tracker is full and the episode is not tracked.
func (u *UnhealthySince) observe(uid types.UID, now time.Time, progress int64) (since time.Time, ok bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	e, found := u.m[uid]
	switch {
	case !found:
		if len(u.m) >= u.max {
			return now, false
		}
		e = unhealthyEpisode{since: now.UnixNano(), best: progress}
		uid = types.UID(strings.Clone(string(uid)))
	case progress > e.best:
		e = unhealthyEpisode{since: max(e.since, now.UnixNano()), best: progress}
	}
	u.m[uid] = e
	return time.Unix(0, e.since).UTC(), true
}

// Since marks uid as waiting at now, unless it already was, and returns
// when the wait began: for waits that no field of the object dates, such
// as a claim's since a pod wanted it. While the tracker is full it
// returns now, so an untracked wait never looks long.
func (u *UnhealthySince) Since(uid types.UID, now time.Time) time.Time {
	since, _ := u.observe(uid, now, 0)
	return since
}

// Forget drops a workload's episode; the detectors call it when the
// workload is healthy, and the caller when it is deleted.
func (u *UnhealthySince) Forget(uid types.UID) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.m, uid)
}

// Len is the number of workloads in an unhealthy episode, for a gauge.
func (u *UnhealthySince) Len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.m)
}
