package watch

import (
	"regexp"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// Node faults are cluster-wide, so the node tests never run in parallel
// (see startHarness).

func TestNodeConditionsBecomeAnomaliesInTheFallbackNamespace(t *testing.T) {
	h := startHarness(t, configWith(func(c *detect.Config) { c.NodeNotReadyGrace = 2 * time.Second }))
	tests := map[string]struct {
		suffix    string
		condition corev1.NodeCondition
		signal    platformv1alpha1.SignalType
		severity  platformv1alpha1.SignalSeverity
		// prefix and description make the expected description, a
		// regular expression around the node's name.
		prefix, description string
	}{
		"Ready False since long before the grace": {
			suffix: "not-ready",
			condition: corev1.NodeCondition{
				Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady",
				Message: "container runtime network not ready", LastTransitionTime: metav1.NewTime(time.Now().Add(-5 * time.Minute)),
			},
			signal: platformv1alpha1.SignalNodeNotReady, prefix: "NodeNotReady", severity: critical,
			description: `: Ready has been False for 5m(\d+s)? \(KubeletNotReady: container runtime network not ready\)$`,
		},
		// The node lifecycle controller's verdict on a silent kubelet. Only
		// the detector's recheck sees the grace run out.
		"Ready Unknown until the grace runs out": {
			suffix: "unknown",
			condition: corev1.NodeCondition{
				Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown",
				Message: "Kubelet stopped posting node status.",
			},
			signal: platformv1alpha1.SignalNodeNotReady, prefix: "NodeNotReady", severity: critical,
			description: `: Ready has been Unknown for \d+s \(NodeStatusUnknown: Kubelet stopped posting node status\.\)$`,
		},
		"MemoryPressure": {
			suffix: "memory",
			condition: corev1.NodeCondition{
				Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasInsufficientMemory",
				Message: "kubelet has insufficient memory available",
			},
			signal: platformv1alpha1.SignalMemoryHigh, prefix: "MemoryPressure", severity: medium,
			description: `: condition MemoryPressure is True \(KubeletHasInsufficientMemory: kubelet has insufficient memory available\)$`,
		},
		"DiskPressure": {
			suffix: "disk",
			condition: corev1.NodeCondition{
				Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasDiskPressure",
				Message: "kubelet has disk pressure",
			},
			signal: platformv1alpha1.SignalDiskPressure, prefix: "DiskPressure", severity: medium,
			description: `: condition DiskPressure is True \(KubeletHasDiskPressure: kubelet has disk pressure\)$`,
		},
		"PIDPressure": {
			suffix: "pid",
			condition: corev1.NodeCondition{
				Type: corev1.NodePIDPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasInsufficientPID",
				Message: "kubelet has insufficient PID available",
			},
			signal: platformv1alpha1.SignalPIDPressure, prefix: "PIDPressure", severity: medium,
			description: `: condition PIDPressure is True \(KubeletHasInsufficientPID: kubelet has insufficient PID available\)$`,
		},
		"NetworkUnavailable": {
			suffix: "network",
			condition: corev1.NodeCondition{
				Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionTrue, Reason: "NoRouteCreated",
				Message: "Node created without a route",
			},
			signal: platformv1alpha1.SignalNetworkUnavailable, prefix: "NetworkUnavailable", severity: medium,
			description: `: condition NetworkUnavailable is True \(NoRouteCreated: Node created without a route\)$`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h, g := h.within(t), NewWithT(t)
			node := h.node(tc.suffix)
			condition := tc.condition
			if condition.LastTransitionTime.IsZero() {
				condition.LastTransitionTime = metav1.Now() // the condition turns now
			}
			h.setStatus(node, func() { node.Status = nodeStatus(110, condition) })

			a := h.eventuallyAnomalyOn(g, tc.signal, "Node", node.Name)
			g.Expect(a.Namespace).To(Equal(h.ns), "a cluster-scoped resource's Anomaly goes to the fallback namespace")
			g.Expect(a.Spec.Resource).To(Equal(liveRef(t, "Node", "", node.Name)))
			g.Expect(a.Spec.Source).To(Equal(platformv1alpha1.SourceWatcher))
			g.Expect(a.Spec.Severity).To(Equal(tc.severity))
			g.Expect(a.Spec.Description).To(MatchRegexp("^%s on %s%s", tc.prefix, regexp.QuoteMeta(node.Name), tc.description))
		})
	}
}

func TestAFullNodeBecomesPodCapacityHigh(t *testing.T) {
	h := startHarness(t, detect.DefaultConfig())
	g := NewWithT(t)
	// The kubelet registers the node first; the scheduler binds pods later.
	node := h.node("full")
	h.setStatus(node, func() { node.Status = nodeStatus(2) })

	// A finished pod holds no slot.
	done := h.pod("report-1", node.Name)
	h.setStatus(done, func() { done.Status = succeededPodStatus() })
	// A node fills up with whatever runs on it: a pod of a namespace out
	// of scope (kube-system, another team's) takes a slot too.
	unwatched := h.in(env.NewNamespace(t, "unwatched", nil))
	for _, pod := range []*corev1.Pod{h.pod("web-1", node.Name), unwatched.pod("agent-1", node.Name)} {
		h.setStatus(pod, func() { pod.Status = runningPodStatus(0) })
	}

	a := h.eventuallyAnomalyOn(g, platformv1alpha1.SignalPodCapacityHigh, "Node", node.Name)
	g.Expect(a.Namespace).To(Equal(h.ns))
	g.Expect(a.Spec.Resource).To(Equal(liveRef(t, "Node", "", node.Name)))
	g.Expect(a.Spec.Severity).To(Equal(medium))
	g.Expect(a.Spec.Description).To(Equal("PodCapacityHigh on " + node.Name + ": 2 of 2 pod slots in use (100%)"))
	g.Expect(a.Spec.Value).To(Equal("2"))
	g.Expect(a.Spec.Threshold).To(Equal("2"))
	// The Anomaly may fire before the finished pod leaves the count; the
	// count itself must settle at the two running pods.
	podsOnNode := func() int { return h.detector.podsOnNode(node.Name) }
	g.Eventually(podsOnNode).WithTimeout(10 * time.Second).Should(Equal(2))
	g.Consistently(podsOnNode).WithTimeout(time.Second).Should(Equal(2), "a finished pod holds no slot")
}

// nodeStatus is what a kubelet reports for a healthy node with room for
// the given pods, with some conditions replaced.
func nodeStatus(pods int64, replace ...corev1.NodeCondition) corev1.NodeStatus {
	now := metav1.Now()
	conditions := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID"},
		{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"},
	}
	for i := range conditions {
		conditions[i].LastHeartbeatTime, conditions[i].LastTransitionTime = now, now
		for _, r := range replace {
			if r.Type == conditions[i].Type {
				conditions[i] = r
			}
		}
	}
	resources := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods:   *resource.NewQuantity(pods, resource.DecimalSI),
	}
	return corev1.NodeStatus{Capacity: resources, Allocatable: resources, Conditions: conditions}
}

// succeededPodStatus is a pod whose only container ran to completion.
func succeededPodStatus() corev1.PodStatus {
	now := metav1.Now()
	return corev1.PodStatus{
		Phase: corev1.PodSucceeded,
		Conditions: []corev1.PodCondition{{
			Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "PodCompleted", LastTransitionTime: now,
		}},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Image: "app:1.0",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: metav1.NewTime(now.Add(-time.Minute)), FinishedAt: now,
			}},
		}},
	}
}
