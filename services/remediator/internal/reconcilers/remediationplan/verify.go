package remediationplan

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/k8sctx"
)

// health is the verdict on the target now.
type health struct {
	healthy  bool
	restarts int32
	checks   []platformv1alpha1.VerificationCheck
	// done means healthy for good (a Job that completed): the stability
	// window has nothing left to watch. Never set for a Deployment.
	done bool
	// failed means broken for good (a Job that failed, a rollout whose
	// every pod backs off): waiting for the deadline would change nothing.
	failed bool
}

// health judges obj, a target Live returned, by its kind.
func (r *Reconciler) health(ctx context.Context, obj client.Object) (health, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return r.deploymentHealth(ctx, o)
	case *batchv1.Job:
		return r.jobHealth(ctx, o)
	}
	return health{}, fmt.Errorf("no health check for a %T", obj)
}

// verifyTimeout is how long the target has to become healthy: the
// kind's own deadline (a Deployment's progressDeadlineSeconds, a Job's
// activeDeadlineSeconds) capped at limit.
func verifyTimeout(obj client.Object, limit time.Duration) time.Duration {
	var seconds *int64
	switch o := obj.(type) {
	case *appsv1.Deployment:
		if o.Spec.ProgressDeadlineSeconds != nil {
			seconds = ptr.To(int64(*o.Spec.ProgressDeadlineSeconds))
		}
	case *batchv1.Job:
		seconds = o.Spec.ActiveDeadlineSeconds
	}
	if seconds != nil {
		return min(limit, time.Duration(*seconds)*time.Second)
	}
	return limit
}

func check(name string, ok bool, format string, args ...any) platformv1alpha1.VerificationCheck {
	return platformv1alpha1.VerificationCheck{Name: name, Healthy: ptr.To(ok), Message: truncate(fmt.Sprintf(format, args...), 1000)}
}

// deploymentHealth judges d only once its controller observed the change:
// observedGeneration ≥ generation, every replica updated and available,
// none unavailable, and no pod of an older template left.
func (r *Reconciler) deploymentHealth(ctx context.Context, d *appsv1.Deployment) (health, error) {
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	st := d.Status
	h := health{}
	observed := st.ObservedGeneration >= d.Generation
	h.checks = append(h.checks, check("rollout-observed", observed, "observedGeneration %d, generation %d", st.ObservedGeneration, d.Generation))
	updated := observed && st.UpdatedReplicas == replicas
	h.checks = append(h.checks, check("replicas-updated", updated, "%d of %d replicas updated", st.UpdatedReplicas, replicas))
	available := observed && st.AvailableReplicas == replicas && st.ReadyReplicas == replicas && st.UnavailableReplicas == 0
	h.checks = append(h.checks, check("replicas-available", available, "%d ready, %d available, %d unavailable of %d", st.ReadyReplicas, st.AvailableReplicas, st.UnavailableReplicas, replicas))
	if !available || !updated {
		// The pods are read only once the status says the rollout is
		// done: until then one read of the Deployment decides, and a
		// plan waiting for its rollout costs no list.
		h.checks = append(h.checks, check("old-pods-gone", false, "not looked at until the rollout is updated and available"))
		return h, nil
	}
	pods, owned, err := r.Executor.PodsOf(ctx, d)
	if err != nil {
		return health{}, err
	}
	current := k8sctx.CurrentReplicaSet(d, owned)
	var old []string
	for _, p := range pods {
		if current == nil || metav1.GetControllerOf(&p).UID != current.UID {
			old = append(old, p.Name)
			continue
		}
		h.restarts += actions.Restarts(&p)
	}
	oldGone := len(old) == 0 && (current != nil || replicas == 0)
	h.checks = append(h.checks, check("old-pods-gone", oldGone, "pods of an older template: %s", strings.Join(old, ", ")))
	h.healthy = observed && updated && available && oldGone
	return h, nil
}

// brokenRollout is a failed check when d's controller has rolled out its
// spec and every pod of the current template is backing off (k8sctx's
// BackOffReason): the rollout cannot become healthy, and waiting out
// progressDeadlineSeconds (600 s by default) would only delay the next
// attempt. nil otherwise, and while no pod of the current template exists.
func (r *Reconciler) brokenRollout(ctx context.Context, d *appsv1.Deployment) (*platformv1alpha1.VerificationCheck, error) {
	if d.Status.ObservedGeneration < d.Generation {
		return nil, nil
	}
	pods, owned, err := r.Executor.PodsOf(ctx, d)
	if err != nil {
		return nil, err
	}
	current := k8sctx.CurrentReplicaSet(d, owned)
	if current == nil {
		return nil, nil
	}
	var ofCurrent, broken []string
	for i := range pods {
		p := &pods[i]
		if owner := metav1.GetControllerOf(p); owner == nil || owner.UID != current.UID || p.DeletionTimestamp != nil {
			continue
		}
		ofCurrent = append(ofCurrent, p.Name)
		if reason := k8sctx.BackOffReason(p); reason != "" {
			broken = append(broken, p.Name+" "+reason)
		}
	}
	if len(ofCurrent) == 0 || len(broken) < len(ofCurrent) {
		return nil, nil
	}
	c := check("current-pods-running", false, "every pod of the current template backs off: %s", strings.Join(broken, ", "))
	return &c, nil
}

func (r *Reconciler) stabilityWindow(p *platformv1alpha1.RemediationPlan) time.Duration {
	if v, ok := p.Annotations[AnnotationStabilityWindow]; ok {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 && d <= MaxVerifyTimeout {
			return d
		}
	}
	return r.StabilityWindow
}

