package detect

import (
	"fmt"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Reasons the Job controller writes on the Failed condition.
const (
	reasonBackoffLimitExceeded = "BackoffLimitExceeded"
	reasonDeadlineExceeded     = "DeadlineExceeded"
)

// defaultBackoffLimit is the API default of spec.backoffLimit.
const defaultBackoffLimit = 6

// EvaluateJob reports job_failed when the Job's Failed condition is True,
// unless it turned True more than FailedJobMaxAge ago (old history, not
// news) or the Job is being deleted. Value and Threshold are the failed
// pods and the backoff limit, or the active deadline for DeadlineExceeded.
func EvaluateJob(j *batchv1.Job, now time.Time, cfg Config) Result {
	var r Result
	if j == nil || j.DeletionTimestamp != nil {
		return r
	}
	for _, c := range j.Status.Conditions {
		if c.Type != batchv1.JobFailed || c.Status != corev1.ConditionTrue {
			continue
		}
		if cfg.FailedJobMaxAge > 0 && !c.LastTransitionTime.IsZero() && elapsed(now, c.LastTransitionTime.Time) > cfg.FailedJobMaxAge {
			return r
		}
		value, threshold := strconv.Itoa(int(j.Status.Failed)), ""
		switch c.Reason {
		case reasonBackoffLimitExceeded:
			limit := int32(defaultBackoffLimit)
			if j.Spec.BackoffLimit != nil {
				limit = *j.Spec.BackoffLimit
			}
			threshold = strconv.Itoa(int(limit))
		case reasonDeadlineExceeded:
			value = ""
			if s := j.Spec.ActiveDeadlineSeconds; s != nil {
				threshold = human(time.Duration(*s) * time.Second)
			}
		}
		r.add(platformv1alpha1.SignalJobFailed, "", value, threshold,
			"JobFailed on %s: %d pods failed%s", j.Name, j.Status.Failed, quote(c.Reason, c.Message))
		return r
	}
	return r
}

// EvaluateCronJob reports cronjob_missed when the CronJob's controller has
// not recorded a run that was due:
//
//   - the reference is status.lastScheduleTime, or the creation time when
//     it never ran;
//   - the run due is the schedule's first time after the reference, in
//     spec.timeZone when set, else in cfg.CronJobLocation;
//   - it is missed once now passes that time plus startingDeadlineSeconds
//     (the controller may still start it until then) plus CronJobTolerance
//     (the controller's reaction time).
//
// Until then RecheckAfter is the time left, so the caller looks again
// when the run becomes overdue. Suspended CronJobs and CronJobs being
// deleted are not reported. Neither is a schedule or time zone that does
// not parse, nor one with no time in the next five years: the API server
// validates both, so such an object is one this code cannot judge, and a
// finding would only be noise. After a CronJob is resumed, runs skipped
// while it was suspended look missed until the next one is recorded; its
// status does not say when it was resumed.
func EvaluateCronJob(c *batchv1.CronJob, now time.Time, cfg Config) Result {
	var r Result
	if c == nil || c.DeletionTimestamp != nil || (c.Spec.Suspend != nil && *c.Spec.Suspend) {
		return r
	}
	sched, ok := parseSchedule(c.Spec.Schedule)
	if !ok {
		return r
	}
	loc := cfg.CronJobLocation
	if loc == nil {
		loc = time.UTC
	}
	if tz := c.Spec.TimeZone; tz != nil {
		l, err := time.LoadLocation(*tz)
		if err != nil {
			return r
		}
		loc = l
	}
	ref, never := c.CreationTimestamp.Time, true
	if c.Status.LastScheduleTime != nil {
		ref, never = c.Status.LastScheduleTime.Time, false
	}
	if ref.IsZero() {
		return r
	}
	due := sched.Next(ref.In(loc))
	if due.IsZero() {
		return r
	}
	allowed := cfg.CronJobTolerance
	if s := c.Spec.StartingDeadlineSeconds; s != nil && *s > 0 {
		allowed += time.Duration(*s) * time.Second
	}
	overdue := due.Add(allowed)
	if now.Before(overdue) {
		r.recheck(overdue.Sub(now))
		return r
	}
	last := "last scheduled " + human(elapsed(now, ref)) + " ago"
	if never {
		last = "never scheduled since its creation " + human(elapsed(now, ref)) + " ago"
	}
	blocked := ""
	if n := len(c.Status.Active); n > 0 && c.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent {
		blocked = fmt.Sprintf("; concurrencyPolicy Forbid and %d job(s) still active", n)
	}
	r.add(platformv1alpha1.SignalCronJobMissed, "", human(elapsed(now, ref)), human(overdue.Sub(ref)),
		"CronJobMissed on %s: the run due at %s did not start (%s, allowed %s%s)",
		c.Name, due.Format(time.RFC3339), last, human(overdue.Sub(ref)), blocked)
	return r
}

// parseSchedule parses a schedule as the CronJob controller does (standard
// five fields or a descriptor such as @hourly). The parser panics on some
// malformed input ("TZ=UTC" with no fields), which must not take the
// watcher down.
func parseSchedule(spec string) (s cron.Schedule, ok bool) {
	defer func() {
		if recover() != nil {
			s, ok = nil, false
		}
	}()
	s, err := cron.ParseStandard(spec)
	return s, err == nil
}
