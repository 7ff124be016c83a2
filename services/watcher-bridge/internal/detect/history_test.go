package detect

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// kept is how many observations the history holds for one container.
func kept(h *RestartHistory, uid types.UID, container string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.pods[uid]
	if p == nil {
		return 0
	}
	for _, c := range p.containers {
		if c.name == container {
			return len(c.changes)
		}
	}
	return 0
}

func TestRestartHistoryStaysBounded(t *testing.T) {
	const window = 10 * time.Minute
	cases := map[string]struct {
		reason string
		every  time.Duration
		want   int
	}{
		"OneRestartAMinute": {
			reason: "ten changes inside the window plus the one that opened it",
			every:  time.Minute,
			want:   11,
		},
		"OneRestartASecond": {
			reason: "a burst the kubelet's back-off cannot produce is capped",
			every:  time.Second,
			want:   maxRestartObservations,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := NewRestartHistory(0)
			var rise int32
			for i := range 100_000 {
				rise = h.Observe("pod", "app", now.Add(time.Duration(i)*tc.every), int32(i), window)
			}
			if got := kept(h, "pod", "app"); got != tc.want {
				t.Errorf("%s: kept %d observations, want %d", tc.reason, got, tc.want)
			}
			if rise < int32(tc.want-1) {
				t.Errorf("%s: rise %d, want at least %d", tc.reason, rise, tc.want-1)
			}
		})
	}
}

func TestRestartHistoryUnchangedCountsCostNothing(t *testing.T) {
	h := NewRestartHistory(0)
	for i := range 100_000 {
		h.Observe("pod", "app", now.Add(time.Duration(i)*time.Millisecond), 7, 10*time.Minute)
	}
	if got := kept(h, "pod", "app"); got != 1 {
		t.Errorf("a steady count kept %d observations, want the baseline only", got)
	}
}

func TestRestartHistoryForget(t *testing.T) {
	h := NewRestartHistory(0)
	for i := range 10_000 {
		for _, c := range []string{"app", "sidecar"} {
			h.Observe(types.UID(fmt.Sprint("pod-", i)), c, now, 1, time.Minute)
		}
	}
	if got := h.Len(); got != 10_000 {
		t.Fatalf("Len() = %d, want 10000", got)
	}
	h.Forget("pod-42")
	if got := h.Len(); got != 9_999 {
		t.Errorf("after Forget, Len() = %d, want 9999", got)
	}
	if rise := h.Observe("pod-42", "app", now.Add(time.Second), 50, time.Minute); rise != 0 {
		t.Errorf("a forgotten pod is seen anew: rise %d, want 0 (a baseline)", rise)
	}
}

func TestRestartHistoryCountFalls(t *testing.T) {
	h := NewRestartHistory(0)
	h.Observe("pod", "app", now, 10, time.Minute)
	if rise := h.Observe("pod", "app", now.Add(time.Second), 2, time.Minute); rise != 0 {
		t.Fatalf("a falling count gave rise %d, want a new baseline", rise)
	}
	if rise := h.Observe("pod", "app", now.Add(2*time.Second), 5, time.Minute); rise != 3 {
		t.Errorf("rise from the new baseline = %d, want 3", rise)
	}
}

func TestRestartHistoryOutOfOrder(t *testing.T) {
	h := NewRestartHistory(0)
	h.Observe("pod", "app", now, 1, time.Minute)
	h.Observe("pod", "app", now.Add(30*time.Second), 2, time.Minute)
	if rise := h.Observe("pod", "app", now.Add(10*time.Second), 3, time.Minute); rise != 2 {
		t.Errorf("a late observation gave rise %d, want 2", rise)
	}
}

func TestRestartHistoryMakesRoom(t *testing.T) {
	h := NewRestartHistory(3)
	h.Observe("quiet", "app", now.Add(-time.Hour), 0, 10*time.Minute)
	h.Observe("busy-1", "app", now.Add(-time.Minute), 0, 10*time.Minute)
	h.Observe("busy-2", "app", now.Add(-2*time.Minute), 0, 10*time.Minute)
	h.Observe("new-1", "app", now, 0, 10*time.Minute)
	if got := kept(h, "quiet", "app"); got != 0 {
		t.Error("the pod not seen within the window was kept")
	}
	h.Observe("new-2", "app", now, 0, 10*time.Minute)
	if got := h.Len(); got != 3 {
		t.Errorf("Len() = %d, want the bound 3", got)
	}
	if got := kept(h, "busy-2", "app"); got != 0 {
		t.Error("the pod seen least recently was kept")
	}
}

func TestRestartHistoryConcurrent(t *testing.T) {
	h := NewRestartHistory(0)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uid := types.UID(fmt.Sprint("pod-", g%2))
			for i := range 1000 {
				h.Observe(uid, "app", now.Add(time.Duration(i)*time.Second), int32(i), time.Minute)
				if i%100 == 0 {
					h.Forget(uid)
				}
			}
		}()
	}
	wg.Wait()
	if h.Len() > 2 {
		t.Errorf("Len() = %d, want at most 2", h.Len())
	}
}

func TestUnhealthySinceBounded(t *testing.T) {
	u := NewUnhealthySince(1)
	since, ok := u.observe("a", now, 0)
	if !ok || !since.Equal(now) {
		t.Fatalf("first episode: since %v, tracked %v", since, ok)
	}
	if _, ok := u.observe("b", now, 0); ok {
		t.Error("a full tracker took a second workload")
	}
	if since, _ := u.observe("a", now.Add(time.Minute), 0); !since.Equal(now) {
		t.Errorf("an episode without progress moved to %v", since)
	}
	if since, _ := u.observe("a", now.Add(2*time.Minute), 1); !since.Equal(now.Add(2 * time.Minute)) {
		t.Errorf("progress did not restart the episode: since %v", since)
	}
	u.Forget("a")
	if _, ok := u.observe("b", now, 0); !ok || u.Len() != 1 {
		t.Errorf("after Forget the tracker has no room: tracked %v, Len %d", ok, u.Len())
	}
}
