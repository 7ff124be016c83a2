package builtin

import (
	"fmt"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
)

// A node that is not ready, or under disk or PID pressure, or without a
// network, should get no new pods: cordon it. Draining is left to people
// (it evicts running pods). Confidence 0.75; a node already cordoned
// needs nothing more from the platform.
var _ = register(30, Rule{
	Name: "cordon-unhealthy-node",
	Signals: []platformv1alpha1.SignalType{
		platformv1alpha1.SignalNodeNotReady, platformv1alpha1.SignalDiskPressure,
		platformv1alpha1.SignalPIDPressure, platformv1alpha1.SignalNetworkUnavailable,
	},
	Confidence: 0.75,
	Decide: func(in Input) (Finding, bool) {
		if in.Resource.Kind != k8sctx.KindNode {
			return Finding{}, false
		}
		conds := ""
		if n := in.Context.Node; n != nil {
			for _, c := range n.Conditions {
				if (c.Type == "Ready" && c.Status != "True") || (c.Type != "Ready" && c.Status == "True") {
					conds += fmt.Sprintf(" %s=%s (%s)", c.Type, c.Status, c.Reason)
				}
			}
			if n.Unschedulable {
				return Finding{
					Analysis:        fmt.Sprintf("Node %s is unhealthy (%s) and already cordoned.", in.Resource.Name, in.Signal),
					Recommendations: []string{"Repair or replace the node, then uncordon it."},
				}, true
			}
		}
		return Finding{
			Analysis:        fmt.Sprintf("Node %s reports %s:%s. New pods scheduled there would fail.", in.Resource.Name, in.Signal, conds),
			Recommendations: []string{"Repair or replace the node, then uncordon it; drain it by hand if its pods do not recover."},
			Actions:         []platformv1alpha1.SuggestedAction{action(platformv1alpha1.ActionCordonNode, "Stop scheduling new pods on the node", nil)},
		}, true
	},
})
