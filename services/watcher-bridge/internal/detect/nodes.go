package detect

import (
	"math"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// nodePressure maps the node conditions that are bad when True to their
// signal and the word a description uses. MemoryPressure becomes
// memory_high, as the ChatCLI alert mapping does.
var nodePressure = []struct {
	condition corev1.NodeConditionType
	signal    platformv1alpha1.SignalType
	name      string
}{
	{corev1.NodeMemoryPressure, platformv1alpha1.SignalMemoryHigh, "MemoryPressure"},
	{corev1.NodeDiskPressure, platformv1alpha1.SignalDiskPressure, "DiskPressure"},
	{corev1.NodePIDPressure, platformv1alpha1.SignalPIDPressure, "PIDPressure"},
	{corev1.NodeNetworkUnavailable, platformv1alpha1.SignalNetworkUnavailable, "NetworkUnavailable"},
}

// EvaluateNode returns the problems a node shows at now. Node findings are
// about the cluster-scoped Node itself; a cordoned node still reports them
// (cordoning stops new pods, not the old ones' trouble), and the
// description says it is cordoned.
//
//   - node_not_ready: Ready is False or Unknown for NodeNotReadyGrace,
//     measured from the condition's lastTransitionTime; within the grace,
//     RecheckAfter is the time left.
//   - memory_high, disk_pressure, pid_pressure, network_unavailable: the
//     MemoryPressure, DiskPressure, PIDPressure or NetworkUnavailable
//     condition is True. A node whose kubelet stopped reporting has these
//     at Unknown, which is node_not_ready's business.
//   - pod_capacity_high: podsOnNode is at least PodCapacityRatio of
//     status.allocatable.pods. The caller counts the non-terminal pods
//     bound to the node (as the scheduler does: not Succeeded, not Failed).
//
// Nodes being deleted are not reported.
func EvaluateNode(n *corev1.Node, podsOnNode int, now time.Time, cfg Config) Result {
	var r Result
	if n == nil || n.DeletionTimestamp != nil {
		return r
	}
	cordoned := ""
	if n.Spec.Unschedulable {
		cordoned = " (cordoned)"
	}

	if ready := nodeCondition(n, corev1.NodeReady); ready != nil && ready.Status != corev1.ConditionTrue {
		d := cfg.NodeNotReadyGrace // no timestamp: take the grace as spent
		if !ready.LastTransitionTime.IsZero() {
			d = elapsed(now, ready.LastTransitionTime.Time)
		}
		if d < cfg.NodeNotReadyGrace {
			r.recheck(cfg.NodeNotReadyGrace - d)
		} else {
			r.add(platformv1alpha1.SignalNodeNotReady, "", human(d), human(cfg.NodeNotReadyGrace),
				"NodeNotReady on %s%s: Ready has been %s for %s%s",
				n.Name, cordoned, ready.Status, human(d), quote(ready.Reason, ready.Message))
		}
	}

	for _, p := range nodePressure {
		if c := nodeCondition(n, p.condition); c != nil && c.Status == corev1.ConditionTrue {
			r.add(p.signal, "", "", "", "%s on %s%s: condition %s is True%s",
				p.name, n.Name, cordoned, p.name, quote(c.Reason, c.Message))
		}
	}

	if q, ok := n.Status.Allocatable[corev1.ResourcePods]; ok && q.Value() > 0 && podsOnNode >= 0 {
		capacity := q.Value()
		// Compare in integers: 0.9*110 is not exactly 99 in floating point.
		limit := max(1, int64(math.Ceil(cfg.PodCapacityRatio*float64(capacity)-1e-9)))
		if int64(podsOnNode) >= limit {
			r.add(platformv1alpha1.SignalPodCapacityHigh, "", strconv.Itoa(podsOnNode), strconv.FormatInt(limit, 10),
				"PodCapacityHigh on %s%s: %d of %d pod slots in use (%d%%)",
				n.Name, cordoned, podsOnNode, capacity, int64(podsOnNode)*100/capacity)
		}
	}
	return r
}

func nodeCondition(n *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}
