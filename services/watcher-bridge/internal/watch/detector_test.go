package watch

import (
	"testing"

	. "github.com/onsi/gomega"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

func TestRisingRestartsBecomeOneAnomalyOnTheDeployment(t *testing.T) {
	g := NewWithT(t)
	h := startParallelHarness(t, detect.DefaultConfig(), platformv1alpha1.WatchTarget{Name: "api-gateway", Kind: platformv1alpha1.KindDeployment})
	_, pod := h.deploymentWithPod("api-gateway")

	// The first sighting is only a baseline, however high the count.
	h.setStatus(pod, func() { pod.Status = runningPodStatus(40) })
	g.Consistently(h.anomalies).WithTimeout(defaultQuiet).Should(BeEmpty())

	h.setStatus(pod, func() { pod.Status = runningPodStatus(44) })
	a := h.eventuallyAnomaly(g, platformv1alpha1.SignalPodRestart)
	g.Expect(a.Spec.Resource).To(Equal(liveRef(t, "Deployment", h.ns, "api-gateway")))
	g.Expect(a.Spec.Source).To(Equal(platformv1alpha1.SourceWatcher))
	g.Expect(a.Spec.Description).To(ContainSubstring("restarted"))

	// More restarts of the same fault are the same Anomaly.
	h.setStatus(pod, func() { pod.Status = runningPodStatus(48) })
	g.Consistently(func() int { return len(h.anomalies()) }).WithTimeout(defaultQuiet).Should(Equal(1))
}
