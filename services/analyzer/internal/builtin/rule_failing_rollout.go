package builtin

import (
	"fmt"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// A crash loop, an image that cannot be pulled, a rollout that does not
// progress, with no earlier healthy revision to go back to: nothing
// automatic fixes the code or the image reference, so the rule says what
// it sees and proposes no action; the Issue escalates. Confidence 0.5.
var _ = register(90, Rule{
	Name: "failing-without-healthy-revision",
	Signals: []platformv1alpha1.SignalType{
		platformv1alpha1.SignalCrashLoopBackOff, platformv1alpha1.SignalImagePullError, platformv1alpha1.SignalDeployFailing,
		platformv1alpha1.SignalPodRestart, platformv1alpha1.SignalPodNotReady,
	},
	Confidence: 0.5,
	Decide: func(in Input) (Finding, bool) {
		what := "fails"
		rec := "Read the container logs and the last termination reason, fix the cause and roll out a new revision."
		if in.Signal == platformv1alpha1.SignalImagePullError {
			what = "cannot pull its image"
			rec = "Check the image name and tag, and the registry credentials (imagePullSecrets)."
		}
		return Finding{
			Analysis: fmt.Sprintf("%s %s/%s %s: %s. No earlier revision is known to have been healthy, so neither a rollback nor a restart would fix it.",
				in.Resource.Kind, in.Resource.Namespace, in.Resource.Name, what, failingSummary(in.Context)),
			Recommendations: []string{rec},
		}, true
	},
})
