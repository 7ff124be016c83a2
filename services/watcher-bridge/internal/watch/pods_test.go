package watch

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

var (
	critical = platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityCritical)
	high     = platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityHigh)
	medium   = platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityMedium)
)

func TestPodFaultsBecomeAnomaliesOnTheDeployment(t *testing.T) {
	tests := map[string]struct {
		cfg         detect.Config
		status      func() corev1.PodStatus
		signal      platformv1alpha1.SignalType
		severity    platformv1alpha1.SignalSeverity
		description string
	}{
		"the kernel OOM-killed the container a moment ago": {
			cfg: detect.DefaultConfig(), status: oomKilledStatus,
			signal: platformv1alpha1.SignalOOMKill, severity: critical,
			description: "container app was OOM-killed at its memory limit of 256Mi",
		},
		"the container waits in CrashLoopBackOff": {
			cfg: detect.DefaultConfig(), status: crashLoopStatus,
			signal: platformv1alpha1.SignalCrashLoopBackOff, severity: high,
			description: "container app keeps crashing after 5 restarts, last exit Error, code 1",
		},
		"the image cannot be pulled (ImagePullBackOff)": {
			cfg: detect.DefaultConfig(), status: func() corev1.PodStatus { return imagePullStatus("ImagePullBackOff") },
			signal: platformv1alpha1.SignalImagePullError, severity: high,
			description: `cannot get image "checkout:1.0" (ImagePullBackOff: Back-off pulling image`,
		},
		"the image cannot be pulled (ErrImagePull)": {
			cfg: detect.DefaultConfig(), status: func() corev1.PodStatus { return imagePullStatus("ErrImagePull") },
			signal: platformv1alpha1.SignalImagePullError, severity: high,
			description: `cannot get image "checkout:1.0" (ErrImagePull:`,
		},
		"running but not ready since long before the grace": {
			cfg:    detect.DefaultConfig(),
			status: func() corev1.PodStatus { return notReadyStatus(time.Now().Add(-5 * time.Minute)) },
			signal: platformv1alpha1.SignalPodNotReady, severity: medium,
			description: "running but not ready for 5m",
		},
		// Nothing changes on the pod after its status is written: only the
		// detector's recheck can see the grace run out.
		"running but not ready until the grace runs out": {
			cfg:    configWith(func(c *detect.Config) { c.NotReadyGrace = 2 * time.Second }),
			status: func() corev1.PodStatus { return notReadyStatus(time.Now()) },
			signal: platformv1alpha1.SignalPodNotReady, severity: medium,
			description: "running but not ready for",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := startParallelHarness(t, tc.cfg, platformv1alpha1.WatchTarget{Name: "checkout", Kind: platformv1alpha1.KindDeployment})
			g := NewWithT(t)
			_, pod := h.deploymentWithPod("checkout")
			h.setStatus(pod, func() { pod.Status = tc.status() })

			a := h.eventuallyAnomaly(g, tc.signal)
			g.Expect(a.Namespace).To(Equal(h.ns))
			g.Expect(a.Spec.Resource).To(Equal(liveRef(t, "Deployment", h.ns, "checkout")))
			g.Expect(a.Spec.Source).To(Equal(platformv1alpha1.SourceWatcher))
			g.Expect(a.Spec.Severity).To(Equal(tc.severity))
			g.Expect(a.Spec.Description).To(ContainSubstring(tc.description))
			g.Expect(a.Spec.Description).To(ContainSubstring(pod.Name), "the description names the pod that showed the fault")
		})
	}
}

func TestPodFaultsAreAttributedToTheTopOwner(t *testing.T) {
	tests := map[string]struct {
		kind platformv1alpha1.WorkloadKind
		// workload creates the top owner and a pod under it.
		workload func(h *harness) *corev1.Pod
	}{
		"Pod → StatefulSet": {
			kind: platformv1alpha1.KindStatefulSet,
			workload: func(h *harness) *corev1.Pod {
				sts := h.statefulSet("ledger", 1)
				return h.pod("ledger-0", "", controllerRef(sts, "apps/v1", "StatefulSet"))
			},
		},
		"Pod → Job → CronJob": {
			kind: platformv1alpha1.KindCronJob,
			workload: func(h *harness) *corev1.Pod {
				cj := h.cronJob("ledger", "*/5 * * * *", false)
				ref := controllerRef(cj, "batch/v1", "CronJob")
				job := h.job("ledger-29170320", &ref)
				return h.pod("ledger-29170320-x7k2p", "", controllerRef(job, "batch/v1", "Job"))
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := startParallelHarness(t, detect.DefaultConfig(), platformv1alpha1.WatchTarget{Name: "ledger", Kind: tc.kind})
			g := NewWithT(t)
			pod := tc.workload(h)
			h.setStatus(pod, func() { pod.Status = crashLoopStatus() })

			a := h.eventuallyAnomaly(g, platformv1alpha1.SignalCrashLoopBackOff)
			g.Expect(a.Spec.Resource).To(Equal(liveRef(t, string(tc.kind), h.ns, "ledger")))
			g.Expect(a.Spec.Source).To(Equal(platformv1alpha1.SourceWatcher))
			g.Expect(a.Spec.Description).To(ContainSubstring(pod.Name))
		})
	}
}

