package watch

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// An HPA's fault is attributed to the workload it scales; a PVC has no
// owner, so it is reported wherever its namespace holds a target.

// TestInstanceTargetsCoverTheirHPAsAndClaims watches one Deployment as an
// Instance target: its HPA at max and a pending claim of its namespace are
// reported, while an HPA of another workload is not.
func TestInstanceTargetsCoverTheirHPAsAndClaims(t *testing.T) {
	h := startParallelHarness(t, configWith(func(c *detect.Config) { c.PVCPendingGrace = time.Second }),
		platformv1alpha1.WatchTarget{Name: "checkout", Kind: platformv1alpha1.KindDeployment})
	g := NewWithT(t)
	watched := h.hpa("checkout")
	h.setStatus(watched, func() { watched.Status = hpaStatus(3, 95) })
	other := h.hpa("search")
	h.setStatus(other, func() { other.Status = hpaStatus(3, 95) })
	h.claim("data")

	a := h.eventuallyAnomalyOn(g, platformv1alpha1.SignalHPAMaxed, "Deployment", "checkout")
	g.Expect(a.Spec.Resource.Namespace).To(Equal(h.ns))
	h.eventuallyAnomalyOn(g, platformv1alpha1.SignalPVCPending, "PersistentVolumeClaim", "data")
	g.Consistently(h.anomalies).WithTimeout(defaultQuiet).Should(HaveLen(2), "search is not a target")
}

func TestAClaimPendingBeyondTheGraceBecomesPVCPending(t *testing.T) {
	// Claims start Pending and a creation time cannot be set: the grace is
	// short, and only the detector's recheck sees it run out.
	h := startParallelHarness(t, configWith(func(c *detect.Config) { c.PVCPendingGrace = 2 * time.Second }))
	g := NewWithT(t)
	pending := h.claim("data")
	bound := h.claim("logs")
	// The PV controller binds one of them well within the grace.
	h.setStatus(bound, func() {
		bound.Status = corev1.PersistentVolumeClaimStatus{
			Phase:       corev1.ClaimBound,
			AccessModes: bound.Spec.AccessModes,
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		}
	})

	a := h.eventuallyAnomaly(g, platformv1alpha1.SignalPVCPending)
	g.Expect(a.Spec.Resource).To(Equal(liveRef(t, "PersistentVolumeClaim", h.ns, pending.Name)))
	g.Expect(a.Spec.Source).To(Equal(platformv1alpha1.SourceWatcher))
	g.Expect(a.Spec.Severity).To(Equal(medium))
	g.Expect(a.Spec.Description).To(MatchRegexp(`^PVCPending on data: pending for \d+s with storage class fast-ssd$`))
	g.Expect(a.Spec.Threshold).To(Equal("2s"))
	g.Consistently(h.anomalies).WithTimeout(defaultQuiet).Should(HaveLen(1), "the bound claim is fine")
}

// TestAClaimThatWaitsForItsFirstConsumerIsNotLate: a claim of a
// WaitForFirstConsumer class stays Pending by design until a pod that uses
// it is scheduled; only then does its grace start.
func TestAClaimThatWaitsForItsFirstConsumerIsNotLate(t *testing.T) {
	const grace = 3 * time.Second
	h := startParallelHarness(t, configWith(func(c *detect.Config) { c.PVCPendingGrace = grace }))
	g := NewWithT(t)
	class := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: "wffc-" + h.ns},
		Provisioner:       "csi.example.com",
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
	}
	g.Expect(env.Client.Create(context.Background(), class)).To(Succeed())
	g.Eventually(func() bool {
		_, exists, _ := h.detector.classes.GetStore().GetByKey(class.Name)
		return exists
	}).WithTimeout(10 * time.Second).Should(BeTrue())

	pvc := h.claimOf("data", class.Name)
	g.Consistently(h.anomalies).WithTimeout(grace+time.Second).Should(BeEmpty(), "no pod wants the claim yet")

	// The scheduler places a pod that uses the claim.
	pvc.Annotations = map[string]string{annSelectedNode: "worker-1"}
	g.Expect(env.Client.Update(context.Background(), pvc)).To(Succeed())
	g.Consistently(h.anomalies).WithTimeout(grace-time.Second).Should(BeEmpty(), "the grace starts when a pod wants the claim, not at its creation")
	a := h.eventuallyAnomaly(g, platformv1alpha1.SignalPVCPending)
	g.Expect(a.Spec.Description).To(ContainSubstring("wanted by a pod on node worker-1"))

	// The claim's wait is remembered; once its namespace leaves the scope,
	// it must be forgotten, or the bounded tracker fills with the dead.
	g.Expect(h.detector.unhealthy.Len()).To(Equal(1))
	h.detector.SetScope(NewScope(nil, nil))
	g.Expect(h.detector.unhealthy.Len()).To(BeZero())
}

