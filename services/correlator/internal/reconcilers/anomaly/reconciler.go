// Package anomaly correlates each Anomaly into the open Issue of its
// resource, creating the Issue when there is none.
//
// Exactly one Issue per incident holds with two correlator replicas, a
// restart mid-pass, or Redis down: the Issue's name is deterministic from
// the resource and its incident generation, so a second create meets
// AlreadyExists and joins instead. A Redis lock per resource only spares
// the API server those collisions; correlation never waits on Redis.
//
// Writes, in order, so a crash at any point replays safely: the Issue
// (created, or its spec raised), then the Anomaly's issue label, then the
// Anomaly's status. The Issue's status is its own reconciler's.
package anomaly

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/reconcile"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/services/correlator/internal/correlate"
)

// lockPurpose names the correlation lock in Redis keys.
const lockPurpose = "correlate"

// Reconciler correlates Anomalies. Client, Reader and Now are required;
// Redis is optional.
type Reconciler struct {
	// Client reads through the cache and writes.
	Client client.Client
	// Reader reads the Issues of a resource from the API server, not the
	// cache: a just-created Issue must be found by the next Anomaly.
	Reader client.Reader
	// Redis, when set, serialises correlation per resource.
	Redis *redisx.Client
	// Now is the clock.
	Now func() time.Time
	// Workers is how many Anomalies are correlated at once.
	Workers int

	base reconcile.Base[*platformv1alpha1.Anomaly]
}

// SetupWithManager checks the dependencies and registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Reader == nil || r.Now == nil {
		return errors.New("anomaly reconciler: Client, Reader and Now are required")
	}
	r.base = reconcile.Base[*platformv1alpha1.Anomaly]{
		Client:             r.Client,
		NewObject:          func() *platformv1alpha1.Anomaly { return &platformv1alpha1.Anomaly{} },
		Conditions:         func(a *platformv1alpha1.Anomaly) *[]metav1.Condition { return &a.Status.Conditions },
		ObservedGeneration: func(a *platformv1alpha1.Anomaly) *int64 { return &a.Status.ObservedGeneration },
		Normal:             []reconcile.Phase[*platformv1alpha1.Anomaly]{r.correlate},
	}
	if err := r.base.Validate(); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&platformv1alpha1.Anomaly{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Named("anomaly").
		Complete(r)
}

// Reconcile runs one pass.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.base.Reconcile(ctx, req)
}

// correlate joins the Anomaly to its resource's open Issue, or opens one.
func (r *Reconciler) correlate(ctx context.Context, a *platformv1alpha1.Anomaly) (ctrl.Result, error) {
	if a.Status.Correlated && a.Status.IssueRef != nil {
		return ctrl.Result{}, nil
	}
	unlock := r.lock(ctx, a.Spec.Resource)
	defer unlock()

	issue, err := r.joinOrOpen(ctx, a)
	if err != nil {
		return ctrl.Result{}, err
	}
	if a.Labels[platformv1alpha1.LabelIssue] != issue.Name {
		patch := client.MergeFrom(a.DeepCopy())
		if a.Labels == nil {
			a.Labels = map[string]string{}
		}
		a.Labels[platformv1alpha1.LabelIssue] = issue.Name
		if err := r.Client.Patch(ctx, a, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("label Anomaly %s with its Issue: %w", a.Name, err)
		}
	}
	now := metav1.NewTime(r.Now())
	a.Status.Correlated = true
	a.Status.IssueRef = &platformv1alpha1.LocalObjectReference{Name: issue.Name}
	a.Status.CorrelatedAt = &now
	reconcile.SetCondition(a, &a.Status.Conditions, platformv1alpha1.AnomalyCorrelatedCondition, metav1.ConditionTrue,
		platformv1alpha1.AnomalyCorrelatedReason, "Correlated into Issue "+issue.Name)
	return ctrl.Result{}, nil
}

