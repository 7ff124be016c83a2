package detect

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func testJob(conditions ...batchv1.JobCondition) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: meta("backup-29551", time.Hour),
		Spec:       batchv1.JobSpec{BackoffLimit: ptrTo[int32](2), ActiveDeadlineSeconds: ptrTo[int64](1800)},
		Status:     batchv1.JobStatus{Failed: 3, Conditions: conditions},
	}
}

func jobCondition(t batchv1.JobConditionType, reason, message string, since time.Duration) batchv1.JobCondition {
	return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message,
		LastTransitionTime: ago(since), LastProbeTime: ago(since)}
}

func TestEvaluateJob(t *testing.T) {
	cfg := DefaultConfig()
	noAgeLimit := DefaultConfig()
	noAgeLimit.FailedJobMaxAge = 0
	type args struct {
		job *batchv1.Job
		cfg Config
	}
	cases := map[string]struct {
		reason string
		args   args
		want   Result
	}{
		"Running": {
			reason: "a Job without a Failed condition",
			args:   args{job: testJob(), cfg: cfg},
		},
		"Complete": {
			reason: "a Job that completed",
			args:   args{job: testJob(jobCondition(batchv1.JobComplete, "", "", time.Minute)), cfg: cfg},
		},
		"BackoffLimitExceeded": {
			reason: "Failed True: value and threshold are failed pods and the backoff limit",
			args: args{job: testJob(jobCondition(batchv1.JobFailed, "BackoffLimitExceeded",
				"Job has reached the specified backoff limit", time.Minute)), cfg: cfg},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalJobFailed, "", "3", "2",
				"JobFailed on backup-29551: 3 pods failed (BackoffLimitExceeded: Job has reached the specified backoff limit)")}},
		},
		"DeadlineExceeded": {
			reason: "Failed True by deadline: the threshold is the active deadline",
			args: args{job: testJob(jobCondition(batchv1.JobFailed, "DeadlineExceeded",
				"Job was active longer than specified deadline", time.Minute)), cfg: cfg},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalJobFailed, "", "", "30m",
				"JobFailed on backup-29551: 3 pods failed (DeadlineExceeded: Job was active longer than specified deadline)")}},
		},
		"FailedLongAgo": {
			reason: "a Job that failed two days ago is history, not news",
			args:   args{job: testJob(jobCondition(batchv1.JobFailed, "BackoffLimitExceeded", "", 48*time.Hour)), cfg: cfg},
		},
		"FailedLongAgoWithoutAgeLimit": {
			reason: "FailedJobMaxAge 0 reports every failed Job",
			args:   args{job: testJob(jobCondition(batchv1.JobFailed, "PodFailurePolicy", "", 48*time.Hour)), cfg: noAgeLimit},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalJobFailed, "", "3", "",
				"JobFailed on backup-29551: 3 pods failed (PodFailurePolicy)")}},
		},
		"FailedFalse": {
			reason: "a Failed condition that is not True",
			args: args{job: testJob(batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionFalse}),
				cfg: cfg},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := EvaluateJob(tc.args.job, now, tc.args.cfg)
			diffResult(t, tc.reason, tc.want, got)
			checkInvariants(t, got)
		})
	}
}