func TestTheDefaultStorageClassIsTheNewestMarkedOne(t *testing.T) {
	marked := func(name string, age time.Duration) *storagev1.StorageClass {
		return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{
			Name: name, CreationTimestamp: metav1.NewTime(time.Now().Add(-age)),
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		}}
	}
	plain := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "plain"}}
	beta := marked("beta", 30*time.Minute)
	beta.Annotations = map[string]string{"storageclass.beta.kubernetes.io/is-default-class": "true"}
	// Two classes marked default in the same second: the name decides.
	twinB, twinA := marked("b-twin", time.Hour), marked("a-twin", time.Hour)
	twinA.CreationTimestamp = twinB.CreationTimestamp
	tests := map[string]struct {
		classes []any
		want    string
	}{
		"None":         {classes: []any{plain}, want: ""},
		"OneMarked":    {classes: []any{plain, marked("standard", time.Hour)}, want: "standard"},
		"NewestMarked": {classes: []any{marked("old", 2*time.Hour), marked("new", time.Hour), plain}, want: "new"},
		"BetaMarked":   {classes: []any{marked("old", 2*time.Hour), beta}, want: "beta"},
		"TieByName":    {classes: []any{twinB, twinA}, want: "a-twin"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := ""
			if c := defaultStorageClass(tc.classes); c != nil {
				got = c.Name
			}
			if got != tc.want {
				t.Errorf("default class %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAnHPAAtMaxReplicasAboveTargetBecomesHPAMaxed(t *testing.T) {
	h := startParallelHarness(t, detect.DefaultConfig())
	g := NewWithT(t)
	now := metav1.Now()
	// The controller says it wants more than maxReplicas, though the CPU
	// reading alone is within tolerance: its verdict decides.
	limited := h.hpa("search")
	h.setStatus(limited, func() {
		limited.Status = hpaStatus(3, 64)
		limited.Status.Conditions = append(limited.Status.Conditions, autoscalingv2.HorizontalPodAutoscalerCondition{
			Type: autoscalingv2.ScalingLimited, Status: corev1.ConditionTrue, Reason: "TooManyReplicas",
			Message: "the desired replica count is more than the maximum replica count", LastTransitionTime: now,
		})
	})
	// Far above its CPU target, with no verdict of the controller's yet.
	hot := h.hpa("checkout")
	h.setStatus(hot, func() { hot.Status = hpaStatus(3, 95) })
	// At maxReplicas, but within the controller's tolerance of its target.
	calm := h.hpa("catalog")
	h.setStatus(calm, func() { calm.Status = hpaStatus(3, 62) })

	for name, description := range map[string]string{
		"search":   "HPAMaxed on search: at maxReplicas 3 and it wants more replicas than that (the desired replica count is more than the maximum replica count)",
		"checkout": "HPAMaxed on checkout: at maxReplicas 3 and cpu is 95% utilization (target 60%)",
	} {
		// The fault is the scaled workload's, which a remediation acts on.
		a := h.eventuallyAnomalyOn(g, platformv1alpha1.SignalHPAMaxed, "Deployment", name)
		g.Expect(a.Spec.Resource.Namespace).To(Equal(h.ns))
		g.Expect(a.Spec.Source).To(Equal(platformv1alpha1.SourceWatcher))
		g.Expect(a.Spec.Severity).To(Equal(medium))
		g.Expect(a.Spec.Description).To(Equal(description))
		g.Expect(a.Spec.Value).To(Equal("3"))
		g.Expect(a.Spec.Threshold).To(Equal("3"))
	}
	g.Consistently(h.anomalies).WithTimeout(defaultQuiet).Should(HaveLen(2), "catalog has the capacity it needs")
}

// claim creates a claim of 1Gi of storage class fast-ssd; the API server
// starts it Pending.
func (h *harness) claim(name string) *corev1.PersistentVolumeClaim {
	h.t.Helper()
	return h.claimOf(name, "fast-ssd")
}

// claimOf creates a claim of a storage class.
func (h *harness) claimOf(name, class string) *corev1.PersistentVolumeClaim {
	h.t.Helper()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(class),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	h.create(pvc)
	return pvc
}

// hpa creates an HPA that keeps a Deployment of the same name between 1
// and 3 replicas at 60% CPU.
func (h *harness) hpa(name string) *autoscalingv2.HorizontalPodAutoscaler {
	h.t.Helper()
	// An HPA's fault is its target's, which must exist: a signal through a
	// missing target is dropped.
	h.deployment(name)
	h.cached(kindDeployment, name)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			MinReplicas:    ptr.To[int32](1),
			MaxReplicas:    3,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{
					Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](60),
				}},
			}},
		},
	}
	h.create(hpa)
	return hpa
}

// hpaStatus is what the HPA controller writes with the replicas it runs
// and the CPU utilization it measured.
func hpaStatus(replicas, cpu int32) autoscalingv2.HorizontalPodAutoscalerStatus {
	now := metav1.Now()
	return autoscalingv2.HorizontalPodAutoscalerStatus{
		CurrentReplicas: replicas, DesiredReplicas: replicas, LastScaleTime: &now,
		CurrentMetrics: []autoscalingv2.MetricStatus{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{
				AverageUtilization: ptr.To(cpu), AverageValue: ptr.To(resource.MustParse("400m")),
			}},
		}},
		Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
			{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "ReadyForNewScale", LastTransitionTime: now},
			{Type: autoscalingv2.ScalingActive, Status: corev1.ConditionTrue, Reason: "ValidMetricFound", LastTransitionTime: now},
		},
	}
}
