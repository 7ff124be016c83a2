package watch

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

var checkout = platformv1alpha1.WatchTarget{Name: "checkout", Kind: platformv1alpha1.KindDeployment}

func TestOnlyTheInstancesTargetsAreReported(t *testing.T) {
	h := startParallelHarness(t, detect.DefaultConfig(), checkout)
	g := NewWithT(t)
	_, untargeted := h.deploymentWithPod("inventory")
	h.setStatus(untargeted, func() { untargeted.Status = crashLoopStatus() })
	_, targeted := h.deploymentWithPod("checkout")
	h.setStatus(targeted, func() { targeted.Status = crashLoopStatus() })

	a := h.eventuallyAnomaly(g, platformv1alpha1.SignalCrashLoopBackOff)
	g.Expect(a.Spec.Resource.Name).To(Equal("checkout"))
	g.Consistently(h.anomalies).WithTimeout(defaultQuiet).Should(HaveLen(1),
		"inventory is in a watched namespace, but no Instance targets it")
}

func TestANamespaceOutOfScopeIsNotWatchedUntilItEntersScope(t *testing.T) {
	h := startParallelHarness(t, detect.DefaultConfig())
	g := NewWithT(t)
	outside := h.in(env.NewNamespace(t, "watch", nil))
	_, unwatched := outside.deploymentWithPod("checkout")
	outside.setStatus(unwatched, func() { unwatched.Status = crashLoopStatus() })
	_, watched := h.deploymentWithPod("checkout")
	h.setStatus(watched, func() { watched.Status = crashLoopStatus() })

	h.eventuallyAnomaly(g, platformv1alpha1.SignalCrashLoopBackOff)
	g.Expect(h.detector.informersOf(outside.ns)).To(BeNil(), "no informer lists a namespace out of scope")
	g.Consistently(outside.anomalies).WithTimeout(defaultQuiet).Should(BeEmpty())

	// The namespace enters scope: its informers list the pod as it stands.
	h.detector.SetScope(NewScope(nil, []string{h.ns, outside.ns}))
	a := outside.eventuallyAnomaly(g, platformv1alpha1.SignalCrashLoopBackOff)
	g.Expect(a.Spec.Resource).To(Equal(liveRef(t, "Deployment", outside.ns, "checkout")))
}

func TestAddingATargetReportsItsStandingFault(t *testing.T) {
	h := startParallelHarness(t, detect.DefaultConfig(), checkout)
	g := NewWithT(t)
	// A readiness probe that has failed for five minutes: the kubelet will
	// not write this pod's status again while nothing changes.
	_, standing := h.deploymentWithPod("payments")
	h.setStatus(standing, func() { standing.Status = notReadyStatus(time.Now().Add(-5 * time.Minute)) })
	_, targeted := h.deploymentWithPod("checkout")
	h.setStatus(targeted, func() { targeted.Status = crashLoopStatus() })
	h.eventuallyAnomaly(g, platformv1alpha1.SignalCrashLoopBackOff)
	g.Consistently(h.anomalies).WithTimeout(defaultQuiet).Should(HaveLen(1), "payments is not a target yet")

	// An Instance now targets payments too; the detector is not restarted.
	h.detector.SetScope(targetScope(h.ns, checkout, platformv1alpha1.WatchTarget{Name: "payments", Kind: platformv1alpha1.KindDeployment}))
	a := h.eventuallyAnomalyOn(g, platformv1alpha1.SignalPodNotReady, "Deployment", "payments")
	g.Expect(a.Spec.Resource.Namespace).To(Equal(h.ns))
	g.Expect(a.Spec.Description).To(ContainSubstring("PodNotReady on " + standing.Name + ": running but not ready for 5m"))
}

func TestRemovingANamespaceFromScopeStopsItsInformers(t *testing.T) {
	h := startParallelHarness(t, detect.DefaultConfig())
	g := NewWithT(t)
	informers := h.detector.informersOf(h.ns)
	g.Expect(informers).NotTo(BeNil())

	h.detector.SetScope(NewScope(nil, []string{env.NewNamespace(t, "watch", nil)}))
	g.Expect(h.detector.informersOf(h.ns)).To(BeNil())
	for kind, informer := range informers.byKind {
		g.Eventually(informer.IsStopped).Should(BeTrue(), "the %s informer of %s still runs", kind, h.ns)
	}

	// A fault in the namespace now goes unseen.
	_, pod := h.deploymentWithPod("checkout")
	h.setStatus(pod, func() { pod.Status = crashLoopStatus() })
	g.Consistently(h.anomalies).WithTimeout(defaultQuiet).Should(BeEmpty())
}
