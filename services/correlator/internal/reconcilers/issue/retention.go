package issue

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// DefaultRetention is how long a Resolved Issue is kept after it was
// resolved.
const DefaultRetention = 30 * 24 * time.Hour

// retire deletes a Resolved Issue once the retention has passed since it
// was resolved, keeping its PostMortem, which outlives it as the record of
// the incident. It reads only what earlier passes stored, so it runs
// first; the pass that deletes ends there.
//
// An Issue is retired only when everything that still depends on it is
// done: the watcher-bridge has forgotten the resource (DedupReleased), the
// PostMortem exists and is linked, and no Anomaly is labelled with it any
// more (the Anomaly reconciler deletes them after their shorter retention;
// one still there would otherwise be re-correlated into a new Issue). The
// PostMortem is released first: the Issue is its controller, so the
// garbage collector would delete it with the Issue. Releasing a dependent
// before deleting its owner is what a workload controller does with the
// pods it lets go; the AIInsights and plans are deleted with the Issue.
func (r *Reconciler) retire(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Status.State != platformv1alpha1.IssueResolved || issue.Status.ResolvedAt == nil {
		return ctrl.Result{}, nil
	}
	if left := issue.Status.ResolvedAt.Add(r.Retention).Sub(r.Now()); left > 0 {
		return ctrl.Result{}, nil // awaitRetention brings it back
	}
	released := findCondition(issue.Status.Conditions, platformv1alpha1.IssueDedupReleasedCondition)
	if issue.Status.PostMortemRef == nil || released == nil || released.Status != metav1.ConditionTrue {
		return ctrl.Result{}, nil // not done yet; the phases after this one get it there
	}
	log := ctrl.LoggerFrom(ctx)
	anomalies := &metav1.PartialObjectMetadataList{}
	anomalies.SetGroupVersionKind(platformv1alpha1.GroupVersion.WithKind("AnomalyList"))
	if err := r.Reader.List(ctx, anomalies, client.InNamespace(issue.Namespace),
		client.MatchingLabels{platformv1alpha1.LabelIssue: issue.Name}, client.Limit(1)); err != nil {
		return ctrl.Result{}, fmt.Errorf("list the Anomalies of Issue %s before retiring it: %w", issue.Name, err)
	}
	if len(anomalies.Items) > 0 {
		// Their own retention deletes them, which wakes the Issue.
		log.V(1).Info("Retention passed; waiting for the Issue's Anomalies to go first", "issue", issue.Name)
		return ctrl.Result{RequeueAfter: time.Hour}, nil
	}
	if err := r.releasePostMortem(ctx, issue); err != nil {
		return ctrl.Result{}, err
	}
	// The preconditions make sure that what is deleted is the Issue this
	// pass judged: not one recreated under the name, nor one a request
	// changed since.
	uid, version := issue.UID, issue.ResourceVersion
	err := r.Client.Delete(ctx, issue, client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &uid, ResourceVersion: &version})
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("delete Issue %s, resolved %s ago: %w", issue.Name, r.Now().Sub(issue.Status.ResolvedAt.Time).Round(time.Second), err)
	}
	log.Info("Retired a Resolved Issue past its retention; its PostMortem stays", "issue", issue.Name,
		"resolvedAt", issue.Status.ResolvedAt.Time, "postMortem", issue.Status.PostMortemRef.Name)
	// End the pass: the deletion's event brings the finalizer's pass.
	return ctrl.Result{RequeueAfter: time.Second}, nil
}

// releasePostMortem drops the Issue from the owner references of its
// PostMortem, under the PostMortem's resourceVersion (a merge patch
// replaces the list whole).
func (r *Reconciler) releasePostMortem(ctx context.Context, issue *platformv1alpha1.Issue) error {
	pm := &platformv1alpha1.PostMortem{}
	key := client.ObjectKey{Namespace: issue.Namespace, Name: issue.Status.PostMortemRef.Name}
	if err := r.Reader.Get(ctx, key, pm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // gone already; nothing to keep
		}
		return fmt.Errorf("get PostMortem %s of Issue %s: %w", key.Name, issue.Name, err)
	}
	owners := pm.GetOwnerReferences()
	kept := make([]metav1.OwnerReference, 0, len(owners))
	for _, o := range owners {
		if o.UID != issue.UID {
			kept = append(kept, o)
		}
	}
	if len(kept) == len(owners) {
		return nil
	}
	before := pm.DeepCopy()
	pm.SetOwnerReferences(kept)
	if err := r.Client.Patch(ctx, pm, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("release PostMortem %s from Issue %s before retiring it: %w", pm.Name, issue.Name, err)
	}
	return nil
}

// awaitRetention, the last phase, brings a Resolved Issue back when its
// retention has passed (a restart loses the timer; the first pass after it
// sets it again).
func (r *Reconciler) awaitRetention(_ context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Status.State != platformv1alpha1.IssueResolved || issue.Status.ResolvedAt == nil {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(issue.Status.ResolvedAt.Add(r.Retention).Sub(r.Now()), 0) + time.Second}, nil
}
