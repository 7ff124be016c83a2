package builtin

import (
	"fmt"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Signals no catalogue action fixes safely get an explanation and what a
// person should check, and no action. Confidence 0.4.
var explanations = map[platformv1alpha1.SignalType]string{
	platformv1alpha1.SignalOOMKill:            "Raise the container's memory limit, or find the leak; the context did not show a limit to raise, or raising it already failed.",
	platformv1alpha1.SignalCrashLoopBackOff:   "Read the previous container's logs and fix the cause.",
	platformv1alpha1.SignalImagePullError:     "Check the image reference and the pull secrets.",
	platformv1alpha1.SignalPVCPending:         "Check the claim's StorageClass and provisioner.",
	platformv1alpha1.SignalErrorRate:          "Read the error logs: with no failing rollout to undo, the cause is in the application or a dependency.",
	platformv1alpha1.SignalLatency:            "Check slow dependencies and resource saturation.",
	platformv1alpha1.SignalCPUHigh:            "Check for a hot loop or a load spike; set an HPA if load varies.",
	platformv1alpha1.SignalMemoryHigh:         "Check the memory trend for a leak; set a memory limit if none is set.",
	platformv1alpha1.SignalPodCapacityHigh:    "Add nodes or raise the node's maxPods; the platform does not resize a cluster.",
	platformv1alpha1.SignalIngressError:       "Check the Ingress backends and their Services' endpoints.",
	platformv1alpha1.SignalCertExpiring:       "Renew the certificate (cert-manager or the issuer); secrets are never rotated automatically.",
	platformv1alpha1.SignalHelmReleaseFailed:  "Read the Helm release's history and roll it back by hand if the last upgrade caused it.",
	platformv1alpha1.SignalArgoCDDegraded:     "Read the Argo CD application's health details and sync it after fixing the source.",
	platformv1alpha1.SignalConfigDrift:        "Compare the live object with its source of truth and decide which is right.",
	platformv1alpha1.SignalPodRestart:         "Read the previous container's logs: the restarts have no automatic fix.",
	platformv1alpha1.SignalPodNotReady:        "Check the readiness probe and what it depends on.",
	platformv1alpha1.SignalDeployFailing:      "Check the rollout's progress deadline, quota and scheduling events.",
	platformv1alpha1.SignalJobFailed:          "Read the job's pod logs.",
	platformv1alpha1.SignalCronJobMissed:      "Check the CronJob's schedule and startingDeadlineSeconds.",
	platformv1alpha1.SignalHPAMaxed:           "Check the HPA's target and bounds.",
	platformv1alpha1.SignalNodeNotReady:       "Check the kubelet and the node's conditions.",
	platformv1alpha1.SignalDiskPressure:       "Free disk space on the node (images, logs, emptyDirs).",
	platformv1alpha1.SignalPIDPressure:        "Find the pod that forks without bound.",
	platformv1alpha1.SignalNetworkUnavailable: "Check the CNI on the node.",
}

var _ = register(100, Rule{
	Name:       "explain-without-action",
	Signals:    signalsOf(explanations),
	Confidence: 0.4,
	Decide: func(in Input) (Finding, bool) {
		return Finding{
			Analysis: fmt.Sprintf("%s %s/%s reports %s; %s. No catalogue action is a safe fix for it.",
				in.Resource.Kind, in.Resource.Namespace, in.Resource.Name, in.Signal, failingSummary(in.Context)),
			Recommendations: []string{explanations[in.Signal]},
		}, true
	},
})

func signalsOf(m map[platformv1alpha1.SignalType]string) []platformv1alpha1.SignalType {
	var out []platformv1alpha1.SignalType
	for _, s := range platformv1alpha1.SignalTypes {
		if _, ok := m[s]; ok {
			out = append(out, s)
		}
	}
	return out
}