// rolloutPoll is how long a plan waiting for its rollout sleeps: a change
// of the Deployment wakes it sooner (planOfTarget), so this is only the
// safety net, and the deadline.
func (r *Reconciler) rolloutPoll(v *platformv1alpha1.VerificationStatus, now time.Time) time.Duration {
	d := 10 * r.PollInterval
	if v.Deadline != nil {
		d = min(d, max(v.Deadline.Sub(now), time.Millisecond))
	}
	return d
}

// verifying waits for the target to be healthy, then for it to stay so for
// the stability window with no new restart.
func (r *Reconciler) verifying(ctx context.Context, p *platformv1alpha1.RemediationPlan) (ctrl.Result, error) {
	if _, res, ok := r.lock(ctx, p); !ok {
		return res, nil
	}
	v := p.Status.Verification
	if v == nil {
		return r.startVerifying(ctx, p)
	}
	obj, err := r.executors.Live(ctx, *p.Status.ResolvedTarget, p.UID)
	if done, res, err := r.targetGone(ctx, p, err); done {
		return res, err
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	h, err := r.health(ctx, obj)
	if err != nil {
		return ctrl.Result{}, err
	}
	now := r.Now()
	if !h.healthy && !h.failed && v.StartedAt != nil && now.Sub(v.StartedAt.Time) >= r.BrokenRolloutAfter {
		if d, ok := obj.(*appsv1.Deployment); ok {
			broken, err := r.brokenRollout(ctx, d)
			if err != nil {
				return ctrl.Result{}, err
			}
			if broken != nil {
				h.checks, h.failed = append(h.checks, *broken), true
			}
		}
	}
	window := r.stabilityWindow(p)
	stable := check("no-new-restarts", true, "%d restarts", h.restarts)
	if v.RestartBaseline != nil && h.restarts > *v.RestartBaseline {
		stable = check("no-new-restarts", false, "%d restarts, %d when the window began", h.restarts, *v.RestartBaseline)
	}
	v.Checks = append(h.checks, stable)
	switch {
	case h.failed:
		return r.failVerification(ctx, p, platformv1alpha1.RemediationPlanVerificationFailedReason, "the target failed: "+failedChecks(h.checks))
	case h.done:
		if v.HealthySince == nil {
			t := metav1.NewTime(now)
			v.HealthySince = &t
			actionToHealthy.Observe(lastActionAt(p), now)
		}
		v.Healthy = ptr.To(true)
		v.Message = "healthy: " + passedChecks(h.checks)
		r.cond(p, platformv1alpha1.RemediationPlanVerifiedCondition, true, platformv1alpha1.RemediationPlanHealthyReason, v.Message)
		return r.finish(ctx, p, platformv1alpha1.PlanCompleted, completedResult(p))
	case v.HealthySince != nil && (!h.healthy || !*stable.Healthy):
		return r.failVerification(ctx, p, platformv1alpha1.RemediationPlanVerificationFailedReason, "the target broke again inside the stability window")
	case !h.healthy && v.Deadline != nil && !now.Before(v.Deadline.Time):
		return r.failVerification(ctx, p, platformv1alpha1.RemediationPlanVerificationTimeoutReason, "the target was not healthy by "+v.Deadline.UTC().Format(time.RFC3339))
	case !h.healthy:
		v.Message = "waiting for the controller to roll the change out"
		return ctrl.Result{RequeueAfter: r.rolloutPoll(v, now), Priority: verifyPriority}, nil
	case v.HealthySince == nil:
		t := metav1.NewTime(now)
		v.HealthySince, v.RestartBaseline = &t, ptr.To(h.restarts)
		actionToHealthy.Observe(lastActionAt(p), now)
		v.Message = fmt.Sprintf("healthy; watching for %s", window)
		return ctrl.Result{RequeueAfter: min(r.PollInterval, window), Priority: verifyPriority}, nil
	case now.Sub(v.HealthySince.Time) < window:
		return ctrl.Result{RequeueAfter: min(r.PollInterval, window-now.Sub(v.HealthySince.Time)), Priority: verifyPriority}, nil
	}
	v.Healthy = ptr.To(true)
	v.Message = fmt.Sprintf("healthy and stable for %s", window)
	r.cond(p, platformv1alpha1.RemediationPlanVerifiedCondition, true, platformv1alpha1.RemediationPlanHealthyReason, v.Message)
	return r.finish(ctx, p, platformv1alpha1.PlanCompleted, completedResult(p))
}

func failedChecks(checks []platformv1alpha1.VerificationCheck) string {
	var out []string
	for _, c := range checks {
		if c.Healthy != nil && !*c.Healthy {
			out = append(out, c.Name+" ("+c.Message+")")
		}
	}
	return strings.Join(out, "; ")
}

func passedChecks(checks []platformv1alpha1.VerificationCheck) string {
	var out []string
	for _, c := range checks {
		if c.Healthy != nil && *c.Healthy {
			out = append(out, c.Name+" ("+c.Message+")")
		}
	}
	return strings.Join(out, "; ")
}

func completedResult(p *platformv1alpha1.RemediationPlan) string {
	var done []string
	for _, a := range p.Status.ActionResults {
		if a.Result == platformv1alpha1.ActionSucceeded {
			done = append(done, a.Message)
		}
	}
	return "verified healthy after: " + strings.Join(done, "; ")
}

func (r *Reconciler) failVerification(ctx context.Context, p *platformv1alpha1.RemediationPlan, reason, why string) (ctrl.Result, error) {
	p.Status.Verification.Healthy = ptr.To(false)
	p.Status.Verification.Message = why
	r.cond(p, platformv1alpha1.RemediationPlanVerifiedCondition, false, reason, why)
	return r.rollback(ctx, p, "verification failed: "+why)
}
