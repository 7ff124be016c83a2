package remediationplan

import (
	"context"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/chatcli/aiops/libs/actions"
)

// jobHealth judges the Job the plan acts on now: after a RetryJob of the
// plan, the Job it created (the one carrying the plan's retry key, which
// Live returns), else the target itself.
//
//   - Complete=True: healthy for good (done). The verification passes at
//     once, without the stability window: a finished Job cannot break
//     again.
//   - Failed=True: broken for good (failed). The verification fails at
//     once rather than at its deadline: a failed Job does not recover.
//   - Suspended (spec.suspend): healthy once no pod is active, the
//     containment a SuspendJob asked for.
//   - Otherwise healthy while it has active pods and every one of them is
//     Running. Its restart count is its failed pods (status.failed) plus
//     its containers' restarts, so a pod that fails inside the stability
//     window fails the verification as a Deployment's restart would, even
//     while the backoff limit still allows retries. The window passes on
//     a Job still running and healthy at its end.
//
// A Job with no active pod whose pods succeeded is finishing (the Job
// controller writes Complete a moment later): healthy. Until the Job
// controller has started the pods (no active pod yet) the
// Job is not healthy and the plan waits, up to the verification deadline
// (activeDeadlineSeconds capped at --verify-timeout).
func (r *Reconciler) jobHealth(ctx context.Context, j *batchv1.Job) (health, error) {
	h := health{}
	failed := actions.JobCondition(j, batchv1.JobFailed)
	complete := actions.JobCondition(j, batchv1.JobComplete)
	h.checks = append(h.checks, check("job-not-failed", !failed, "%d pods failed%s", j.Status.Failed, conditionReason(j, batchv1.JobFailed)))
	if failed {
		h.failed = true
		return h, nil
	}
	if complete {
		h.checks = append(h.checks, check("job-complete", true, "%d pods succeeded", j.Status.Succeeded))
		h.healthy, h.done = true, true
		return h, nil
	}
	if j.Spec.Suspend != nil && *j.Spec.Suspend {
		h.healthy = j.Status.Active == 0
		h.checks = append(h.checks, check("job-suspended", h.healthy, "suspended, %d pods active", j.Status.Active))
		return h, nil
	}
	active := j.Status.Active > 0
	h.checks = append(h.checks, check("job-active", active, "%d pods active, %d succeeded", j.Status.Active, j.Status.Succeeded))
	h.restarts = j.Status.Failed
	succeeded := int(j.Status.Succeeded)
	if u := j.Status.UncountedTerminatedPods; u != nil {
		// The Job controller takes a finished pod out of active first and
		// counts it a moment later.
		succeeded += len(u.Succeeded)
	}
	if !active && succeeded > 0 {
		// Its last pod succeeded and the Job controller has not written
		// Complete yet: finishing, not broken.
		h.checks = append(h.checks, check("pods-running", true, "no pod active, %d succeeded: the Job is finishing", succeeded))
		h.healthy = true
		return h, nil
	}
	if !active {
		h.checks = append(h.checks, check("pods-running", false, "not looked at until the Job has active pods"))
		return h, nil
	}
	pods, err := r.JobExecutor.Pods(ctx, j)
	if err != nil {
		return health{}, err
	}
	var notRunning []string
	running, succeededPods := 0, 0
	for _, p := range pods {
		switch p.Status.Phase {
		case corev1.PodSucceeded:
			// Ahead of the Job's status, which still counts it active.
			succeededPods++
			continue
		case corev1.PodFailed:
			continue // counted in the Job's status
		case corev1.PodRunning:
			running++
		default:
			notRunning = append(notRunning, p.Name+" "+string(p.Status.Phase))
		}
		h.restarts += actions.Restarts(&p)
	}
	ok := running+succeededPods > 0 && len(notRunning) == 0
	h.checks = append(h.checks, check("pods-running", ok, "%d running, %d succeeded; not running: %s", running, succeededPods, strings.Join(notRunning, ", ")))
	h.healthy = ok
	return h, nil
}

func conditionReason(j *batchv1.Job, t batchv1.JobConditionType) string {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return ": " + c.Reason + " " + c.Message
		}
	}
	return ""
}
