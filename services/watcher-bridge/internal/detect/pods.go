package detect

import (
	"fmt"
	"strconv"
	"time"

	"github.com/chatcli/aiops/libs/signals"

	corev1 "k8s.io/api/core/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
)

const (
	reasonOOMKilled        = "OOMKilled"
	reasonCrashLoopBackOff = "CrashLoopBackOff"
)

// EvaluatePod returns the problems a pod shows at now, container by
// container (init containers first, in status order) and then pod_not_ready:
//
//   - pod_restart: a container's restart count rose by RestartThreshold or
//     more within RestartWindow. history records every observation, so
//     EvaluatePod is meant to be called on each informer update of the pod;
//     the first observation of a container is only its baseline. A nil
//     history turns this rule off.
//   - oom_kill: the container's current or last termination is OOMKilled
//     and finished within RestartWindow; an older one is not news.
//   - crashloop_backoff: the container waits in CrashLoopBackOff.
//   - image_pull_error: the container waits for an image it cannot get
//     (see k8sctx.IsImagePullReason).
//   - pod_not_ready: the pod is Running, not being deleted, and its Ready
//     condition has not been True for NotReadyGrace, measured from the
//     condition's lastTransitionTime; within the grace, RecheckAfter is the
//     time left.
//
// One container can show several of these at once (an OOM kill that led
// to a crash loop and a burst of restarts); all are returned, and
// FoldSymptoms makes them one finding of their cause.
func EvaluatePod(pod *corev1.Pod, history *RestartHistory, now time.Time, cfg Config) Result {
	var r Result
	if pod == nil {
		return r
	}
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for i := range statuses {
			evaluateContainer(&r, pod, &statuses[i], history, now, cfg)
		}
	}
	evaluateReadiness(&r, pod, now, cfg)
	return r
}

func evaluateContainer(r *Result, pod *corev1.Pod, cs *corev1.ContainerStatus, history *RestartHistory, now time.Time, cfg Config) {
	if history != nil {
		rise := history.Observe(pod.UID, cs.Name, now, cs.RestartCount, cfg.RestartWindow)
		if rise >= cfg.RestartThreshold && rise > 0 {
			r.add(platformv1alpha1.SignalPodRestart, cs.Name, strconv.Itoa(int(rise)), strconv.Itoa(int(cfg.RestartThreshold)),
				"HighRestartCount on %s: container %s restarted %d times in the last %s (%d in total%s)",
				pod.Name, cs.Name, rise, human(cfg.RestartWindow), cs.RestartCount, lastExit(cs))
		}
	}

	if oom := oomTermination(cs); oom != nil && !oom.FinishedAt.IsZero() {
		if ago := elapsed(now, oom.FinishedAt.Time); ago <= cfg.RestartWindow {
			limit := memoryLimit(pod, cs.Name)
			what := "was OOM-killed without a memory limit of its own"
			if limit != "" {
				what = "was OOM-killed at its memory limit of " + limit
			}
			r.add(platformv1alpha1.SignalOOMKill, cs.Name, "", limit,
				"OOMKilled on %s: container %s %s %s ago", pod.Name, cs.Name, what, human(ago))
		}
	}

	w := cs.State.Waiting
	switch {
	case w == nil:
	case w.Reason == reasonCrashLoopBackOff:
		r.add(platformv1alpha1.SignalCrashLoopBackOff, cs.Name, strconv.Itoa(int(cs.RestartCount)), "",
			"CrashLoopBackOff on %s: container %s keeps crashing after %d restarts%s",
			pod.Name, cs.Name, cs.RestartCount, lastExit(cs))
	case k8sctx.IsImagePullReason(w.Reason):
		r.add(platformv1alpha1.SignalImagePullError, cs.Name, "", "",
			"ImagePullError on %s: container %s cannot get image %q%s",
			pod.Name, cs.Name, signals.Truncate(containerImage(pod, cs), maxMessage), quote(w.Reason, w.Message))
	}
}

// oomTermination is the container's OOM kill, current or last, if any.
func oomTermination(cs *corev1.ContainerStatus) *corev1.ContainerStateTerminated {
	if t := cs.State.Terminated; t != nil && t.Reason == reasonOOMKilled {
		return t
	}
	if t := cs.LastTerminationState.Terminated; t != nil && t.Reason == reasonOOMKilled {
		return t
	}
	return nil
}

// lastExit describes the container's last termination as a clause to
// append, or gives "" when the kubelet recorded none.
func lastExit(cs *corev1.ContainerStatus) string {
	t := cs.LastTerminationState.Terminated
	if t == nil {
		return ""
	}
	reason := t.Reason
	if reason == "" {
		reason = "unknown reason"
	}
	return fmt.Sprintf(", last exit %s, code %d", signals.Truncate(reason, maxMessage), t.ExitCode)
}

func evaluateReadiness(r *Result, pod *corev1.Pod, now time.Time, cfg Config) {
	if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
		return
	}
	var ready *corev1.PodCondition
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			ready = &pod.Status.Conditions[i]
		}
	}
	if ready == nil || ready.Status == corev1.ConditionTrue {
		return
	}
	since := ready.LastTransitionTime.Time
	if since.IsZero() && pod.Status.StartTime != nil {
		since = pod.Status.StartTime.Time
	}
	if since.IsZero() {
		// Nothing says how long; wait a grace from now.
		r.recheck(cfg.NotReadyGrace)
		return
	}
	d := elapsed(now, since)
	if d < cfg.NotReadyGrace {
		r.recheck(cfg.NotReadyGrace - d)
		return
	}
	r.add(platformv1alpha1.SignalPodNotReady, firstUnready(pod), human(d), human(cfg.NotReadyGrace),
		"PodNotReady on %s: running but not ready for %s%s", pod.Name, human(d), quote(ready.Reason, ready.Message))
}

// firstUnready names the first running container (a sidecar or a regular
// one) that is not ready, or "" when the pod is held back by something
// else (a readiness gate). Init containers that ran to completion are
// never ready and are not the cause.
func firstUnready(pod *corev1.Pod) string {
	for _, cs := range pod.Status.InitContainerStatuses {
		if !cs.Ready && cs.State.Terminated == nil {
			return cs.Name
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if !cs.Ready {
			return cs.Name
		}
	}
	return ""
}

// memoryLimit is the container's memory limit as written in its spec, or "".
func memoryLimit(pod *corev1.Pod, name string) string {
	if c := containerSpec(pod, name); c != nil {
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			return q.String()
		}
	}
	return ""
}

func containerImage(pod *corev1.Pod, cs *corev1.ContainerStatus) string {
	if cs.Image != "" {
		return cs.Image
	}
	if c := containerSpec(pod, cs.Name); c != nil {
		return c.Image
	}
	return ""
}

func containerSpec(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
