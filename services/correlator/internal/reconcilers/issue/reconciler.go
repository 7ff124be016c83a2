// Package issue moves an Issue through its life:
//
//	Detected ▶ Analyzing ▶ Remediating ▶ Resolved
//	               ▲            │
//	               └── retry ───┤ (attempts left, with the failure context)
//	                            └▶ Escalated
//
// Detected asks for the first analysis (an AIInsight); once the analysis is
// decided the attempt is recorded and the remediator is asked for a plan
// (RemediatorService.ProposePlan); the plan's end resolves the Issue, or
// starts the next attempt with a new AIInsight that carries the failure,
// or escalates. A Resolved Issue then tells the watcher-bridge to forget
// the dedup keys of its resource (WatcherService.InvalidateDedup), and a
// fault that comes back within the cooldown opens an Issue that names the
// one whose fix did not hold.
//
// Each phase reads the state it needs from the Issue itself, so a pass
// that crashed halfway is replayed from where it stopped, and every object
// it creates has a deterministic name (a second create meets
// AlreadyExists). All Issue status is written by this reconciler, once per
// pass, under optimistic locking: a pass that read a stale Issue from the
// cache loses its write and runs again on the fresh one. A call to another
// service happens only in a pass that starts from a persisted state, so
// that the state the call relies on is visible to the callee first.
package issue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/reconcile"
	"github.com/chatcli/aiops/libs/redisx"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
	"github.com/chatcli/aiops/services/correlator/internal/incidentid"
)

// maxTimeline is the schema's bound on status.timeline; the oldest entries
// after the first (detection) give way.
const maxTimeline = 200

// idRetryAfter is how soon an Issue without an incident id tries again.
const idRetryAfter = 15 * time.Second

// nextPass ends a pass whose status must be stored before the next step
// runs. The status update's own event brings the next pass at once, from a
// cache that holds it; the requeue is only the fallback, late enough that
// it rarely runs on a cache that does not hold it yet (such a pass loses
// its status write to the optimistic lock, and its calls are idempotent).
var nextPass = ctrl.Result{RequeueAfter: 2 * time.Second}

// Defaults of the Reconciler's tunables.
const (
	DefaultMaxAttempts        = 3
	DefaultCallTimeout        = 10 * time.Second
	DefaultRecurrenceCooldown = 10 * time.Minute
	DefaultFlappingWindow     = 24 * time.Hour
	DefaultFlappingThreshold  = 3
)

// Reconciler moves Issues forward. Client, Reader, Remediator, Watcher and
// Now are required; Redis is optional (without it, incident ids wait).
type Reconciler struct {
	Client client.Client
	// Reader reads from the API server, for the checks a stale cache would
	// get wrong (is this incident id taken? which Issues did this resource
	// have before?).
	Reader client.Reader
	Redis  *redisx.Client
	// Remediator is asked for a plan per attempt; Watcher is told to
	// forget the dedup keys of a resolved Issue's resource.
	Remediator remediatorv1.RemediatorServiceClient
	Watcher    watcherv1.WatcherServiceClient
	Now        func() time.Time

	// DefaultMaxAttempts applies when the Issue does not set
	// status.maxRemediationAttempts itself.
	DefaultMaxAttempts int32
	// CallTimeout bounds each call to another service.
	CallTimeout time.Duration
	// RecurrenceCooldown is how long after an Issue was Resolved a new
	// fault on its resource counts as the same problem come back.
	RecurrenceCooldown time.Duration
	// FlappingThreshold Issues of one resource within FlappingWindow, the
	// latest a recurrence, escalate the latest at once.
	FlappingWindow    time.Duration
	FlappingThreshold int
	// Retention is how long a Resolved Issue is kept after it was
	// resolved (see retire); zero means DefaultRetention.
	Retention time.Duration
	// Workers is how many Issues are moved forward at once (one Issue is
	// never in two passes at once); 1 when 0.
	Workers int

	base reconcile.Base[*platformv1alpha1.Issue]
}

