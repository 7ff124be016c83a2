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
// (created with its incident id label when Redis gives one, or its spec
// raised), then the Anomaly's issue label, then the
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
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/reconcile"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/services/correlator/internal/correlate"
	"github.com/chatcli/aiops/services/correlator/internal/incidentid"
)

// lockPurpose names the correlation lock in Redis keys.
const lockPurpose = "correlate"

// idTimeout bounds the incident id a new Issue is created with: a Redis
// that hangs delays no correlation by more, and the Issue reconciler
// gives the id later.
const idTimeout = time.Second

// Defaults of the Reconciler's tunables.
const (
	DefaultWindow    = 10 * time.Minute
	DefaultRetention = 7 * 24 * time.Hour
)

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
	// Window is how old an Anomaly may be and still open a new Issue;
	// zero means DefaultWindow.
	Window time.Duration
	// Retention is how long the Anomalies of a Resolved Issue are kept
	// after it was resolved; zero means DefaultRetention.
	Retention time.Duration

	base reconcile.Base[*platformv1alpha1.Anomaly]
}

// SetupWithManager checks the dependencies and registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Reader == nil || r.Now == nil {
		return errors.New("anomaly reconciler: Client, Reader and Now are required")
	}
	if r.Window <= 0 {
		r.Window = DefaultWindow
	}
	if r.Retention <= 0 {
		r.Retention = DefaultRetention
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
		// A deleted Issue's Anomalies are correlated again, and a
		// resolved one's start their retention.
		Watches(&platformv1alpha1.Issue{}, handler.Funcs{DeleteFunc: r.anomaliesOfDeletedIssue, UpdateFunc: r.anomaliesOfResolvedIssue}).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Named("anomaly").
		Complete(r)
}

// Reconcile runs one pass.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.base.Reconcile(ctx, req)
}

// anomaliesOfDeletedIssue queues the Anomalies of a deleted Issue.
func (r *Reconciler) anomaliesOfDeletedIssue(ctx context.Context, e event.TypedDeleteEvent[client.Object], q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
	r.queueAnomaliesOf(ctx, e.Object, q, 0)
}

// anomaliesOfResolvedIssue queues the Anomalies of an Issue that has just
// become Resolved, or is being deleted.
func (r *Reconciler) anomaliesOfResolvedIssue(ctx context.Context, e event.TypedUpdateEvent[client.Object], q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
	before, okBefore := e.ObjectOld.(*platformv1alpha1.Issue)
	after, okAfter := e.ObjectNew.(*platformv1alpha1.Issue)
	if !okBefore || !okAfter {
		return
	}
	if before.DeletionTimestamp == nil && after.DeletionTimestamp != nil {
		r.queueAnomaliesOf(ctx, after, q, 0)
	}
	if before.Status.State != platformv1alpha1.IssueResolved && after.Status.State == platformv1alpha1.IssueResolved && after.Status.ResolvedAt != nil {
		// Their retention starts now; they come back when it is over.
		r.queueAnomaliesOf(ctx, after, q, max(after.Status.ResolvedAt.Add(r.Retention).Sub(r.Now()), 0)+time.Second)
	}
}

// queueAnomaliesOf queues the Anomalies labelled with issue's name, after
// delay.
func (r *Reconciler) queueAnomaliesOf(ctx context.Context, issue client.Object, q workqueue.TypedRateLimitingInterface[ctrl.Request], delay time.Duration) {
	list := &platformv1alpha1.AnomalyList{}
	if err := r.Client.List(ctx, list, client.InNamespace(issue.GetNamespace()), client.MatchingLabels{platformv1alpha1.LabelIssue: issue.GetName()}); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "Cannot list the Anomalies of an Issue", "issue", issue.GetName())
		return
	}
	for _, a := range list.Items {
		q.AddAfter(ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&a)}, delay)
	}
}

