package reconcile_test

import (
	"context"
	"errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/reconcile"
)

// Reconciler is how a service's reconciler of Issues is built on Base.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder

	base reconcile.Base[*platformv1alpha1.Issue]
}

func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.base = reconcile.Base[*platformv1alpha1.Issue]{
		Client:             r.Client,
		Recorder:           r.Recorder,
		NewObject:          func() *platformv1alpha1.Issue { return &platformv1alpha1.Issue{} },
		Conditions:         func(i *platformv1alpha1.Issue) *[]metav1.Condition { return &i.Status.Conditions },
		ObservedGeneration: func(i *platformv1alpha1.Issue) *int64 { return &i.Status.ObservedGeneration },
		Normal:             []reconcile.Phase[*platformv1alpha1.Issue]{r.validate, r.analyze},
	}
	if err := r.base.Validate(); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).For(&platformv1alpha1.Issue{}).Complete(r)
}

func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.base.Reconcile(ctx, req)
}

func (r *Reconciler) validate(_ context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Spec.Resource.Name == "" {
		err := reconcile.TerminalError(errors.New("spec.resource.name is empty"))
		analyzed.Mark(issue, &issue.Status.Conditions, err)
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) analyze(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	err := r.ensureInsight(ctx, issue) // creates or reads the AIInsight
	analyzed.Mark(issue, &issue.Status.Conditions, err)
	return ctrl.Result{}, err
}

func (r *Reconciler) ensureInsight(context.Context, *platformv1alpha1.Issue) error { return nil }

// Example shows a Reconciler of Issues built on Base (see Reconciler in
// this file): its Reconcile method is one call, and each phase reports its
// outcome in a condition.
func Example() {
	var _ crreconcile.Reconciler = &Reconciler{}
}