// oomKilledStatus is a pod whose container the kernel killed at its memory
// limit a moment ago and the kubelet restarted.
func oomKilledStatus() corev1.PodStatus {
	s := runningPodStatus(1)
	now := metav1.Now()
	s.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: 137, Reason: "OOMKilled",
		StartedAt: metav1.NewTime(now.Add(-time.Minute)), FinishedAt: now,
	}}
	return s
}

// crashLoopStatus is a pod whose container exits at once and waits out the
// kubelet's back-off.
func crashLoopStatus() corev1.PodStatus {
	now := metav1.Now()
	return corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{{
			Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady",
			Message: "containers with unready status: [app]", LastTransitionTime: now,
		}},
		StartTime: &now,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Image: "app:1.0", RestartCount: 5, Started: ptr.To(false),
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason: "CrashLoopBackOff", Message: "back-off 2m40s restarting failed container=app",
			}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 1, Reason: "Error", StartedAt: metav1.NewTime(now.Add(-3 * time.Second)), FinishedAt: now,
			}},
		}},
	}
}

// imagePullStatus is a pending pod whose image the kubelet cannot pull.
func imagePullStatus(reason string) corev1.PodStatus {
	now := metav1.Now()
	message := `Back-off pulling image "checkout:1.0"`
	if reason == "ErrImagePull" {
		message = `failed to pull and unpack image "docker.io/library/checkout:1.0": not found`
	}
	return corev1.PodStatus{
		Phase: corev1.PodPending,
		Conditions: []corev1.PodCondition{{
			Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: now,
		}},
		StartTime: &now,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Image: "checkout:1.0", Started: ptr.To(false),
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}},
		}},
	}
}

// notReadyStatus is a running pod whose readiness probe has failed since
// the given time.
func notReadyStatus(since time.Time) corev1.PodStatus {
	s := runningPodStatus(0)
	s.Conditions = []corev1.PodCondition{{
		Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady",
		Message: "containers with unready status: [app]", LastTransitionTime: metav1.NewTime(since),
	}}
	s.ContainerStatuses[0].Ready = false
	return s
}

// TestAnOOMKilledCrashLoopIsOneAnomalyWithItsSymptomsAsEvidence is the
// OOM triple: one look at the pod shows the OOM kill, the crash loop it
// caused and a burst of restarts. That is one fault, so one Anomaly, the
// cause, with the other two as its evidence; the next looks at the pod
// (more restarts of the same loop) are duplicates of it.
func TestAnOOMKilledCrashLoopIsOneAnomalyWithItsSymptomsAsEvidence(t *testing.T) {
	g := NewWithT(t)
	h := startParallelHarness(t, detect.DefaultConfig(), platformv1alpha1.WatchTarget{Name: "checkout", Kind: platformv1alpha1.KindDeployment})
	_, pod := h.deploymentWithPod("checkout")
	h.setStatus(pod, func() { pod.Status = runningPodStatus(0) })
	g.Consistently(h.anomalies).WithTimeout(defaultQuiet).Should(BeEmpty())

	h.setStatus(pod, func() { pod.Status = oomCrashLoopStatus(4) })
	a := h.eventuallyAnomaly(g, platformv1alpha1.SignalOOMKill)
	g.Expect(a.Spec.Evidence).To(HaveLen(2))
	g.Expect(a.Spec.Evidence[0].SignalType).To(Equal(platformv1alpha1.SignalPodRestart))
	g.Expect(a.Spec.Evidence[0].Value).To(Equal("4"))
	g.Expect(a.Spec.Evidence[0].Message).To(ContainSubstring("restarted 4 times"))
	g.Expect(a.Spec.Evidence[1].SignalType).To(Equal(platformv1alpha1.SignalCrashLoopBackOff))
	g.Expect(a.Spec.Evidence[1].Message).To(ContainSubstring("keeps crashing"))
	g.Expect(a.Spec.Description).To(ContainSubstring("symptoms folded in: pod_restart, crashloop_backoff"))
	for _, restarts := range []int32{5, 6, 7} {
		h.setStatus(pod, func() { pod.Status = oomCrashLoopStatus(restarts) })
	}
	g.Consistently(func() int { return len(h.anomalies()) }).WithTimeout(defaultQuiet).Should(Equal(1))
}

// oomCrashLoopStatus is what the kubelet writes for a container OOM-killed
// in a loop, between two restarts: waiting out its back-off, the last
// termination an OOM kill.
func oomCrashLoopStatus(restarts int32) corev1.PodStatus {
	s := crashLoopStatus()
	cs := &s.ContainerStatuses[0]
	cs.RestartCount = restarts
	cs.LastTerminationState.Terminated.ExitCode = 137
	cs.LastTerminationState.Terminated.Reason = "OOMKilled"
	return s
}