// SetupWithManager checks the dependencies and registers the controller.
// Anomalies wake their Issue, so relatedAnomalies follows correlation; the
// Issue's AIInsights and plans (it owns them) wake it when they change, and
// so does its PostMortem.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Reader == nil || r.Now == nil || r.Remediator == nil || r.Watcher == nil {
		return errors.New("issue reconciler: Client, Reader, Remediator, Watcher and Now are required")
	}
	r.defaults()
	r.base = reconcile.Base[*platformv1alpha1.Issue]{
		Client:             r.Client,
		NewObject:          func() *platformv1alpha1.Issue { return &platformv1alpha1.Issue{} },
		Conditions:         func(i *platformv1alpha1.Issue) *[]metav1.Condition { return &i.Status.Conditions },
		ObservedGeneration: func(i *platformv1alpha1.Issue) *int64 { return &i.Status.ObservedGeneration },
		OptimisticLock:     true,
		// A deleted Issue waits until its Anomalies have moved on.
		Finalizer: platformv1alpha1.FinalizerIssueAnomalies,
		Delete:    []reconcile.Phase[*platformv1alpha1.Issue]{r.releaseAnomalies},
		// identify comes last: without Redis it ends the pass with a later
		// retry, and the Issue must not wait for its id to be analysed.
		Normal: []reconcile.Phase[*platformv1alpha1.Issue]{
			r.retire, r.detect, r.relate, r.honourRequests, r.requestAnalysis, r.beginAttempt, r.proposePlan, r.followPlan,
			r.releaseDedup, r.linkPostMortem, r.identify, r.awaitRetention,
		},
	}
	if err := r.base.Validate(); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&platformv1alpha1.Issue{}).
		Owns(&platformv1alpha1.AIInsight{}).
		Owns(&platformv1alpha1.RemediationPlan{}).
		Watches(&platformv1alpha1.Anomaly{}, handler.EnqueueRequestsFromMapFunc(issueOfLabelled)).
		Watches(&platformv1alpha1.PostMortem{}, handler.EnqueueRequestsFromMapFunc(issueOfLabelled)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Named("issue").
		Complete(r)
}

func (r *Reconciler) defaults() {
	if r.DefaultMaxAttempts < 1 {
		r.DefaultMaxAttempts = DefaultMaxAttempts
	}
	if r.CallTimeout <= 0 {
		r.CallTimeout = DefaultCallTimeout
	}
	if r.RecurrenceCooldown <= 0 {
		r.RecurrenceCooldown = DefaultRecurrenceCooldown
	}
	if r.FlappingWindow <= 0 {
		r.FlappingWindow = DefaultFlappingWindow
	}
	if r.FlappingThreshold < 2 {
		r.FlappingThreshold = DefaultFlappingThreshold
	}
	if r.Retention <= 0 {
		r.Retention = DefaultRetention
	}
}

// Reconcile runs one pass.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.base.Reconcile(ctx, req)
}

// releaseAnomalies lets a deleted Issue go once no Anomaly is labelled
// with its name any more: the Anomaly reconciler moves each to the
// resource's next Issue (one with a new name, since this one still counts
// for the generation), or lets it go when it is past the correlation
// window.
func (r *Reconciler) releaseAnomalies(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(platformv1alpha1.GroupVersion.WithKind("AnomalyList"))
	if err := r.Client.List(ctx, list, client.InNamespace(issue.Namespace), client.MatchingLabels{platformv1alpha1.LabelIssue: issue.Name}, client.Limit(1)); err != nil {
		return ctrl.Result{}, fmt.Errorf("list the Anomalies of deleted Issue %s: %w", issue.Name, err)
	}
	if len(list.Items) > 0 {
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil // their relabelling wakes the Issue too
	}
	return ctrl.Result{}, nil
}

// issueOfLabelled maps an object labelled with an Issue's name (an
// Anomaly, a PostMortem) to that Issue.
func issueOfLabelled(_ context.Context, obj client.Object) []ctrl.Request {
	name := obj.GetLabels()[platformv1alpha1.LabelIssue]
	if name == "" {
		return nil
	}
	return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: name}}}
}

// detect stamps a new Issue as Detected. A fault that came back within
// the cooldown after its last Issue was Resolved names that Issue
// (recurrenceOf); the third such Issue of a resource within the flapping
// window escalates at once, since its fixes do not hold.
func (r *Reconciler) detect(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Status.State != "" {
		return ctrl.Result{}, nil
	}
	history, err := r.history(ctx, issue)
	if err != nil {
		return ctrl.Result{}, err
	}
	detected := issue.CreationTimestamp
	issue.Status.DetectedAt = &detected
	if issue.Status.MaxRemediationAttempts == 0 {
		issue.Status.MaxRemediationAttempts = r.DefaultMaxAttempts
	}
	r.transition(issue, platformv1alpha1.IssueDetected, "detected",
		fmt.Sprintf("Detected %s on %s %s", issue.Spec.SignalType, issue.Spec.Resource.Kind, issue.Spec.Resource.Name), 0, "")
	if history.previous == nil {
		return ctrl.Result{}, nil
	}
	issue.Status.RecurrenceOf = &platformv1alpha1.LocalObjectReference{Name: history.previous.Name}
	r.stamp(issue, eventRecurrence, history.recurrenceDetail, 0, history.previous.Name)
	if len(history.recent)+1 >= r.FlappingThreshold {
		r.escalate(issue, platformv1alpha1.IssueRecurringReason,
			fmt.Sprintf("%s has had %d incidents within %s and the fixes do not hold: %s",
				resourceString(issue), len(history.recent)+1, r.FlappingWindow, strings.Join(history.recentNames(), ", ")))
	}
	return ctrl.Result{}, nil
}

