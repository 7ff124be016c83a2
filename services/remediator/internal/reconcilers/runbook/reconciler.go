// Package runbook keeps Runbooks' status: whether every step is a valid
// catalogue action, and the counters of the plans made from them
// (timesUsed, timesSucceeded, timesFailed, timesRecurred, lastUsedAt,
// lastSucceededAt). It also deletes generated Runbooks nobody used for a
// while.
package runbook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	libreconcile "github.com/chatcli/aiops/libs/reconcile"
)

// Reconciler keeps Runbook status.
type Reconciler struct {
	Client client.Client
	Reader client.Reader
	Now    func() time.Time
	// GeneratedTTL deletes generated Runbooks unused for this long; 0
	// keeps them.
	GeneratedTTL time.Duration

	base libreconcile.Base[*platformv1alpha1.Runbook]
}

// SetupWithManager registers the controller: plans wake their Runbook, and
// an Issue that recurs wakes the Runbooks of the plans that resolved the
// Issue it repeats.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Now == nil {
		return errors.New("runbook reconciler: Client and Now are required")
	}
	r.base = libreconcile.Base[*platformv1alpha1.Runbook]{
		Client:             r.Client,
		NewObject:          func() *platformv1alpha1.Runbook { return &platformv1alpha1.Runbook{} },
		Conditions:         func(rb *platformv1alpha1.Runbook) *[]metav1.Condition { return &rb.Status.Conditions },
		ObservedGeneration: func(rb *platformv1alpha1.Runbook) *int64 { return &rb.Status.ObservedGeneration },
		Normal:             []libreconcile.Phase[*platformv1alpha1.Runbook]{r.validate, r.count, r.collect},
	}
	if err := r.base.Validate(); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&platformv1alpha1.Runbook{}).
		Watches(&platformv1alpha1.RemediationPlan{}, handler.EnqueueRequestsFromMapFunc(runbookOfPlan)).
		Watches(&platformv1alpha1.Issue{}, handler.EnqueueRequestsFromMapFunc(r.runbooksOfRecurrence)).
		Named("runbook").
		Complete(r)
}

// Reconcile runs one pass.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.base.Reconcile(ctx, req)
}

// RunbookOf returns the Runbook a plan came from, if any.
func RunbookOf(p *platformv1alpha1.RemediationPlan) (client.ObjectKey, bool) {
	if p.Spec.RunbookRef != nil {
		return client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.RunbookRef.Name}, true
	}
	if ns, name, ok := strings.Cut(p.Annotations[platformv1alpha1.AnnotationRunbook], "/"); ok {
		return client.ObjectKey{Namespace: ns, Name: name}, true
	}
	return client.ObjectKey{}, false
}

func runbookOfPlan(_ context.Context, obj client.Object) []reconcile.Request {
	p, ok := obj.(*platformv1alpha1.RemediationPlan)
	if !ok {
		return nil
	}
	if key, ok := RunbookOf(p); ok {
		return []reconcile.Request{{NamespacedName: key}}
	}
	return nil
}

func (r *Reconciler) runbooksOfRecurrence(ctx context.Context, obj client.Object) []reconcile.Request {
	issue, ok := obj.(*platformv1alpha1.Issue)
	if !ok || issue.Status.RecurrenceOf == nil {
		return nil
	}
	plans := &platformv1alpha1.RemediationPlanList{}
	if err := r.Client.List(ctx, plans, client.InNamespace(issue.Namespace), client.MatchingLabels{platformv1alpha1.LabelIssue: issue.Status.RecurrenceOf.Name}); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range plans.Items {
		out = append(out, runbookOfPlan(ctx, &plans.Items[i])...)
	}
	return out
}

// validate checks every step against the catalogue: a known, implemented
// action (Custom never) with params that parse.
func (r *Reconciler) validate(_ context.Context, rb *platformv1alpha1.Runbook) (ctrl.Result, error) {
	var problems []string
	for i, st := range rb.Spec.Steps {
		if err := StepProblem(st); err != "" {
			problems = append(problems, fmt.Sprintf("step %d (%s): %s", i+1, st.Name, err))
		}
	}
	if len(problems) > 0 {
		libreconcile.SetCondition(rb, &rb.Status.Conditions, platformv1alpha1.RunbookValidCondition, metav1.ConditionFalse, platformv1alpha1.RunbookStepRefusedReason, strings.Join(problems, "; "))
		return ctrl.Result{}, nil
	}
	libreconcile.SetCondition(rb, &rb.Status.Conditions, platformv1alpha1.RunbookValidCondition, metav1.ConditionTrue, platformv1alpha1.RunbookStepsValidReason, "every step is a valid catalogue action")
	return ctrl.Result{}, nil
}

