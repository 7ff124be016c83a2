// Package issue moves an Issue through its life: Detected, Analyzing,
// Remediating, then Resolved or Escalated. This first part takes an Issue
// from detection to analysis: it stamps the Issue, gives it its incident
// id, and asks for the first analysis by creating its AIInsight.
//
// Each phase reads the state it needs from the Issue itself, so a pass
// that crashed halfway is replayed from where it stopped, and every object
// it creates has a deterministic name (a second create meets
// AlreadyExists). All Issue status is written by this reconciler, once per
// pass.
package issue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/reconcile"
	"github.com/chatcli/aiops/libs/redisx"
)

// maxTimeline is the schema's bound on status.timeline; the oldest entries
// after the first (detection) give way.
const maxTimeline = 200

// idRetryAfter is how soon an Issue without an incident id tries again.
const idRetryAfter = 15 * time.Second

// Reconciler moves Issues forward. Client, Reader and Now are required;
// Redis is optional (without it, incident ids wait).
type Reconciler struct {
	Client client.Client
	// Reader reads from the API server, for the checks a stale cache would
	// get wrong (is this incident id taken?).
	Reader client.Reader
	Redis  *redisx.Client
	Now    func() time.Time
	// DefaultMaxAttempts applies when neither the Issue nor an Instance
	// of its namespace sets one.
	DefaultMaxAttempts int32

	base reconcile.Base[*platformv1alpha1.Issue]
}

// SetupWithManager checks the dependencies and registers the controller.
// Anomalies wake their Issue, so relatedAnomalies follows correlation.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Reader == nil || r.Now == nil {
		return errors.New("issue reconciler: Client, Reader and Now are required")
	}
	if r.DefaultMaxAttempts < 1 {
		r.DefaultMaxAttempts = 3
	}
	r.base = reconcile.Base[*platformv1alpha1.Issue]{
		Client:             r.Client,
		NewObject:          func() *platformv1alpha1.Issue { return &platformv1alpha1.Issue{} },
		Conditions:         func(i *platformv1alpha1.Issue) *[]metav1.Condition { return &i.Status.Conditions },
		ObservedGeneration: func(i *platformv1alpha1.Issue) *int64 { return &i.Status.ObservedGeneration },
		// identify comes last: without Redis it ends the pass with a later
		// retry, and the Issue must not wait for its id to be analysed.
		Normal: []reconcile.Phase[*platformv1alpha1.Issue]{r.detect, r.relate, r.requestAnalysis, r.identify},
	}
	if err := r.base.Validate(); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&platformv1alpha1.Issue{}).
		Owns(&platformv1alpha1.AIInsight{}).
		Watches(&platformv1alpha1.Anomaly{}, handler.EnqueueRequestsFromMapFunc(issueOfAnomaly)).
		Named("issue").
		Complete(r)
}

// Reconcile runs one pass.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.base.Reconcile(ctx, req)
}

func issueOfAnomaly(_ context.Context, obj client.Object) []ctrl.Request {
	name := obj.GetLabels()[platformv1alpha1.LabelIssue]
	if name == "" {
		return nil
	}
	return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: name}}}
}

// detect stamps a new Issue as Detected.
func (r *Reconciler) detect(_ context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Status.State != "" {
		return ctrl.Result{}, nil
	}
	detected := issue.CreationTimestamp
	issue.Status.DetectedAt = &detected
	if issue.Status.MaxRemediationAttempts == 0 {
		issue.Status.MaxRemediationAttempts = r.DefaultMaxAttempts
	}
	r.transition(issue, platformv1alpha1.IssueDetected, "detected",
		fmt.Sprintf("Detected %s on %s %s", issue.Spec.SignalType, issue.Spec.Resource.Kind, issue.Spec.Resource.Name), 0, "")
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

// identify gives the Issue its INC-YYYYMMDD-NNN id from Redis's daily
// sequence. The sequence restarts when Redis loses its data, so an id
// another Issue holds is skipped; without Redis the id waits, and the
// Issue moves on without it.
func (r *Reconciler) identify(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Status.IncidentID != "" {
		return ctrl.Result{}, nil
	}
	if id, ok := issue.Labels[platformv1alpha1.LabelIncidentID]; ok {
		// The label was written, then the pass ended before the status.
		issue.Status.IncidentID = id
		r.identified(issue, id)
		return ctrl.Result{}, nil
	}
	if r.Redis == nil {
		r.unidentified(issue, "Redis is not configured")
		return ctrl.Result{}, nil
	}
	for range 20 {
		id, err := r.Redis.NextIncidentID(ctx, r.Now())
		if err != nil {
			r.unidentified(issue, "Redis does not answer")
			return ctrl.Result{RequeueAfter: idRetryAfter}, nil
		}
		taken, err := r.idTaken(ctx, id)
		if err != nil {
			return ctrl.Result{}, err
		}
		if taken {
			continue
		}
		before := issue.DeepCopy()
		if issue.Labels == nil {
			issue.Labels = map[string]string{}
		}
		issue.Labels[platformv1alpha1.LabelIncidentID] = id
		if err := r.Client.Patch(ctx, issue, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, fmt.Errorf("label Issue %s with %s: %w", issue.Name, id, err)
		}
		issue.Status.IncidentID = id
		r.identified(issue, id)
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, fmt.Errorf("give Issue %s an incident id: 20 ids in a row were taken", issue.Name)
}

func (r *Reconciler) idTaken(ctx context.Context, id string) (bool, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(platformv1alpha1.GroupVersion.WithKind("IssueList"))
	// Ids are unique per cluster, not per namespace.
	if err := r.Reader.List(ctx, list, client.MatchingLabels{platformv1alpha1.LabelIncidentID: id}, client.Limit(1)); err != nil {
		return false, fmt.Errorf("check incident id %s: %w", id, err)
	}
	return len(list.Items) > 0, nil
}

func (r *Reconciler) identified(issue *platformv1alpha1.Issue, id string) {
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueIdentifiedCondition, metav1.ConditionTrue,
		platformv1alpha1.IssueIncidentIDAssignedReason, "Incident "+id)
}

func (r *Reconciler) unidentified(issue *platformv1alpha1.Issue, why string) {
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueIdentifiedCondition, metav1.ConditionFalse,
		platformv1alpha1.IssueSequenceUnavailableReason, why+": the incident id is given later")
}