// lock takes the resource's correlation lock when Redis answers, and
// returns its release. Without Redis, deterministic names keep correlation
// exactly-once, so the pass goes on.
func (r *Reconciler) lock(ctx context.Context, res platformv1alpha1.ResourceReference) func() {
	if r.Redis == nil {
		return func() {}
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	key := platformv1alpha1.ResourceReference{Kind: res.Kind, Namespace: res.Namespace, Name: res.Name}
	l, err := r.Redis.AcquireWait(waitCtx, lockPurpose, key, redisx.LockOptions{TTL: 15 * time.Second})
	if err != nil {
		logr.FromContextOrDiscard(ctx).V(1).Info("Correlating without the resource lock", "resource", key.String(), "reason", err.Error())
		return func() {}
	}
	return func() { _ = l.Release(context.WithoutCancel(ctx)) }
}

// joinOrOpen returns the Issue the Anomaly belongs to, with its spec raised
// by the Anomaly's signal.
func (r *Reconciler) joinOrOpen(ctx context.Context, a *platformv1alpha1.Anomaly) (*platformv1alpha1.Issue, error) {
	for range 3 {
		issue, generation, err := r.openIssue(ctx, a)
		if err != nil {
			return nil, err
		}
		if issue == nil {
			issue, err = r.create(ctx, a, generation)
			if apierrors.IsAlreadyExists(err) {
				continue // another pass opened it first: join it
			}
			return issue, err
		}
		err = r.raise(ctx, issue, a)
		if apierrors.IsConflict(err) {
			continue
		}
		return issue, err
	}
	return nil, fmt.Errorf("correlate Anomaly %s: the Issues of %s kept changing", a.Name, a.Spec.Resource.String())
}

// openIssue returns the resource's open Issue, or nil and the generation a
// new one takes. Escalated counts as open: a fault that persists after
// escalation stays one incident.
func (r *Reconciler) openIssue(ctx context.Context, a *platformv1alpha1.Anomaly) (*platformv1alpha1.Issue, int, error) {
	list := &platformv1alpha1.IssueList{}
	err := r.Reader.List(ctx, list, client.InNamespace(a.Namespace),
		client.MatchingLabels{platformv1alpha1.LabelResourceKey: correlate.ResourceKey(a.Spec.Resource)})
	if err != nil {
		return nil, 0, fmt.Errorf("list Issues of %s: %w", a.Spec.Resource.String(), err)
	}
	next := 0
	var open *platformv1alpha1.Issue
	for i := range list.Items {
		issue := &list.Items[i]
		g, err := strconv.Atoi(issue.Labels[platformv1alpha1.LabelIncidentGeneration])
		if err == nil && g+1 > next {
			next = g + 1
		}
		if issue.Status.State != platformv1alpha1.IssueResolved && issue.DeletionTimestamp == nil &&
			(open == nil || issue.CreationTimestamp.Before(&open.CreationTimestamp)) {
			open = issue
		}
	}
	return open, next, nil
}

// create opens the generation-th Issue of the Anomaly's resource.
func (r *Reconciler) create(ctx context.Context, a *platformv1alpha1.Anomaly, generation int) (*platformv1alpha1.Issue, error) {
	types := []platformv1alpha1.SignalType{a.Spec.SignalType}
	risk := correlate.RiskScore(types)
	res := a.Spec.Resource
	issue := &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: a.Namespace,
			Name:      correlate.IssueName(res, generation),
			Labels: map[string]string{
				platformv1alpha1.LabelResourceKey:        correlate.ResourceKey(res),
				platformv1alpha1.LabelIncidentGeneration: strconv.Itoa(generation),
			},
			Annotations: map[string]string{platformv1alpha1.AnnotationSignalTypes: correlate.FormatTypes(types)},
		},
		Spec: platformv1alpha1.IssueSpec{
			Severity:    correlate.SeverityFor(risk),
			Source:      a.Spec.Source,
			SignalType:  a.Spec.SignalType,
			Description: describe(a.Spec.SignalType, res),
			Resource:    res,
			RiskScore:   risk,
		},
	}
	if err := r.Client.Create(ctx, issue); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, err
		}
		return nil, fmt.Errorf("create Issue %s: %w", issue.Name, err)
	}
	return issue, nil
}

// raise adds the Anomaly's signal to the Issue: the risk only rises, and a
// more causal signal becomes the Issue's signalType while the Issue is
// still being analysed (later, a plan is already built on it).
func (r *Reconciler) raise(ctx context.Context, issue *platformv1alpha1.Issue, a *platformv1alpha1.Anomaly) error {
	before := issue.DeepCopy()
	types := correlate.ParseTypes(issue.Annotations[platformv1alpha1.AnnotationSignalTypes])
	types = correlate.Distinct(append(types, a.Spec.SignalType))
	if issue.Annotations == nil {
		issue.Annotations = map[string]string{}
	}
	issue.Annotations[platformv1alpha1.AnnotationSignalTypes] = correlate.FormatTypes(types)
	if risk := correlate.RiskScore(types); risk > issue.Spec.RiskScore {
		issue.Spec.RiskScore = risk
		issue.Spec.Severity = correlate.SeverityFor(risk)
	}
	switch issue.Status.State {
	case "", platformv1alpha1.IssueDetected, platformv1alpha1.IssueAnalyzing:
		if correlate.MoreCausal(a.Spec.SignalType, issue.Spec.SignalType) {
			issue.Spec.SignalType = a.Spec.SignalType
			issue.Spec.Description = describe(a.Spec.SignalType, issue.Spec.Resource)
		}
	}
	if equalSpecAndAnnotations(before, issue) {
		return nil
	}
	if err := r.Client.Patch(ctx, issue, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("raise Issue %s: %w", issue.Name, err)
	}
	return nil
}

func equalSpecAndAnnotations(a, b *platformv1alpha1.Issue) bool {
	return a.Spec == b.Spec && a.Annotations[platformv1alpha1.AnnotationSignalTypes] == b.Annotations[platformv1alpha1.AnnotationSignalTypes]
}

// describe is the Issue's description: its cause and its resource.
func describe(t platformv1alpha1.SignalType, res platformv1alpha1.ResourceReference) string {
	return fmt.Sprintf("Correlated incident: %s on %s %s", t, res.Kind, res.Name)
}
