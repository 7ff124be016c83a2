package detect

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// annSelectedNode is set by the scheduler on a claim of a
// WaitForFirstConsumer class once a pod that uses it is scheduled.
const annSelectedNode = "volume.kubernetes.io/selected-node"

// EvaluatePVC reports pvc_pending when a claim has been Pending for
// PVCPendingGrace since its creation; within the grace, RecheckAfter is
// the time left. Claims being deleted are not reported.
//
// A claim of a WaitForFirstConsumer StorageClass stays Pending by design
// until a pod uses it, and only its StorageClass says so: the caller,
// which can read the class, should not evaluate such a claim until it
// carries the volume.kubernetes.io/selected-node annotation.
func EvaluatePVC(p *corev1.PersistentVolumeClaim, now time.Time, cfg Config) Result {
	var r Result
	if p == nil || p.DeletionTimestamp != nil {
		return r
	}
	// A claim the controller has not touched yet has no phase: Pending too.
	if p.Status.Phase != corev1.ClaimPending && p.Status.Phase != "" {
		return r
	}
	if p.CreationTimestamp.IsZero() {
		return r
	}
	d := elapsed(now, p.CreationTimestamp.Time)
	if d < cfg.PVCPendingGrace {
		r.recheck(cfg.PVCPendingGrace - d)
		return r
	}
	class := "the default storage class"
	if c := p.Spec.StorageClassName; c != nil {
		class = "storage class " + *c
		if *c == "" {
			class = "no storage class (static binding)"
		}
	}
	consumer := ""
	if node := p.Annotations[annSelectedNode]; node != "" {
		consumer = ", wanted by a pod on node " + node
	}
	r.add(platformv1alpha1.SignalPVCPending, "", human(d), human(cfg.PVCPendingGrace),
		"PVCPending on %s: pending for %s with %s%s", p.Name, human(d), class, consumer)
	return r
}