// requestAnalysis creates the first attempt's AIInsight and moves the
// Issue to Analyzing. The provider and model come from a Ready Instance of
// the namespace, else the analyzer's offline analyzer.
func (r *Reconciler) requestAnalysis(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Status.State != platformv1alpha1.IssueDetected {
		return ctrl.Result{}, nil
	}
	const attempt = 1
	provider, model, err := r.analysisProvider(ctx, issue.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	insight := &platformv1alpha1.AIInsight{
		ObjectMeta: metav1.ObjectMeta{Namespace: issue.Namespace, Name: InsightName(issue.Name, attempt)},
		Spec: platformv1alpha1.AIInsightSpec{
			IssueRef: platformv1alpha1.LocalObjectReference{Name: issue.Name},
			Provider: provider, Model: model, Attempt: attempt,
		},
	}
	if err := controllerutil.SetControllerReference(issue, insight, r.Client.Scheme()); err != nil {
		return ctrl.Result{}, fmt.Errorf("own AIInsight %s: %w", insight.Name, err)
	}
	if err := r.Client.Create(ctx, insight); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, fmt.Errorf("create AIInsight %s: %w", insight.Name, err)
	}
	now := metav1.NewTime(r.Now())
	ref := &platformv1alpha1.LocalObjectReference{Name: insight.Name}
	issue.Status.InsightRef = ref
	if !slices.ContainsFunc(issue.Status.Attempts, func(a platformv1alpha1.RemediationAttempt) bool { return a.Attempt == attempt }) {
		issue.Status.Attempts = append(issue.Status.Attempts, platformv1alpha1.RemediationAttempt{Attempt: attempt, InsightRef: ref, StartedAt: &now})
	}
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueAnalyzedCondition, metav1.ConditionFalse,
		platformv1alpha1.IssueInsightRequestedReason, "Waiting for AIInsight "+insight.Name)
	r.transition(issue, platformv1alpha1.IssueAnalyzing, "analysis_requested",
		"Asked for a root-cause analysis ("+string(provider)+")", attempt, insight.Name)
	return ctrl.Result{}, nil
}

// InsightName is the AIInsight of an attempt: <issue>-insight for the
// first, as the seed names it, then <issue>-insight-<attempt>.
func InsightName(issue string, attempt int32) string {
	if attempt <= 1 {
		return issue + "-insight"
	}
	return issue + "-insight-" + strconv.Itoa(int(attempt))
}

// analysisProvider picks the provider of the namespace's first Ready
// Instance (by name, so every pass picks the same), else BUILTIN.
func (r *Reconciler) analysisProvider(ctx context.Context, namespace string) (platformv1alpha1.Provider, string, error) {
	list := &platformv1alpha1.InstanceList{}
	if err := r.Client.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return "", "", fmt.Errorf("list the Instances of %s: %w", namespace, err)
	}
	slices.SortFunc(list.Items, func(a, b platformv1alpha1.Instance) int { return strings.Compare(a.Name, b.Name) })
	for _, inst := range list.Items {
		for _, c := range inst.Status.Conditions {
			if c.Type == platformv1alpha1.InstanceReadyCondition && c.Status == metav1.ConditionTrue && inst.Spec.Provider != "" {
				return inst.Spec.Provider, inst.Spec.Model, nil
			}
		}
	}
	return platformv1alpha1.ProviderBuiltin, "", nil
}

// transition moves the Issue to state and stamps it: the transition time
// and a timeline entry from the old state to the new.
func (r *Reconciler) transition(issue *platformv1alpha1.Issue, to platformv1alpha1.IssueState, event, detail string, attempt int32, object string) {
	now := metav1.NewTime(r.Now())
	entry := platformv1alpha1.TimelineEntry{Timestamp: now, Type: event, Detail: detail, Attempt: attempt, Object: object}
	// fromState and toState come together; detection has no from.
	if issue.Status.State != "" {
		entry.FromState, entry.ToState = issue.Status.State, to
	}
	issue.Status.Timeline = append(issue.Status.Timeline, entry)
	if n := len(issue.Status.Timeline); n > maxTimeline {
		issue.Status.Timeline = append(issue.Status.Timeline[:1], issue.Status.Timeline[n-maxTimeline+1:]...)
	}
	issue.Status.State = to
	issue.Status.StateTransitionTime = &now
}