// correlate joins the Anomaly to its resource's open Issue, or opens one.
// A correlated Anomaly whose Issue was deleted is correlated again; one of
// a Resolved Issue is deleted once the retention has passed.
func (r *Reconciler) correlate(ctx context.Context, a *platformv1alpha1.Anomaly) (ctrl.Result, error) {
	if a.Status.Correlated && a.Status.IssueRef != nil {
		issue, err := r.issueOf(ctx, a)
		if err != nil || (issue != nil && issue.DeletionTimestamp == nil) {
			return r.collect(ctx, a, issue, err)
		}
		// The Issue is gone or going: correlate again.
		a.Status.Correlated, a.Status.IssueRef, a.Status.CorrelatedAt = false, nil, nil
	} else if name := a.Labels[platformv1alpha1.LabelIssue]; name != "" {
		// Labelled but its status not seen yet (a crash between the two
		// writes, or a cache behind them): the label is the record, so the
		// Anomaly stays with that Issue while it exists, even if it has
		// been Resolved since; a new Issue is never opened for it.
		a.Status.IssueRef = &platformv1alpha1.LocalObjectReference{Name: name}
		issue, err := r.issueOf(ctx, a)
		if err != nil {
			return ctrl.Result{}, err
		}
		if issue != nil && issue.DeletionTimestamp == nil {
			r.markCorrelated(a, issue.Name)
			return ctrl.Result{}, nil
		}
		a.Status.IssueRef = nil
	}
	unlock := r.lock(ctx, a.Spec.Resource)
	defer unlock()

	issue, err := r.joinOrOpen(ctx, a)
	if errors.Is(err, errOutsideWindow) {
		if _, labelled := a.Labels[platformv1alpha1.LabelIssue]; labelled {
			// Let the deleted Issue go: it waits for its Anomalies.
			if err := r.setIssueLabel(ctx, a, ""); err != nil {
				return ctrl.Result{}, err
			}
		}
		reconcile.SetCondition(a, &a.Status.Conditions, platformv1alpha1.AnomalyCorrelatedCondition, metav1.ConditionFalse,
			platformv1alpha1.AnomalyOutsideWindowReason, fmt.Sprintf("No open Issue, and detected more than %s ago: no new Issue", r.Window))
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if a.Labels[platformv1alpha1.LabelIssue] != issue.Name {
		if err := r.setIssueLabel(ctx, a, issue.Name); err != nil {
			return ctrl.Result{}, err
		}
	}
	r.markCorrelated(a, issue.Name)
	return ctrl.Result{}, nil
}

// markCorrelated records the Anomaly's Issue in its status.
func (r *Reconciler) markCorrelated(a *platformv1alpha1.Anomaly, issue string) {
	now := metav1.NewTime(r.Now())
	if !a.Status.Correlated {
		anomalyToIssue.Observe(a.CreationTimestamp.Time, now.Time)
	}
	a.Status.Correlated = true
	a.Status.IssueRef = &platformv1alpha1.LocalObjectReference{Name: issue}
	a.Status.CorrelatedAt = &now
	reconcile.SetCondition(a, &a.Status.Conditions, platformv1alpha1.AnomalyCorrelatedCondition, metav1.ConditionTrue,
		platformv1alpha1.AnomalyCorrelatedReason, "Correlated into Issue "+issue)
}

// setIssueLabel labels the Anomaly with its Issue's name, or removes the
// label when name is empty. The patch goes through a copy: its answer
// replaces the object it is given, and the pass's status changes are not
// stored yet.
func (r *Reconciler) setIssueLabel(ctx context.Context, a *platformv1alpha1.Anomaly, name string) error {
	labelled := a.DeepCopy()
	if name == "" {
		delete(labelled.Labels, platformv1alpha1.LabelIssue)
	} else {
		if labelled.Labels == nil {
			labelled.Labels = map[string]string{}
		}
		labelled.Labels[platformv1alpha1.LabelIssue] = name
	}
	if err := r.Client.Patch(ctx, labelled, client.MergeFrom(a)); err != nil {
		return fmt.Errorf("label Anomaly %s with Issue %q: %w", a.Name, name, err)
	}
	a.Labels, a.ResourceVersion = labelled.Labels, labelled.ResourceVersion
	return nil
}

// errOutsideWindow: the Anomaly is too old to open an Issue.
var errOutsideWindow = errors.New("outside the correlation window")

// issueOf returns the Anomaly's Issue, or nil when it is gone (confirmed
// with the API server, so a cache that has not seen a new Issue yet does
// not make the Anomaly move).
func (r *Reconciler) issueOf(ctx context.Context, a *platformv1alpha1.Anomaly) (*platformv1alpha1.Issue, error) {
	key := client.ObjectKey{Namespace: a.Namespace, Name: a.Status.IssueRef.Name}
	issue := &platformv1alpha1.Issue{}
	err := r.Client.Get(ctx, key, issue)
	if apierrors.IsNotFound(err) {
		err = r.Reader.Get(ctx, key, issue)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get Issue %s of Anomaly %s: %w", key.Name, a.Name, err)
	}
	return issue, nil
}

// collect deletes the Anomaly once its Issue has been Resolved for longer
// than the retention, and otherwise comes back when that time is up.
func (r *Reconciler) collect(ctx context.Context, a *platformv1alpha1.Anomaly, issue *platformv1alpha1.Issue, err error) (ctrl.Result, error) {
	if err != nil {
		return ctrl.Result{}, err
	}
	if issue.Status.State != platformv1alpha1.IssueResolved {
		// The cache can lag behind the resolution that queued this pass:
		// ask the API server before letting the retention go unstarted.
		if err := r.Reader.Get(ctx, client.ObjectKeyFromObject(issue), issue); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	if issue.Status.State != platformv1alpha1.IssueResolved || issue.Status.ResolvedAt == nil {
		return ctrl.Result{}, nil
	}
	if left := issue.Status.ResolvedAt.Add(r.Retention).Sub(r.Now()); left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	if err := r.Client.Delete(ctx, a, client.Preconditions{UID: &a.UID}); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("delete Anomaly %s of Issue %s, resolved %s ago: %w", a.Name, issue.Name, r.Retention, err)
	}
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
	// A short poll: the section it guards takes a few API calls, and a
	// burst puts several Anomalies of one resource in the queue at once.
	l, err := r.Redis.AcquireWait(waitCtx, lockPurpose, key, redisx.LockOptions{TTL: 15 * time.Second, RetryInterval: 10 * time.Millisecond})
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
			if r.Now().Sub(a.Spec.DetectedAt.Time) > r.Window {
				return nil, errOutsideWindow
			}
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
			// Created with it, so that adding it costs no write.
			Finalizers: []string{platformv1alpha1.FinalizerIssueAnomalies},
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
	// The incident id comes with the Issue, so that giving it costs no
	// write. Without one (Redis down, every id taken), the Issue
	// reconciler gives it later; correlation does not wait for it. An id
	// of a create that meets AlreadyExists is never used: a gap in the
	// day's sequence.
	idCtx, cancel := context.WithTimeout(ctx, idTimeout)
	defer cancel()
	id, err := incidentid.Allocator{Redis: r.Redis, Reader: r.Reader}.Next(idCtx, r.Now())
	if err != nil {
		logr.FromContextOrDiscard(ctx).V(1).Info("The new Issue gets its incident id later", "issue", issue.Name, "reason", err.Error())
	} else {
		issue.Labels[platformv1alpha1.LabelIncidentID] = id
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
