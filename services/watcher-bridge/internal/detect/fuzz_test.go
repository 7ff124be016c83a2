package detect

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// FuzzEvaluatePod builds a pod from fuzzed restart counts, reasons,
// messages and timestamps, evaluates it twice against one history, and
// checks that nothing panics and every result is well formed.
func FuzzEvaluatePod(f *testing.F) {
	f.Add(int32(0), int32(5), "CrashLoopBackOff", "OOMKilled", "back-off", int64(30), int64(300), uint8(1), false, false)
	f.Add(int32(40), int32(40), "ImagePullBackOff", "", "", int64(-5), int64(10), uint8(0), true, false)
	f.Add(int32(9), int32(2), "", "OOMKilled", "\xff\xfe", int64(1<<40), int64(-1<<40), uint8(3), false, true)
	f.Add(int32(-3), int32(1<<30), "ErrImagePull", "Error", "x", int64(0), int64(0), uint8(2), false, false)

	phases := []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown, ""}
	cfg := DefaultConfig()
	f.Fuzz(func(t *testing.T, before, after int32, waitReason, termReason, message string,
		finishedAgoSec, notReadyAgoSec int64, phaseIndex uint8, ready, deleting bool) {
		build := func(count int32) *corev1.Pod {
			// Keep timestamps within what time.Time and UnixNano can hold.
			finished := metav1.NewTime(now.Add(-time.Duration(finishedAgoSec%(1<<32)) * time.Second))
			transition := metav1.NewTime(now.Add(-time.Duration(notReadyAgoSec%(1<<32)) * time.Second))
			readyStatus := corev1.ConditionFalse
			if ready {
				readyStatus = corev1.ConditionTrue
			}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "fuzz", Namespace: "shop", UID: "fuzz-uid"},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: message}}},
				Status: corev1.PodStatus{
					Phase:      phases[int(phaseIndex)%len(phases)],
					Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: readyStatus, LastTransitionTime: transition, Message: message}},
					InitContainerStatuses: []corev1.ContainerStatus{{
						Name: "init", RestartCount: count,
						State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: termReason, FinishedAt: finished, Message: message}},
					}},
					ContainerStatuses: []corev1.ContainerStatus{{
						Name: "app", RestartCount: count, Ready: ready,
						State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waitReason, Message: message}},
						LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: termReason, FinishedAt: finished}},
					}},
				},
			}
			if deleting {
				pod.DeletionTimestamp = &finished
			}
			return pod
		}
		h := NewRestartHistory(0)
		first := EvaluatePod(build(before), h, now.Add(-time.Minute), cfg)
		for _, f := range first.Findings {
			if f.Type == platformv1alpha1.SignalPodRestart {
				t.Errorf("the baseline observation fired pod_restart: %+v", f)
			}
		}
		for _, r := range []Result{first, EvaluatePod(build(after), h, now, cfg)} {
			checkInvariants(t, r)
			seen := map[string]bool{}
			for _, f := range r.Findings {
				if f.Type != platformv1alpha1.SignalPodNotReady && f.Container == "" {
					t.Errorf("container finding %s names no container", f.Type)
				}
				key := string(f.Type) + "/" + f.Container
				if seen[key] {
					t.Errorf("finding %s reported twice", key)
				}
				seen[key] = true
			}
			checkFolded(t, r.Findings, FoldSymptoms(r.Findings))
			if r.RecheckAfter > cfg.NotReadyGrace {
				t.Errorf("RecheckAfter %v beyond the only grace a pod has", r.RecheckAfter)
			}
		}
	})
}
