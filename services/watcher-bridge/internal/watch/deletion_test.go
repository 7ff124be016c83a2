package watch

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// TestDeletingAFaultedDeploymentCreatesNoNewAnomaly plays what the garbage
// collector does after a faulted Deployment is deleted: its ReplicaSet is
// removed, then its pods, which terminate for a while and keep changing.
// None of that is a new incident: not on the ReplicaSet, not on the pod.
func TestDeletingAFaultedDeploymentCreatesNoNewAnomaly(t *testing.T) {
	tests := map[string]struct {
		reason      string
		terminating bool
	}{
		"OwnersGone":     {reason: "a pod whose ReplicaSet the garbage collector removed"},
		"PodTerminating": {reason: "a pod being deleted", terminating: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			// The whole namespace is watched, so that a signal moved to the
			// ReplicaSet would be in scope.
			h := startParallelHarness(t, detect.DefaultConfig())
			g := NewWithT(t)
			deploy, pod := h.deploymentWithPod("checkout")
			h.setStatus(pod, func() { pod.Status = imagePullStatus("ErrImagePull") })
			first := h.eventuallyAnomaly(g, platformv1alpha1.SignalImagePullError)
			g.Expect(first.Spec.Resource.Kind).To(Equal("Deployment"))

			// The pod's finalizer keeps it, as the kubelet would while it
			// terminates.
			pod.Finalizers = []string{"test.chatcli.io/terminating"}
			g.Expect(env.Client.Update(ctx, pod)).To(Succeed())
			t.Cleanup(func() {
				latest := &corev1.Pod{}
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), latest); err == nil {
					latest.Finalizers = nil
					_ = env.Client.Update(ctx, latest)
				}
			})
			g.Expect(env.Client.Delete(ctx, deploy)).To(Succeed())
			rs := &metav1.PartialObjectMetadata{}
			rs.APIVersion, rs.Kind = "apps/v1", "ReplicaSet"
			rs.Namespace, rs.Name = h.ns, "checkout-7d9c"
			g.Expect(env.Client.Delete(ctx, rs)).To(Succeed())
			if tc.terminating {
				g.Expect(env.Client.Delete(ctx, pod)).To(Succeed())
			}
			// The pod keeps changing while it goes.
			g.Eventually(func() error {
				latest := &corev1.Pod{}
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), latest); err != nil {
					return err
				}
				latest.Status = imagePullStatus("ImagePullBackOff")
				return env.Client.Status().Update(ctx, latest)
			}).Should(Succeed())
			h.cachedGone(kindReplicaSet, rs.Name)

			g.Consistently(func() []string {
				var kinds []string
				for _, a := range h.anomalies() {
					kinds = append(kinds, a.Spec.Resource.Kind+"/"+a.Name)
				}
				return kinds
			}).WithTimeout(defaultQuiet).Should(ConsistOf("Deployment/"+first.Name), tc.reason)
		})
	}
}

// cachedGone waits until the detector's informers have seen an object go.
func (h *harness) cachedGone(kind, name string) {
	h.t.Helper()
	NewWithT(h.t).Eventually(func() bool {
		inf := h.detector.informersOf(h.ns)
		return inf != nil && inf.get(kind, h.ns, name) == nil
	}).Should(BeTrue(), "%s %s is still cached", kind, name)
}