// testCronJob runs on schedule and last ran at lastRun (nil: never).
func testCronJob(schedule string, lastRun *metav1.Time, opts ...func(*batchv1.CronJob)) *batchv1.CronJob {
	c := &batchv1.CronJob{
		ObjectMeta: meta("report", 30*24*time.Hour),
		Spec:       batchv1.CronJobSpec{Schedule: schedule},
		Status:     batchv1.CronJobStatus{LastScheduleTime: lastRun},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func at(s string) *metav1.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	m := metav1.NewTime(t)
	return &m
}

func TestEvaluateCronJob(t *testing.T) {
	cfg := DefaultConfig()
	missed := func(value, threshold, description string) Result {
		return Result{Findings: []Finding{finding(platformv1alpha1.SignalCronJobMissed, "", value, threshold, description)}}
	}
	newYork := func(c *batchv1.CronJob) { c.Spec.TimeZone = ptrTo("America/New_York") }
	type args struct {
		cronJob *batchv1.CronJob
		// earlier evaluates this long before now.
		earlier time.Duration
	}
	cases := map[string]struct {
		reason string
		args   args
		want   Result
	}{
		"HourlyOnTime": {
			reason: "@hourly at 11:30, last run 30m ago: the next is due at 12:00; look again 1m after it",
			args:   args{cronJob: testCronJob("@hourly", at("2026-03-10T11:00:00Z")), earlier: 30 * time.Minute},
			want:   Result{RecheckAfter: 31 * time.Minute},
		},
		"HourlyMissed": {
			reason: "@hourly, last run 2h ago: the run due 1h ago never started",
			args:   args{cronJob: testCronJob("@hourly", agoPtr(2*time.Hour))},
			want: missed("2h", "1h1m",
				"CronJobMissed on report: the run due at 2026-03-10T11:00:00Z did not start (last scheduled 2h ago, allowed 1h1m)"),
		},
		"Suspended": {
			reason: "a suspended CronJob is meant not to run",
			args: args{cronJob: testCronJob("@hourly", agoPtr(48*time.Hour), func(c *batchv1.CronJob) {
				c.Spec.Suspend = ptrTo(true)
			})},
		},
		"WithinTolerance": {
			reason: "due right now, within the 1m tolerance",
			args:   args{cronJob: testCronJob("*/5 * * * *", at("2026-03-10T11:55:00Z"))},
			want:   Result{RecheckAfter: time.Minute},
		},
		"StartingDeadlineExtends": {
			reason: "due 2m ago, but the controller may start it for 5m more",
			args: args{cronJob: testCronJob("58 * * * *", at("2026-03-10T10:58:00Z"), func(c *batchv1.CronJob) {
				c.Spec.StartingDeadlineSeconds = ptrTo[int64](300)
			})},
			want: Result{RecheckAfter: 4 * time.Minute},
		},
		"StartingDeadlinePassed": {
			reason: "without a starting deadline the same run is late",
			args:   args{cronJob: testCronJob("58 * * * *", at("2026-03-10T10:58:00Z"))},
			want: missed("1h2m", "1h1m",
				"CronJobMissed on report: the run due at 2026-03-10T11:58:00Z did not start (last scheduled 1h2m ago, allowed 1h1m)"),
		},
		"TimeZoneNotYetDue": {
			reason: "09:00 New York is 13:00 UTC in March 2026: not due yet at 12:00 UTC",
			args:   args{cronJob: testCronJob("0 9 * * *", at("2026-03-09T13:00:00Z"), newYork)},
			want:   Result{RecheckAfter: time.Hour + time.Minute},
		},
		"SameScheduleInUTC": {
			reason: "without the time zone the same schedule was due at 09:00 UTC",
			args:   args{cronJob: testCronJob("0 9 * * *", at("2026-03-09T13:00:00Z"))},
			want: missed("23h", "20h1m",
				"CronJobMissed on report: the run due at 2026-03-10T09:00:00Z did not start (last scheduled 23h ago, allowed 20h1m)"),
		},
		"TimeZoneMissed": {
			reason: "in New York time the run due at 09:00 EDT (13:00 UTC) on March 9 never started",
			args:   args{cronJob: testCronJob("0 9 * * *", at("2026-03-08T13:00:00Z"), newYork)},
			want: missed("47h", "24h1m",
				"CronJobMissed on report: the run due at 2026-03-09T09:00:00-04:00 did not start (last scheduled 47h ago, allowed 24h1m)"),
		},
		"NeverScheduled": {
			reason: "a CronJob that never ran is timed from its creation",
			args: args{cronJob: testCronJob("0 * * * *", nil, func(c *batchv1.CronJob) {
				c.CreationTimestamp = ago(3*time.Hour + 30*time.Minute)
			})},
			want: missed("3h30m", "31m",
				"CronJobMissed on report: the run due at 2026-03-10T09:00:00Z did not start (never scheduled since its creation 3h30m ago, allowed 31m)"),
		},
		"BlockedByForbid": {
			reason: "a run skipped because the previous one still runs under Forbid says so",
			args: args{cronJob: testCronJob("@hourly", agoPtr(2*time.Hour), func(c *batchv1.CronJob) {
				c.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent
				c.Status.Active = []corev1.ObjectReference{{Name: "report-29551"}}
			})},
			want: missed("2h", "1h1m",
				"CronJobMissed on report: the run due at 2026-03-10T11:00:00Z did not start (last scheduled 2h ago, allowed 1h1m; concurrencyPolicy Forbid and 1 job(s) still active)"),
		},
		"InvalidSchedule": {
			reason: "a schedule that does not parse gives no finding",
			args:   args{cronJob: testCronJob("61 * * * *", agoPtr(48*time.Hour))},
		},
		"ParserPanic": {
			reason: "input that panics the cron parser gives no finding",
			args:   args{cronJob: testCronJob("TZ=UTC", agoPtr(48*time.Hour))},
		},
		"UnknownTimeZone": {
			reason: "a time zone that does not load gives no finding",
			args: args{cronJob: testCronJob("@hourly", agoPtr(48*time.Hour), func(c *batchv1.CronJob) {
				c.Spec.TimeZone = ptrTo("Mars/Olympus_Mons")
			})},
		},
		"NoFutureRun": {
			reason: "February 30th never comes",
			args:   args{cronJob: testCronJob("0 0 30 2 *", agoPtr(48*time.Hour))},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := EvaluateCronJob(tc.args.cronJob, now.Add(-tc.args.earlier), cfg)
			diffResult(t, tc.reason, tc.want, got)
			checkInvariants(t, got)
		})
	}
}
