package builtin

import (
	"fmt"
	"strconv"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
)

// High latency or CPU on a healthy Deployment or StatefulSet without a
// failing rollout: one more replica spreads the load. Confidence 0.45:
// more replicas help load, not a slow dependency.
var _ = register(40, Rule{
	Name:       "scale-out-under-load",
	Signals:    []platformv1alpha1.SignalType{platformv1alpha1.SignalLatency, platformv1alpha1.SignalCPUHigh},
	Confidence: 0.45,
	Decide: func(in Input) (Finding, bool) {
		var t platformv1alpha1.ActionType
		switch in.Resource.Kind {
		case k8sctx.KindDeployment:
			t = platformv1alpha1.ActionScaleDeployment
		case k8sctx.KindStatefulSet:
			t = platformv1alpha1.ActionScaleStatefulSet
		default:
			return Finding{}, false
		}
		w := in.Context.Workload
		if w == nil || w.Desired <= 0 {
			return Finding{}, false // scaled to zero on purpose, or unknown
		}
		to := w.Desired + 1
		return Finding{
			Analysis: fmt.Sprintf("%s %s/%s reports %s at %d replicas (%d ready).",
				in.Resource.Kind, in.Resource.Namespace, in.Resource.Name, in.Signal, w.Desired, w.Ready),
			Recommendations: []string{"If an HPA manages the workload, raise its bounds instead; check slow dependencies."},
			Actions:         []platformv1alpha1.SuggestedAction{action(t, fmt.Sprintf("Scale from %d to %d replicas", w.Desired, to), map[string]string{"replicas": strconv.Itoa(int(to))})},
		}, true
	},
})