// relate lists the Anomalies correlated into the Issue.
func (r *Reconciler) relate(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(platformv1alpha1.GroupVersion.WithKind("AnomalyList"))
	if err := r.Client.List(ctx, list, client.InNamespace(issue.Namespace), client.MatchingLabels{platformv1alpha1.LabelIssue: issue.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("list the Anomalies of Issue %s: %w", issue.Name, err)
	}
	names := make([]string, 0, len(list.Items))
	for _, a := range list.Items {
		names = append(names, a.Name)
	}
	slices.Sort(names)
	if len(names) > 500 {
		names = names[:500] // the schema's bound; the label still finds them all
	}
	issue.Status.RelatedAnomalies = names
	return ctrl.Result{}, nil
}

// identify gives the Issue its INC-YYYYMMDD-NNN id (incidentid), unless
// the Anomaly reconciler labelled it with one at creation. Without Redis
// the id waits, and the Issue moves on without it.
func (r *Reconciler) identify(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Status.IncidentID != "" {
		return ctrl.Result{}, nil
	}
	if id, ok := issue.Labels[platformv1alpha1.LabelIncidentID]; ok {
		// Labelled at creation, or the label was written and the pass
		// ended before the status.
		issue.Status.IncidentID = id
		r.identified(issue, id)
		return ctrl.Result{}, nil
	}
	id, err := incidentid.Allocator{Redis: r.Redis, Reader: r.Reader}.Next(ctx, r.Now())
	if errors.Is(err, incidentid.ErrUnavailable) {
		if r.Redis == nil {
			r.unidentified(issue, "Redis is not configured")
			return ctrl.Result{}, nil
		}
		r.unidentified(issue, "Redis does not answer")
		return ctrl.Result{RequeueAfter: idRetryAfter}, nil
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("give Issue %s an incident id: %w", issue.Name, err)
	}
	// The label goes on a copy: the patch's answer replaces the object it
	// is given, and this pass's status changes are not stored yet.
	// Locked: a pass that read a stale Issue must not replace an id
	// another pass gave it.
	labelled := issue.DeepCopy()
	if labelled.Labels == nil {
		labelled.Labels = map[string]string{}
	}
	labelled.Labels[platformv1alpha1.LabelIncidentID] = id
	if err := r.Client.Patch(ctx, labelled, client.MergeFromWithOptions(issue, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, fmt.Errorf("label Issue %s with %s: %w", issue.Name, id, err)
	}
	issue.Labels, issue.ResourceVersion = labelled.Labels, labelled.ResourceVersion
	issue.Status.IncidentID = id
	r.identified(issue, id)
	return ctrl.Result{}, nil
}

func (r *Reconciler) identified(issue *platformv1alpha1.Issue, id string) {
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueIdentifiedCondition, metav1.ConditionTrue,
		platformv1alpha1.IssueIncidentIDAssignedReason, "Incident "+id)
}

func (r *Reconciler) unidentified(issue *platformv1alpha1.Issue, why string) {
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueIdentifiedCondition, metav1.ConditionFalse,
		platformv1alpha1.IssueSequenceUnavailableReason, why+": the incident id is given later")
}

// transition moves the Issue to state and stamps it: the transition time
// and a timeline entry from the old state to the new.
func (r *Reconciler) transition(issue *platformv1alpha1.Issue, to platformv1alpha1.IssueState, event, detail string, attempt int32, object string) {
	now := metav1.NewTime(r.Now())
	entry := platformv1alpha1.TimelineEntry{Timestamp: now, Type: event, Detail: clip(detail, maxDetail), Attempt: attempt, Object: object}
	// fromState and toState come together; detection has no from.
	if issue.Status.State != "" {
		entry.FromState, entry.ToState = issue.Status.State, to
	}
	appendTimeline(issue, entry)
	issue.Status.State = to
	issue.Status.StateTransitionTime = &now
}

// stamp adds a timeline entry for an event that does not change the state.
func (r *Reconciler) stamp(issue *platformv1alpha1.Issue, event, detail string, attempt int32, object string) {
	appendTimeline(issue, platformv1alpha1.TimelineEntry{
		Timestamp: metav1.NewTime(r.Now()), Type: event, Detail: clip(detail, maxDetail), Attempt: attempt, Object: object,
	})
}

func appendTimeline(issue *platformv1alpha1.Issue, entry platformv1alpha1.TimelineEntry) {
	issue.Status.Timeline = append(issue.Status.Timeline, entry)
	if n := len(issue.Status.Timeline); n > maxTimeline {
		issue.Status.Timeline = append(issue.Status.Timeline[:1], issue.Status.Timeline[n-maxTimeline+1:]...)
	}
}

// maxDetail is the schema's bound on a timeline entry's detail.
const maxDetail = 4096

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = " …"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

func resourceString(issue *platformv1alpha1.Issue) string {
	res := issue.Spec.Resource
	return res.Kind + " " + res.Namespace + "/" + res.Name
}