// StepProblem says why a step cannot run, or "" when it can.
func StepProblem(st platformv1alpha1.RunbookStep) string {
	if st.Action == platformv1alpha1.ActionCustom {
		return "Custom actions never run"
	}
	spec, ok := actions.Lookup(st.Action)
	if !ok {
		return "not in the action catalogue"
	}
	if err := actions.Parse(st.Action, st.Params); err != nil {
		return err.Error()
	}
	if !spec.Implemented {
		return "not implemented"
	}
	return ""
}

// count recomputes the counters from the plans: a plan is counted by what
// its status says now, so a repeated pass counts nothing twice.
func (r *Reconciler) count(ctx context.Context, rb *platformv1alpha1.Runbook) (ctrl.Result, error) {
	// Every namespace: a platform Runbook serves them all (plans name it
	// by annotation).
	plans := &platformv1alpha1.RemediationPlanList{}
	if err := r.Client.List(ctx, plans); err != nil {
		return ctrl.Result{}, fmt.Errorf("list plans: %w", err)
	}
	st := &rb.Status
	st.TimesUsed, st.TimesSucceeded, st.TimesFailed, st.TimesRecurred = 0, 0, 0, 0
	var lastUsed, lastSucceeded *metav1.Time
	recurred := map[string]map[string]bool{} // namespace -> Issues named by a recurrenceOf
	for i := range plans.Items {
		p := &plans.Items[i]
		if key, ok := RunbookOf(p); !ok || key != client.ObjectKeyFromObject(rb) {
			continue
		}
		st.TimesUsed++
		if t := p.CreationTimestamp; lastUsed == nil || lastUsed.Before(&t) {
			lastUsed = t.DeepCopy()
		}
		switch p.Status.State {
		case platformv1alpha1.PlanCompleted:
			st.TimesSucceeded++
			if t := p.Status.CompletedAt; t != nil && (lastSucceeded == nil || lastSucceeded.Before(t)) {
				lastSucceeded = t.DeepCopy()
			}
			names, err := r.recurredIssues(ctx, recurred, p.Namespace)
			if err != nil {
				return ctrl.Result{}, err
			}
			if names[p.Spec.IssueRef.Name] {
				st.TimesRecurred++
			}
		case platformv1alpha1.PlanFailed, platformv1alpha1.PlanRolledBack:
			st.TimesFailed++
		}
	}
	st.LastUsedAt, st.LastSucceededAt = lastUsed, lastSucceeded
	return ctrl.Result{}, nil
}

func (r *Reconciler) recurredIssues(ctx context.Context, cache map[string]map[string]bool, ns string) (map[string]bool, error) {
	if names, ok := cache[ns]; ok {
		return names, nil
	}
	issues := &platformv1alpha1.IssueList{}
	if err := r.Client.List(ctx, issues, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list issues: %w", err)
	}
	names := map[string]bool{}
	for _, is := range issues.Items {
		if is.Status.RecurrenceOf != nil {
			names[is.Status.RecurrenceOf.Name] = true
		}
	}
	cache[ns] = names
	return names, nil
}

// collect deletes a generated Runbook unused for GeneratedTTL.
func (r *Reconciler) collect(ctx context.Context, rb *platformv1alpha1.Runbook) (ctrl.Result, error) {
	if r.GeneratedTTL <= 0 || rb.Labels[platformv1alpha1.LabelRunbookGenerated] != "true" {
		return ctrl.Result{}, nil
	}
	last := rb.CreationTimestamp.Time
	if rb.Status.LastUsedAt != nil && rb.Status.LastUsedAt.After(last) {
		last = rb.Status.LastUsedAt.Time
	}
	if idle := r.Now().Sub(last); idle < r.GeneratedTTL {
		return ctrl.Result{RequeueAfter: r.GeneratedTTL - idle}, nil
	}
	if err := r.Client.Delete(ctx, rb, client.Preconditions{UID: &rb.UID, ResourceVersion: &rb.ResourceVersion}); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("delete unused generated runbook: %w", err)
	}
	return ctrl.Result{}, nil
}
