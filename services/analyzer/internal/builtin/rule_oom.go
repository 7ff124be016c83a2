package builtin

import (
	"fmt"
	"math"

	"k8s.io/apimachinery/pkg/api/resource"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
)

// A container killed for memory needs more memory, not a restart: raise
// its limit 1.5 times, rounded up to a whole Mi, and keep the request at or
// under the new limit. Confidence 0.85: the kernel said why it died.
// It also answers restarts and crash loops whose last termination was
// OOMKilled, and memory_high (confidence is the rule's, not the signal's).
var _ = register(10, Rule{
	Name:       "oom-raise-memory-limit",
	Signals:    []platformv1alpha1.SignalType{platformv1alpha1.SignalOOMKill, platformv1alpha1.SignalPodRestart, platformv1alpha1.SignalCrashLoopBackOff, platformv1alpha1.SignalMemoryHigh},
	Confidence: 0.85,
	Decide:     raiseMemory,
})

// memoryGrowth is the factor a memory limit is raised by.
const memoryGrowth = 1.5

var adjustResources = map[string]platformv1alpha1.ActionType{
	k8sctx.KindDeployment:  platformv1alpha1.ActionAdjustResources,
	k8sctx.KindStatefulSet: platformv1alpha1.ActionAdjustStatefulSetResources,
	k8sctx.KindDaemonSet:   platformv1alpha1.ActionAdjustDaemonSetResources,
	k8sctx.KindJob:         platformv1alpha1.ActionAdjustJobResources,
	k8sctx.KindCronJob:     platformv1alpha1.ActionAdjustCronJobResources,
}

func raiseMemory(in Input) (Finding, bool) {
	t, ok := perKind(in.Resource.Kind, adjustResources)
	if !ok || in.Context.Workload == nil {
		return Finding{}, false
	}
	name := oomContainer(in.Context)
	if name == "" && in.Signal != platformv1alpha1.SignalOOMKill && in.Signal != platformv1alpha1.SignalMemoryHigh {
		return Finding{}, false // a restart or crash loop for another reason
	}
	c, ok := in.Context.Workload.Container(name)
	if !ok {
		return Finding{}, false
	}
	current := c.Limits["memory"]
	if current == "" {
		current = c.Requests["memory"]
	}
	newLimit, ok := RaiseMemory(current)
	if !ok {
		return Finding{}, false
	}
	params := map[string]string{"container": c.Name, "memory_limit": newLimit}
	if req := c.Requests["memory"]; req != "" {
		if q, err := resource.ParseQuantity(req); err == nil && q.Cmp(resource.MustParse(newLimit)) > 0 {
			params["memory_request"] = newLimit
		}
	}
	return Finding{
		Analysis: fmt.Sprintf("Container %s of %s %s/%s ran out of memory (OOMKilled) at a memory limit of %s; %s. A restart would hit the same limit.",
			c.Name, in.Resource.Kind, in.Resource.Namespace, in.Resource.Name, current, failingSummary(in.Context)),
		Recommendations: []string{
			fmt.Sprintf("Raise the memory limit of %s from %s to %s.", c.Name, current, newLimit),
			"Check the application for a memory leak if the usage keeps growing after the change.",
		},
		Actions: []platformv1alpha1.SuggestedAction{action(t, fmt.Sprintf("Raise the memory limit of %s to %s (1.5x)", c.Name, newLimit), params)},
	}, true
}

// oomContainer is the first container whose current or last termination
// was OOMKilled.
func oomContainer(c *k8sctx.Context) string {
	for _, p := range c.Pods {
		for _, cs := range p.Containers {
			if cs.Reason == "OOMKilled" || cs.LastTerminationReason == "OOMKilled" {
				return cs.Name
			}
		}
	}
	return ""
}

// RaiseMemory returns 1.5 times the quantity, rounded up to a whole Mi.
func RaiseMemory(current string) (string, bool) {
	q, err := resource.ParseQuantity(current)
	if err != nil || q.Sign() <= 0 {
		return "", false
	}
	const mi = 1 << 20
	bytes := q.AsApproximateFloat64() * memoryGrowth
	if bytes > 1<<50 {
		return "", false
	}
	return fmt.Sprintf("%dMi", int64(math.Ceil(bytes/mi))), true
}
