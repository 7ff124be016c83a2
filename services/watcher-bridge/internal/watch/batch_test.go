package watch

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

func TestFailedJobsBecomeJobFailedAnomalies(t *testing.T) {
	tests := map[string]struct {
		kind platformv1alpha1.WorkloadKind
		name string
		// job creates the Job, under its CronJob when it has one.
		job func(h *harness) *batchv1.Job
	}{
		"a Job of its own": {
			kind: platformv1alpha1.KindJob, name: "reindex",
			job: func(h *harness) *batchv1.Job { return h.job("reindex", nil) },
		},
		"a CronJob's run, attributed to the CronJob": {
			kind: platformv1alpha1.KindCronJob, name: "invoices",
			job: func(h *harness) *batchv1.Job {
				cj := h.cronJob("invoices", "*/5 * * * *", false)
				ref := controllerRef(cj, "batch/v1", "CronJob")
				return h.job("invoices-29170320", &ref)
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := startParallelHarness(t, detect.DefaultConfig(), platformv1alpha1.WatchTarget{Name: tc.name, Kind: tc.kind})
			g := NewWithT(t)
			job := tc.job(h)
			h.setStatus(job, func() { job.Status = failedJobStatus() })

			a := h.eventuallyAnomaly(g, platformv1alpha1.SignalJobFailed)
			g.Expect(a.Spec.Resource).To(Equal(liveRef(t, string(tc.kind), h.ns, tc.name)))
			g.Expect(a.Spec.Source).To(Equal(platformv1alpha1.SourceWatcher))
			g.Expect(a.Spec.Severity).To(Equal(high))
			g.Expect(a.Spec.Description).To(Equal("JobFailed on " + job.Name +
				": 1 pods failed (BackoffLimitExceeded: Job has reached the specified backoff limit)"))
			g.Expect(a.Spec.Value).To(Equal("1"))
			g.Expect(a.Spec.Threshold).To(Equal("0"), "the backoff limit")
		})
	}
}

func TestAnOverdueCronJobIsMissedUnlessSuspendedOrNew(t *testing.T) {
	h := startParallelHarness(t, detect.DefaultConfig())
	g := NewWithT(t)
	hourAgo := metav1.NewTime(time.Now().Add(-time.Hour))

	// Runs every five minutes, but the controller recorded none for an hour.
	billing := h.cronJob("billing", "*/5 * * * *", false)
	h.setStatus(billing, func() { billing.Status.LastScheduleTime = &hourAgo })
	// The same, suspended: skipped runs are what suspending means.
	paused := h.cronJob("paused", "*/5 * * * *", true)
	h.setStatus(paused, func() { paused.Status.LastScheduleTime = &hourAgo })
	// Never ran, but was created just now: its first run is not due yet.
	h.cronJob("fresh", "*/5 * * * *", false)

	a := h.eventuallyAnomaly(g, platformv1alpha1.SignalCronJobMissed)
	g.Expect(a.Spec.Resource).To(Equal(liveRef(t, "CronJob", h.ns, "billing")))
	g.Expect(a.Spec.Source).To(Equal(platformv1alpha1.SourceWatcher))
	g.Expect(a.Spec.Severity).To(Equal(medium))
	g.Expect(a.Spec.Description).To(MatchRegexp(`^CronJobMissed on billing: the run due at \S+ did not start \(last scheduled 1h(0m\d+s)? ago, allowed [0-9ms]+\)$`))

	g.Consistently(h.anomalies).WithTimeout(defaultQuiet).Should(HaveLen(1), "only billing missed a run")
}

// failedJobStatus is what the Job controller writes once its only pod
// failed with backoffLimit 0: FailureTarget first, then Failed once no pod
// is left running. A failed Job has no completionTime.
func failedJobStatus() batchv1.JobStatus {
	now := metav1.Now()
	started := metav1.NewTime(now.Add(-2 * time.Minute))
	const message = "Job has reached the specified backoff limit"
	return batchv1.JobStatus{
		StartTime: &started,
		Failed:    1,
		Ready:     new(int32),
		Conditions: []batchv1.JobCondition{
			{
				Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded",
				Message: message, LastProbeTime: now, LastTransitionTime: now,
			},
			{
				Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded",
				Message: message, LastProbeTime: now, LastTransitionTime: now,
			},
		},
	}
}
