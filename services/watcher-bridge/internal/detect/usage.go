package detect

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// ContainerUsage is what the metrics API measured of one container: its
// CPU and its working-set memory.
type ContainerUsage struct {
	Name        string
	CPU, Memory resource.Quantity
}

// EvaluateUsage reports cpu_high and memory_high when a container has used
// UsageRatio or more of its limit (spec resources.limits) at every poll for
// UsageGrace, timed by tracker from the first poll above it; a container
// without a limit of that resource is not judged. Below the ratio its wait
// is forgotten. usage comes from metrics.k8s.io PodMetrics; a nil tracker
// turns the rule off.
func EvaluateUsage(pod *corev1.Pod, usage []ContainerUsage, tracker *UnhealthySince, now time.Time, cfg Config) Result {
	var r Result
	if pod == nil || tracker == nil {
		return r
	}
	for _, u := range usage {
		spec := containerSpec(pod, u.Name)
		if spec == nil {
			continue
		}
		for _, res := range []struct {
			signal platformv1alpha1.SignalType
			name   corev1.ResourceName
			used   resource.Quantity
		}{
			{platformv1alpha1.SignalCPUHigh, corev1.ResourceCPU, u.CPU},
			{platformv1alpha1.SignalMemoryHigh, corev1.ResourceMemory, u.Memory},
		} {
			limit, ok := spec.Resources.Limits[res.name]
			if !ok || limit.IsZero() {
				continue
			}
			key := usageKey(pod.UID, u.Name, res.name)
			ratio := float64(res.used.MilliValue()) / float64(limit.MilliValue())
			if ratio < cfg.UsageRatio {
				tracker.Forget(key)
				continue
			}
			since, tracked := tracker.observe(key, now, 0)
			if !tracked {
				continue
			}
			d := elapsed(now, since)
			if d < cfg.UsageGrace {
				r.recheck(cfg.UsageGrace - d)
				continue
			}
			r.add(res.signal, u.Name, percent(ratio), percent(cfg.UsageRatio),
				"%s on %s: container %s used %s of its %s limit of %s (%s) for %s",
				usageReason[res.name], pod.Name, u.Name, percent(ratio), res.name, limit.String(), res.used.String(), human(d))
		}
	}
	return r
}

var usageReason = map[corev1.ResourceName]string{corev1.ResourceCPU: "CPUHigh", corev1.ResourceMemory: "MemoryHigh"}

// ForgetUsage drops the waits of a pod's containers, for a pod the metrics
// API no longer reports.
func ForgetUsage(tracker *UnhealthySince, pod *corev1.Pod) {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			tracker.Forget(usageKey(pod.UID, c.Name, corev1.ResourceCPU))
			tracker.Forget(usageKey(pod.UID, c.Name, corev1.ResourceMemory))
		}
	}
}

// usageKey names one container's resource in an UnhealthySince.
func usageKey(uid types.UID, container string, res corev1.ResourceName) types.UID {
	return types.UID(fmt.Sprintf("%s/%s/%s", uid, container, res))
}

func percent(ratio float64) string { return strconv.Itoa(int(ratio*100+0.5)) + "%" }

// Merge adds another evaluation's findings and keeps the earliest recheck.
func (r *Result) Merge(o Result) {
	r.Findings = append(r.Findings, o.Findings...)
	r.recheck(o.RecheckAfter)
}
