package watch

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// TestPodRecordKeepsWhatDetectionReads checks that the detectors find the
// same faults in the rebuilt pod as in the full one.
func TestPodRecordKeepsWhatDetectionReads(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	long := metav1.NewTime(now.Add(-10 * time.Minute))
	recent := metav1.NewTime(now.Add(-30 * time.Second))
	base := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "api-7d9c-abcde", Namespace: "prod", UID: "pod-uid",
				Labels: map[string]string{"app": "api"}, Annotations: map[string]string{"a": "b"}},
			Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{
				Name: "app", Image: "api:1.0", Env: []corev1.EnvVar{{Name: "X", Value: "y"}},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
					corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("1")}},
			}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &long, PodIP: "10.0.0.1",
				Conditions: []corev1.PodCondition{
					{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: long},
					{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: long},
				}},
		}
	}
	tests := map[string]struct {
		reason string
		status []corev1.ContainerStatus
	}{
		"OOMKilledCrashLooping": {
			reason: "an OOM quotes the memory limit, and the crash loop the image",
			status: []corev1.ContainerStatus{{Name: "app", RestartCount: 7, ImageID: "sha",
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137, FinishedAt: recent}},
			}},
		},
		"ImagePull": {
			reason: "an image pull error names the image from the spec when the status has none",
			status: []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}},
		},
		"NotReady": {
			reason: "a running pod unready beyond the grace",
			status: []corev1.ContainerStatus{{Name: "app", Image: "api:1.0", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: long}}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			full := base()
			full.Status.ContainerStatuses = tc.status
			want := detect.EvaluatePod(full, nil, now, detect.DefaultConfig())
			got := detect.EvaluatePod(newPodRecord(full.DeepCopy()).pod(), nil, now, detect.DefaultConfig())
			if len(want.Findings) == 0 {
				t.Fatalf("%s: the full pod shows no fault; the case proves nothing", tc.reason)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: findings differ (-full +record):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestPodRecordKeepsTheLimitsUsageIsJudgedBy: cpu_high and memory_high
// come out the same from the rebuilt pod as from the full one.
func TestPodRecordKeepsTheLimitsUsageIsJudgedBy(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cfg := detect.DefaultConfig()
	full := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api-7d9c-abcde", Namespace: "prod", UID: "pod-uid"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "api:1.0",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
				corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("1")}},
		}}},
	}
	usage := []detect.ContainerUsage{{Name: "app", CPU: resource.MustParse("950m"), Memory: resource.MustParse("62Mi")}}
	evaluate := func(p *corev1.Pod) detect.Result {
		tracker := detect.NewUnhealthySince(0)
		detect.EvaluateUsage(p, usage, tracker, now.Add(-10*time.Minute), cfg)
		return detect.EvaluateUsage(p, usage, tracker, now, cfg)
	}
	want := evaluate(full)
	if len(want.Findings) != 2 {
		t.Fatalf("the full pod shows %d usage findings, want 2; the case proves nothing", len(want.Findings))
	}
	if diff := cmp.Diff(want, evaluate(newPodRecord(full.DeepCopy()).pod())); diff != "" {
		t.Errorf("findings differ (-full +record):\n%s", diff)
	}
}
