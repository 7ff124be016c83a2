package builtin

import (
	"fmt"
	"strconv"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
)

// A workload that fails since its latest rollout, while an earlier revision
// was healthy, goes back to that revision. Confidence 0.8: the failure
// began with the change, and the revision before it served.
var _ = register(20, Rule{
	Name: "rollback-to-healthy-revision",
	Signals: []platformv1alpha1.SignalType{
		platformv1alpha1.SignalCrashLoopBackOff, platformv1alpha1.SignalImagePullError, platformv1alpha1.SignalDeployFailing,
		platformv1alpha1.SignalPodRestart, platformv1alpha1.SignalPodNotReady, platformv1alpha1.SignalErrorRate,
		platformv1alpha1.SignalLatency, platformv1alpha1.SignalConfigDrift,
	},
	Confidence: 0.8,
	Decide:     rollback,
})

var rollbackActions = map[string]platformv1alpha1.ActionType{
	k8sctx.KindDeployment:  platformv1alpha1.ActionRollbackDeployment,
	k8sctx.KindStatefulSet: platformv1alpha1.ActionRollbackStatefulSet,
	k8sctx.KindDaemonSet:   platformv1alpha1.ActionRollbackDaemonSet,
}

func rollback(in Input) (Finding, bool) {
	t, ok := perKind(in.Resource.Kind, rollbackActions)
	c := in.Context
	cur := c.CurrentRevision()
	if !ok || cur == nil || c.LastHealthyRevision == 0 || c.LastHealthyRevision >= cur.Number || cur.Healthy {
		return Finding{}, false
	}
	// The failure must be the current revision's: its pods fail, or (for
	// signals without failing pods) it is the newest and not healthy.
	current := strconv.FormatInt(cur.Number, 10)
	failingOnCurrent := false
	for _, p := range c.FailingPods() {
		if p.Revision == current {
			failingOnCurrent = true
		}
	}
	if !failingOnCurrent && len(c.FailingPods()) > 0 {
		return Finding{}, false
	}
	to := strconv.FormatInt(c.LastHealthyRevision, 10)
	var healthy *k8sctx.Revision
	for i := range c.Revisions {
		if c.Revisions[i].Number == c.LastHealthyRevision {
			healthy = &c.Revisions[i]
		}
	}
	change := "its template"
	if len(cur.Changes) > 0 {
		change = cur.Changes[0]
	}
	evidence := ""
	if healthy != nil && healthy.HealthEvidence != "" {
		evidence = " (" + healthy.HealthEvidence + ")"
	}
	return Finding{
		Analysis: fmt.Sprintf("%s %s/%s fails since its rollout of revision %d, which changed %s: %s. Revision %s was healthy%s.",
			in.Resource.Kind, in.Resource.Namespace, in.Resource.Name, cur.Number, change, failingSummary(c), to, evidence),
		Recommendations: []string{
			fmt.Sprintf("Roll back to revision %s, then fix revision %d before rolling it out again.", to, cur.Number),
		},
		Actions: []platformv1alpha1.SuggestedAction{action(t, "Roll back to the last healthy revision "+to, map[string]string{"toRevision": to})},
	}, true
}
