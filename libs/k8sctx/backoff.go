package k8sctx

import corev1 "k8s.io/api/core/v1"

// imagePullReasons are the kubelet's waiting reasons for an image that
// cannot be had: besides ErrImagePull, ImagePullBackOff and
// InvalidImageName, a missing image with pullPolicy Never, a broken local
// image, an unreachable registry and a failed signature check.
var imagePullReasons = map[string]bool{
	"ErrImagePull":              true,
	"ImagePullBackOff":          true,
	"InvalidImageName":          true,
	"ErrImageNeverPull":         true,
	"ImageInspectError":         true,
	"RegistryUnavailable":       true,
	"SignatureValidationFailed": true,
}

// IsImagePullReason says whether a container's waiting reason is an image
// that cannot be had.
func IsImagePullReason(reason string) bool { return imagePullReasons[reason] }

// BackOffReason is the waiting reason of the first container of p that
// the kubelet keeps failing to run: crash-looping, its image not to be
// had, or its configuration invalid. None of these goes away by waiting;
// "" when no container is in one.
func BackOffReason(p *corev1.Pod) string {
	for _, statuses := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range statuses {
			w := cs.State.Waiting
			if w == nil {
				continue
			}
			if w.Reason == "CrashLoopBackOff" || w.Reason == "CreateContainerConfigError" || IsImagePullReason(w.Reason) {
				return w.Reason
			}
		}
	}
	return ""
}
