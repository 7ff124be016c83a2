package detect

import (
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Reasons the Deployment controller writes on its Progressing condition.
const (
	reasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	reasonNewReplicaSetAvailable   = "NewReplicaSetAvailable"
)

// EvaluateDeployment reports deploy_failing when
//
//   - the Progressing condition is False with reason
//     ProgressDeadlineExceeded: the controller itself gave up; or
//   - unavailableReplicas > 0 and the Deployment has made no progress for
//     DeployGrace. "No progress since" is the later of the Available
//     condition's lastTransitionTime, when Available is not True, and the
//     Progressing condition's lastUpdateTime, which the controller bumps on
//     every step of a rollout, while a rollout is under way (Progressing
//     True with a reason other than NewReplicaSetAvailable). When neither
//     gives a time (the controller has not written its conditions yet) it
//     is the creation time. Within the grace, RecheckAfter is the time left.
//
// Not reported:
//   - paused Deployments, Deployments scaled to 0, and Deployments being
//     deleted;
//   - a status the controller has not caught up with (observedGeneration
//     below generation): RecheckAfter is StatusLagRecheck;
//   - unavailable replicas of a finished rollout that is still Available:
//     they are within the strategy's maxUnavailable, no timestamp says since
//     when, and the pod detectors report why those pods are down.
func EvaluateDeployment(d *appsv1.Deployment, now time.Time, cfg Config) Result {
	var r Result
	if d == nil || d.DeletionTimestamp != nil || d.Spec.Paused {
		return r
	}
	want := replicasOf(d.Spec.Replicas)
	if want == 0 {
		return r
	}
	if d.Status.ObservedGeneration < d.Generation {
		r.recheck(cfg.StatusLagRecheck)
		return r
	}
	var progressing, available *appsv1.DeploymentCondition
	for i := range d.Status.Conditions {
		switch c := &d.Status.Conditions[i]; c.Type {
		case appsv1.DeploymentProgressing:
			progressing = c
		case appsv1.DeploymentAvailable:
			available = c
		}
	}
	value, threshold := strconv.Itoa(int(d.Status.AvailableReplicas)), strconv.Itoa(int(want))

	if progressing != nil && progressing.Status == corev1.ConditionFalse && progressing.Reason == reasonProgressDeadlineExceeded {
		deadline := ""
		if s := d.Spec.ProgressDeadlineSeconds; s != nil {
			deadline = " of " + human(time.Duration(*s)*time.Second)
		}
		r.add(platformv1alpha1.SignalDeployFailing, "", value, threshold,
			"DeploymentFailing on %s: the rollout exceeded its progress deadline%s with %d of %d replicas available%s",
			d.Name, deadline, d.Status.AvailableReplicas, want, quote("", progressing.Message))
		return r
	}
	if d.Status.UnavailableReplicas <= 0 {
		return r
	}
	since, ok := deploymentStuckSince(d, progressing, available)
	if !ok {
		return r
	}
	stuck := elapsed(now, since)
	if stuck < cfg.DeployGrace {
		r.recheck(cfg.DeployGrace - stuck)
		return r
	}
	why := ""
	if available != nil && available.Status != corev1.ConditionTrue {
		why = quote(available.Reason, available.Message)
	}
	r.add(platformv1alpha1.SignalDeployFailing, "", value, threshold,
		"DeploymentFailing on %s: %d of %d replicas unavailable with no progress for %s%s",
		d.Name, d.Status.UnavailableReplicas, want, human(stuck), why)
	return r
}

// deploymentStuckSince is when the Deployment last made progress while
// short of available replicas; ok is false when no timestamp tells.
func deploymentStuckSince(d *appsv1.Deployment, progressing, available *appsv1.DeploymentCondition) (since time.Time, ok bool) {
	rolling := progressing != nil && progressing.Status == corev1.ConditionTrue && progressing.Reason != reasonNewReplicaSetAvailable
	if available != nil && available.Status == corev1.ConditionTrue && !rolling {
		return time.Time{}, false
	}
	if available != nil && available.Status != corev1.ConditionTrue {
		since = available.LastTransitionTime.Time
	}
	if rolling && progressing.LastUpdateTime.After(since) {
		since = progressing.LastUpdateTime.Time
	}
	if since.IsZero() {
		since = d.CreationTimestamp.Time
	}
	return since, !since.IsZero()
}

// EvaluateStatefulSet reports deploy_failing when readyReplicas stays below
// spec.replicas without progress for DeployGrace. A StatefulSet's status
// has no timestamps, so tracker remembers since when it is short; a rise in
// ready plus updated replicas beyond the best of the episode restarts the
// clock, so that a slow ordered rollout is not called stuck. A nil tracker
// turns the rule off. StatefulSets scaled to 0 or being deleted are not
// reported, and a status behind its generation gives RecheckAfter
// StatusLagRecheck.
func EvaluateStatefulSet(s *appsv1.StatefulSet, tracker *UnhealthySince, now time.Time, cfg Config) Result {
	var r Result
	if s == nil || tracker == nil {
		return r
	}
	want := replicasOf(s.Spec.Replicas)
	if s.DeletionTimestamp != nil || want == 0 {
		tracker.Forget(s.UID)
		return r
	}
	if s.Status.ObservedGeneration < s.Generation {
		r.recheck(cfg.StatusLagRecheck)
		return r
	}
	ready := s.Status.ReadyReplicas
	if ready >= want {
		tracker.Forget(s.UID)
		return r
	}
	stuck, ok := stuckFor(&r, tracker, s.UID, now, int64(ready)+int64(s.Status.UpdatedReplicas), cfg)
	if !ok {
		return r
	}
	rollout := ""
	if s.Status.UpdateRevision != "" && s.Status.CurrentRevision != s.Status.UpdateRevision {
		rollout = fmt.Sprintf(", during a rolling update with %d of %d replicas updated", s.Status.UpdatedReplicas, want)
	}
	r.add(platformv1alpha1.SignalDeployFailing, "", strconv.Itoa(int(ready)), strconv.Itoa(int(want)),
		"StatefulSetFailing on %s: %d of %d replicas ready with no progress for %s%s",
		s.Name, ready, want, human(stuck), rollout)
	return r
}

// EvaluateDaemonSet reports deploy_failing when numberUnavailable > 0 or
// numberReady < desiredNumberScheduled without progress for DeployGrace,
// timed by tracker as for StatefulSets (progress: ready plus updated pods).
// A nil tracker turns the rule off. DaemonSets that want no pods or are
// being deleted are not reported, and a status behind its generation gives
// RecheckAfter StatusLagRecheck.
func EvaluateDaemonSet(d *appsv1.DaemonSet, tracker *UnhealthySince, now time.Time, cfg Config) Result {
	var r Result
	if d == nil || tracker == nil {
		return r
	}
	st := d.Status
	if d.DeletionTimestamp != nil || st.DesiredNumberScheduled <= 0 {
		tracker.Forget(d.UID)
		return r
	}
	if st.ObservedGeneration < d.Generation {
		r.recheck(cfg.StatusLagRecheck)
		return r
	}
	if st.NumberUnavailable <= 0 && st.NumberReady >= st.DesiredNumberScheduled {
		tracker.Forget(d.UID)
		return r
	}
	stuck, ok := stuckFor(&r, tracker, d.UID, now, int64(st.NumberReady)+int64(st.UpdatedNumberScheduled), cfg)
	if !ok {
		return r
	}
	r.add(platformv1alpha1.SignalDeployFailing, "", strconv.Itoa(int(st.NumberReady)), strconv.Itoa(int(st.DesiredNumberScheduled)),
		"DaemonSetFailing on %s: %d of %d pods ready, %d unavailable, with no progress for %s",
		d.Name, st.NumberReady, st.DesiredNumberScheduled, st.NumberUnavailable, human(stuck))
	return r
}

// stuckFor records an unhealthy observation and says for how long the
// workload has been stuck; within the grace it asks for a recheck and
// returns ok false.
func stuckFor(r *Result, tracker *UnhealthySince, uid types.UID, now time.Time, progress int64, cfg Config) (time.Duration, bool) {
	since, tracked := tracker.observe(uid, now, progress)
	if !tracked {
		return 0, false
	}
	stuck := elapsed(now, since)
	if stuck < cfg.DeployGrace {
		r.recheck(cfg.DeployGrace - stuck)
		return stuck, false
	}
	return stuck, true
}

// replicasOf applies the API default of one replica.
func replicasOf(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}
