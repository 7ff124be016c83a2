package detect

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// testNode is a Ready node without pressure and 110 pod slots.
func testNode(opts ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "worker-3", UID: "uid-worker-3"},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")},
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastTransitionTime: ago(24 * time.Hour)},
			},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

// nodeIs sets a condition, adding it when missing.
func nodeIs(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, message string, since time.Duration) func(*corev1.Node) {
	return func(n *corev1.Node) {
		c := corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: message, LastTransitionTime: ago(since)}
		for i := range n.Status.Conditions {
			if n.Status.Conditions[i].Type == t {
				n.Status.Conditions[i] = c
				return
			}
		}
		n.Status.Conditions = append(n.Status.Conditions, c)
	}
}

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

func TestEvaluateNode(t *testing.T) {
	type args struct {
		node *corev1.Node
		pods int
	}
	cfg := DefaultConfig()
	cases := map[string]struct {
		reason string
		args   args
		want   Result
	}{
		"Healthy": {
			reason: "a Ready node with room",
			args:   args{node: testNode(), pods: 40},
		},
		"NotReady": {
			reason: "Ready False for 3m is critical",
			args: args{node: testNode(nodeIs(corev1.NodeReady, corev1.ConditionFalse, "KubeletNotReady",
				"container runtime is down", 3*time.Minute))},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalNodeNotReady, "", "3m", "1m",
				"NodeNotReady on worker-3: Ready has been False for 3m (KubeletNotReady: container runtime is down)")}},
		},
		"UnknownWithinGrace": {
			reason: "Ready Unknown for 20s: look again in 40s",
			args: args{node: testNode(nodeIs(corev1.NodeReady, corev1.ConditionUnknown, "NodeStatusUnknown",
				"Kubelet stopped posting node status.", 20*time.Second))},
			want: Result{RecheckAfter: 40 * time.Second},
		},
		"CordonedStillReports": {
			reason: "a cordoned node still reports its conditions, and says it is cordoned",
			args: args{node: testNode(cordoned, nodeIs(corev1.NodeReady, corev1.ConditionUnknown, "NodeStatusUnknown",
				"Kubelet stopped posting node status.", 10*time.Minute))},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalNodeNotReady, "", "10m", "1m",
				"NodeNotReady on worker-3 (cordoned): Ready has been Unknown for 10m (NodeStatusUnknown: Kubelet stopped posting node status.)")}},
		},
		"Pressure": {
			reason: "every pressure condition and NetworkUnavailable report at once, in a fixed order",
			args: args{node: testNode(
				nodeIs(corev1.NodeNetworkUnavailable, corev1.ConditionTrue, "NoRouteCreated", "Node created without a route", time.Minute),
				nodeIs(corev1.NodePIDPressure, corev1.ConditionTrue, "KubeletHasInsufficientPID", "kubelet has insufficient PID available", time.Minute),
				nodeIs(corev1.NodeDiskPressure, corev1.ConditionTrue, "KubeletHasDiskPressure", "kubelet has disk pressure", time.Second),
				nodeIs(corev1.NodeMemoryPressure, corev1.ConditionTrue, "KubeletHasInsufficientMemory", "kubelet has insufficient memory available", time.Second),
			)},
			want: Result{Findings: []Finding{
				finding(platformv1alpha1.SignalMemoryHigh, "", "", "",
					"MemoryPressure on worker-3: condition MemoryPressure is True (KubeletHasInsufficientMemory: kubelet has insufficient memory available)"),
				finding(platformv1alpha1.SignalDiskPressure, "", "", "",
					"DiskPressure on worker-3: condition DiskPressure is True (KubeletHasDiskPressure: kubelet has disk pressure)"),
				finding(platformv1alpha1.SignalPIDPressure, "", "", "",
					"PIDPressure on worker-3: condition PIDPressure is True (KubeletHasInsufficientPID: kubelet has insufficient PID available)"),
				finding(platformv1alpha1.SignalNetworkUnavailable, "", "", "",
					"NetworkUnavailable on worker-3: condition NetworkUnavailable is True (NoRouteCreated: Node created without a route)"),
			}},
		},
		"PressureUnknown": {
			reason: "pressure conditions at Unknown are node_not_ready's business",
			args:   args{node: testNode(nodeIs(corev1.NodeDiskPressure, corev1.ConditionUnknown, "NodeStatusUnknown", "", time.Hour))},
		},
		"PodCapacityHigh": {
			reason: "99 of 110 slots is 90%: exactly at the ratio",
			args:   args{node: testNode(), pods: 99},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalPodCapacityHigh, "", "99", "99",
				"PodCapacityHigh on worker-3: 99 of 110 pod slots in use (90%)")}},
		},
		"PodCapacityBelow": {
			reason: "98 of 110 slots is below 90%",
			args:   args{node: testNode(), pods: 98},
		},
		"NoAllocatablePods": {
			reason: "without allocatable pods there is no ratio",
			args:   args{node: testNode(func(n *corev1.Node) { n.Status.Allocatable = nil }), pods: 500},
		},
		"Deleting": {
			reason: "a node being deleted is going away on purpose",
			args: args{node: testNode(nodeIs(corev1.NodeReady, corev1.ConditionFalse, "", "", time.Hour), func(n *corev1.Node) {
				n.DeletionTimestamp = agoPtr(time.Minute)
			})},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := EvaluateNode(tc.args.node, tc.args.pods, now, cfg)
			diffResult(t, tc.reason, tc.want, got)
			checkInvariants(t, got)
		})
	}
}
