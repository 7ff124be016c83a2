package watch

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

func TestFailingWorkloadsBecomeDeployFailingAnomalies(t *testing.T) {
	// The Anomalies come from the detector's recheck: a Deployment's grace
	// counts from its conditions' timestamps, truncated to the second, so
	// 2s cannot have run out at the first evaluation; StatefulSets and
	// DaemonSets have no timestamps, and the first evaluation starts the
	// clock.
	deployGrace := configWith(func(c *detect.Config) { c.DeployGrace = 2 * time.Second })
	trackerGrace := configWith(func(c *detect.Config) { c.DeployGrace = time.Second })
	tests := map[string]struct {
		kind platformv1alpha1.WorkloadKind
		cfg  detect.Config
		// fail creates the workload "orders" and writes the status its
		// controller writes when it fails.
		fail        func(h *harness)
		description string
	}{
		"a Deployment past its progress deadline": {
			kind: platformv1alpha1.KindDeployment, cfg: detect.DefaultConfig(),
			fail: func(h *harness) {
				d := h.deployment("orders")
				h.setStatus(d, func() { d.Status = stuckDeploymentStatus(d, corev1.ConditionFalse, "ProgressDeadlineExceeded") })
			},
			description: `DeploymentFailing on orders: the rollout exceeded its progress deadline of 10m with 0 of 1 replicas available (ReplicaSet "orders-7d9c" has timed out progressing.)`,
		},
		"a Deployment rolling out with unavailable replicas beyond the grace": {
			kind: platformv1alpha1.KindDeployment, cfg: deployGrace,
			fail: func(h *harness) {
				d := h.deployment("orders")
				h.setStatus(d, func() { d.Status = stuckDeploymentStatus(d, corev1.ConditionTrue, "ReplicaSetUpdated") })
			},
			description: "DeploymentFailing on orders: 1 of 1 replicas unavailable with no progress for",
		},
		"a StatefulSet short of ready replicas beyond the grace": {
			kind: platformv1alpha1.KindStatefulSet, cfg: trackerGrace,
			fail: func(h *harness) {
				s := h.statefulSet("orders", 3)
				h.setStatus(s, func() {
					s.Status = appsv1.StatefulSetStatus{
						ObservedGeneration: s.Generation, Replicas: 3, ReadyReplicas: 1, AvailableReplicas: 1,
						CurrentReplicas: 3, UpdatedReplicas: 3, CurrentRevision: "orders-5d8f6c", UpdateRevision: "orders-5d8f6c",
					}
				})
			},
			description: "StatefulSetFailing on orders: 1 of 3 replicas ready with no progress for",
		},
		"a DaemonSet short of ready pods beyond the grace": {
			kind: platformv1alpha1.KindDaemonSet, cfg: trackerGrace,
			fail: func(h *harness) {
				d := h.daemonSet("orders")
				h.setStatus(d, func() {
					d.Status = appsv1.DaemonSetStatus{
						ObservedGeneration: d.Generation, DesiredNumberScheduled: 3, CurrentNumberScheduled: 3,
						UpdatedNumberScheduled: 3, NumberReady: 2, NumberAvailable: 2, NumberUnavailable: 1,
					}
				})
			},
			description: "DaemonSetFailing on orders: 2 of 3 pods ready, 1 unavailable, with no progress for",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := startParallelHarness(t, tc.cfg, platformv1alpha1.WatchTarget{Name: "orders", Kind: tc.kind})
			g := NewWithT(t)
			tc.fail(h)

			a := h.eventuallyAnomaly(g, platformv1alpha1.SignalDeployFailing)
			g.Expect(a.Spec.Resource).To(Equal(liveRef(t, string(tc.kind), h.ns, "orders")))
			g.Expect(a.Spec.Source).To(Equal(platformv1alpha1.SourceWatcher))
			g.Expect(a.Spec.Severity).To(Equal(high))
			g.Expect(a.Spec.Description).To(ContainSubstring(tc.description))
		})
	}
}

// stuckDeploymentStatus is the status the Deployment controller writes for
// a rollout whose only pod never becomes available: Progressing has the
// given status and reason, set now.
func stuckDeploymentStatus(d *appsv1.Deployment, progressing corev1.ConditionStatus, reason string) appsv1.DeploymentStatus {
	now := metav1.Now()
	message := `ReplicaSet "` + d.Name + `-7d9c" is progressing.`
	if reason == "ProgressDeadlineExceeded" {
		message = `ReplicaSet "` + d.Name + `-7d9c" has timed out progressing.`
	}
	return appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, UnavailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{
			{
				Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable",
				Message: "Deployment does not have minimum availability.", LastUpdateTime: now, LastTransitionTime: now,
			},
			{
				Type: appsv1.DeploymentProgressing, Status: progressing, Reason: reason,
				Message: message, LastUpdateTime: now, LastTransitionTime: now,
			},
		},
	}
}
