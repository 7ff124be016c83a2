package builtin

import (
	"fmt"
	"strconv"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
)

// maxHPAReplicas is the highest ceiling the rule proposes; above, a person
// decides.
const maxHPAReplicas = 1000

// An HPA at its ceiling gets room: maxReplicas 1.5 times, at least one
// more, at most 10 more. Confidence 0.6: the load is real, but the budget
// for replicas is a person's choice, which the remediator's policy bounds.
var _ = register(30, Rule{
	Name:       "raise-hpa-ceiling",
	Signals:    []platformv1alpha1.SignalType{platformv1alpha1.SignalHPAMaxed},
	Confidence: 0.6,
	Decide: func(in Input) (Finding, bool) {
		h := in.Context.HPA
		if in.Resource.Kind != k8sctx.KindHorizontalPodAutoscaler || h == nil || h.MaxReplicas <= 0 || h.MaxReplicas >= maxHPAReplicas {
			return Finding{}, false
		}
		raised := min(maxHPAReplicas, h.MaxReplicas+10, max(h.MaxReplicas+1, (h.MaxReplicas*3+1)/2))
		return Finding{
			Analysis: fmt.Sprintf("HorizontalPodAutoscaler %s/%s runs %d replicas of %s %s at its maximum of %d and wants %d.",
				in.Resource.Namespace, in.Resource.Name, h.CurrentReplicas, h.Target.Kind, h.Target.Name, h.MaxReplicas, h.DesiredReplicas),
			Recommendations: []string{"Check that the load is legitimate, and that the cluster has room for the extra replicas."},
			Actions: []platformv1alpha1.SuggestedAction{action(platformv1alpha1.ActionAdjustHPA,
				fmt.Sprintf("Raise maxReplicas from %d to %d", h.MaxReplicas, raised), map[string]string{"maxReplicas": strconv.Itoa(int(raised))})},
		}, true
	},
})
