package detect

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func TestEvaluateUsage(t *testing.T) {
	cfg := DefaultConfig()
	// testPod's container app has a 512Mi memory limit; give it 500m CPU.
	pod := testPod(func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU] = resource.MustParse("500m")
	})
	use := func(cpu, memory string) []ContainerUsage {
		return []ContainerUsage{{Name: "app", CPU: resource.MustParse(cpu), Memory: resource.MustParse(memory)}}
	}
	cases := map[string]struct {
		reason string
		pod    *corev1.Pod
		// before is a poll UsageGrace and a minute ago, if any.
		before, now []ContainerUsage
		want        Result
	}{
		"Low": {
			reason: "well below both limits",
			pod:    pod, before: use("100m", "100Mi"), now: use("100m", "100Mi"),
		},
		"CPUHighLongEnough": {
			reason: "at 96% of its CPU limit at every poll for 6m",
			pod:    pod, before: use("480m", "100Mi"), now: use("480m", "100Mi"),
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalCPUHigh, "app", "96%", "90%",
				"CPUHigh on api-gateway-7d9c-abcde: container app used 96% of its cpu limit of 500m (480m) for 6m")}},
		},
		"MemoryHighLongEnough": {
			reason: "at 94% of its memory limit at every poll for 6m",
			pod:    pod, before: use("10m", "480Mi"), now: use("10m", "480Mi"),
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalMemoryHigh, "app", "94%", "90%",
				"MemoryHigh on api-gateway-7d9c-abcde: container app used 94% of its memory limit of 512Mi (480Mi) for 6m")}},
		},
		"JustHigh": {
			reason: "high for the first time: wait the grace",
			pod:    pod, now: use("490m", "100Mi"),
			want: Result{RecheckAfter: 5 * time.Minute},
		},
		"DroppedBetween": {
			reason: "below the ratio at the last poll, so the wait starts again",
			pod:    pod, before: use("100m", "100Mi"), now: use("490m", "100Mi"),
			want: Result{RecheckAfter: 5 * time.Minute},
		},
		"NoLimit": {
			reason: "without a CPU limit there is nothing to be near",
			pod:    testPod(), before: use("4", "10Mi"), now: use("4", "10Mi"),
		},
		"UnknownContainer": {
			reason: "a container the pod does not have is ignored",
			pod:    pod, before: []ContainerUsage{{Name: "ghost", CPU: resource.MustParse("1")}}, now: []ContainerUsage{{Name: "ghost", CPU: resource.MustParse("1")}},
		},
		"Nil": {reason: "a nil pod shows nothing", now: use("1", "1Gi")},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tracker := NewUnhealthySince(0)
			if tc.before != nil {
				EvaluateUsage(tc.pod, tc.before, tracker, now.Add(-cfg.UsageGrace-time.Minute), cfg)
			}
			got := EvaluateUsage(tc.pod, tc.now, tracker, now, cfg)
			diffResult(t, tc.reason, tc.want, got)
			checkInvariants(t, got)
		})
	}
}

func TestForgetUsage(t *testing.T) {
	cfg := DefaultConfig()
	tracker := NewUnhealthySince(0)
	pod := testPod()
	EvaluateUsage(pod, []ContainerUsage{{Name: "app", Memory: resource.MustParse("500Mi")}}, tracker, now, cfg)
	if tracker.Len() != 1 {
		t.Fatalf("tracked %d waits, want 1", tracker.Len())
	}
	ForgetUsage(tracker, pod)
	if tracker.Len() != 0 {
		t.Errorf("a pod the metrics API no longer reports keeps %d waits", tracker.Len())
	}
}
