package builtin

import (
	"fmt"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
)

// A failed Job runs again from its template. Confidence 0.6: a transient
// failure (a dependency down, an evicted pod) passes on a retry; a
// deterministic one fails again and the next attempt escalates.
var _ = register(30, Rule{
	Name:       "retry-failed-job",
	Signals:    []platformv1alpha1.SignalType{platformv1alpha1.SignalJobFailed},
	Confidence: 0.6,
	Decide: func(in Input) (Finding, bool) {
		if in.Resource.Kind != k8sctx.KindJob {
			return Finding{}, false
		}
		reason := "it failed"
		if w := in.Context.Workload; w != nil {
			for _, c := range w.Conditions {
				if c.Type == "Failed" && c.Status == "True" {
					reason = fmt.Sprintf("it failed (%s: %s)", c.Reason, c.Message)
				}
			}
		}
		return Finding{
			Analysis:        fmt.Sprintf("Job %s/%s: %s; %s.", in.Resource.Namespace, in.Resource.Name, reason, failingSummary(in.Context)),
			Recommendations: []string{"If the retry fails too, read the pod logs: the failure is in the job itself."},
			Actions:         []platformv1alpha1.SuggestedAction{action(platformv1alpha1.ActionRetryJob, "Run the Job again from its template", nil)},
		}, true
	},
})
