package builtin

import (
	"fmt"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
)

// A CronJob that missed its schedule runs now. A suspended one missed on
// purpose, so nothing is done. Confidence 0.7.
var _ = register(30, Rule{
	Name:       "trigger-missed-cronjob",
	Signals:    []platformv1alpha1.SignalType{platformv1alpha1.SignalCronJobMissed},
	Confidence: 0.7,
	Decide: func(in Input) (Finding, bool) {
		if in.Resource.Kind != k8sctx.KindCronJob {
			return Finding{}, false
		}
		w := in.Context.Workload
		if w != nil && w.Suspended {
			return Finding{
				Analysis:        fmt.Sprintf("CronJob %s/%s is suspended, so its runs are skipped on purpose.", in.Resource.Namespace, in.Resource.Name),
				Recommendations: []string{"Resume the CronJob if the suspension was not intended."},
			}, true
		}
		schedule := ""
		if w != nil {
			schedule = " (schedule " + w.Schedule + ")"
		}
		return Finding{
			Analysis:        fmt.Sprintf("CronJob %s/%s missed its scheduled run%s.", in.Resource.Namespace, in.Resource.Name, schedule),
			Recommendations: []string{"Check startingDeadlineSeconds and whether the controller was down when the run was due."},
			Actions:         []platformv1alpha1.SuggestedAction{action(platformv1alpha1.ActionTriggerCronJob, "Run the missed job now", nil)},
		}, true
	},
})
