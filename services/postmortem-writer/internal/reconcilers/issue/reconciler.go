// Package issue opens the PostMortem of an ended Issue. It is the trigger
// of the postmortem-writer, not a reconciler of the Issue: the correlator
// owns Issues and is the only writer of their status, so this controller
// reads an Issue and creates one object, the PostMortem pm-<issue>, owned
// by the Issue, and writes nothing else. That is also why it is not built
// on libs/reconcile.Base, whose one deferred write is a status patch of the
// object reconciled. The report itself is written by the PostMortem
// reconciler (package postmortem).
//
// The name is deterministic and the create is the only write, so a retry,
// a second replica or a restart meets AlreadyExists and never makes a
// second PostMortem.
package issue

import (
	"context"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/report"
)

// Policy says which ended Issues get a PostMortem.
type Policy struct {
	// MinSeverity: every Resolved or Escalated Issue at or above it gets
	// one. Empty means high.
	MinSeverity platformv1alpha1.Severity
	// AllEnded gives every ended Issue one, whatever its severity.
	AllEnded bool
}

// Wants reports whether the ended incident gets a PostMortem, and why.
// An Issue resolved by an agentic plan always does, as in the seed.
func (p Policy) Wants(r report.Records) (bool, string) {
	switch {
	case !r.Ended():
		return false, "the Issue has not ended"
	case r.AgenticallyResolved():
		return true, "resolved by an agentic plan"
	case p.AllEnded:
		return true, "every ended Issue gets a post-mortem"
	case AtLeast(r.Issue.Spec.Severity, cmpSeverity(p.MinSeverity)):
		return true, "severity " + string(r.Issue.Spec.Severity) + " is at or above " + string(cmpSeverity(p.MinSeverity))
	default:
		return false, "severity " + string(r.Issue.Spec.Severity) + " is below " + string(cmpSeverity(p.MinSeverity))
	}
}

func cmpSeverity(s platformv1alpha1.Severity) platformv1alpha1.Severity {
	if s == "" {
		return platformv1alpha1.SeverityHigh
	}
	return s
}

// AtLeast reports whether s is as severe as min or more. An unknown
// severity is below every known one.
func AtLeast(s, min platformv1alpha1.Severity) bool {
	// Severities lists the most severe first.
	i, j := slices.Index(platformv1alpha1.Severities, s), slices.Index(platformv1alpha1.Severities, min)
	return i >= 0 && j >= 0 && i <= j
}

// Reconciler creates the PostMortem of each ended Issue the Policy wants.
// Client is required.
type Reconciler struct {
	Client client.Client
	Policy Policy
}

// SetupWithManager checks the dependencies and registers the controller.
// Only Issues that have ended are queued; a deleted PostMortem of one is
// made again, since its Issue owns it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		return errors.New("issue trigger: Client is required")
	}
	if r.Policy.MinSeverity != "" && !r.Policy.MinSeverity.IsValid() {
		return fmt.Errorf("issue trigger: severity %q is not one of critical, high, medium, low", r.Policy.MinSeverity)
	}
	ended := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		issue, ok := obj.(*platformv1alpha1.Issue)
		return ok && issue.Status.State.IsTerminal()
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&platformv1alpha1.Issue{}, builder.WithPredicates(ended)).
		Owns(&platformv1alpha1.PostMortem{}, builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return false },
			UpdateFunc: func(event.UpdateEvent) bool { return false },
		})).
		// Plans decide whether an Issue was resolved agentically; one that
		// reaches the cache after its Issue ended must still count.
		Watches(&platformv1alpha1.RemediationPlan{}, handler.EnqueueRequestsFromMapFunc(issueOfPlan)).
		Named("postmortem-trigger").
		Complete(r)
}

func issueOfPlan(_ context.Context, obj client.Object) []crreconcile.Request {
	plan, ok := obj.(*platformv1alpha1.RemediationPlan)
	if !ok || plan.Spec.IssueRef.Name == "" || !plan.Status.State.IsTerminal() {
		return nil
	}
	return []crreconcile.Request{{NamespacedName: client.ObjectKey{Namespace: plan.Namespace, Name: plan.Spec.IssueRef.Name}}}
}

// Reconcile creates the Issue's PostMortem when it has ended and the
// policy wants one.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	issue := &platformv1alpha1.Issue{}
	if err := r.Client.Get(ctx, req.NamespacedName, issue); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !issue.DeletionTimestamp.IsZero() || !issue.Status.State.IsTerminal() {
		return ctrl.Result{}, nil
	}
	// Most events of an ended Issue come after its PostMortem exists (the
	// correlator links it); the cache answers those without a create.
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: report.PostMortemName(issue.Name)}, &platformv1alpha1.PostMortem{})
	if err == nil {
		return ctrl.Result{}, nil
	}
	if !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("get the PostMortem of Issue %s: %w", issue.Name, err)
	}
	plans, err := Plans(ctx, r.Client, issue)
	if err != nil {
		return ctrl.Result{}, err
	}
	records := report.Records{Issue: issue, Plans: plans}.Sorted()
	want, why := r.Policy.Wants(records)
	if !want {
		log.V(1).Info("Wrote no PostMortem", "reason", why)
		return ctrl.Result{}, nil
	}
	pm, err := r.newPostMortem(issue, records)
	if err != nil {
		return ctrl.Result{}, crreconcile.TerminalError(err)
	}
	if err := r.Client.Create(ctx, pm); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("create PostMortem %s: %w", pm.Name, err)
	}
	log.Info("Created PostMortem", "postMortem", pm.Name, "reason", why)
	return ctrl.Result{}, nil
}

// newPostMortem is the PostMortem of the Issue: its spec names the
// incident and the records, and its labels let the correlator and the
// recurrence trend find it.
func (r *Reconciler) newPostMortem(issue *platformv1alpha1.Issue, records report.Records) (*platformv1alpha1.PostMortem, error) {
	name := report.PostMortemName(issue.Name)
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return nil, fmt.Errorf("PostMortem name %q of Issue %s: %v", name, issue.Name, errs)
	}
	pm := &platformv1alpha1.PostMortem{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: issue.Namespace, Name: name,
			Labels: map[string]string{
				platformv1alpha1.LabelIssue:       issue.Name,
				platformv1alpha1.LabelResourceKey: report.ResourceKey(issue.Spec.Resource),
				platformv1alpha1.LabelSignalType:  string(issue.Spec.SignalType),
			},
		},
		Spec: platformv1alpha1.PostMortemSpec{
			IssueRef:   platformv1alpha1.LocalObjectReference{Name: issue.Name},
			Resource:   issue.Spec.Resource,
			Severity:   issue.Spec.Severity,
			IncidentID: issue.Status.IncidentID,
		},
	}
	if id := issue.Status.IncidentID; id != "" {
		pm.Labels[platformv1alpha1.LabelIncidentID] = id
	}
	if in := insightRef(records); in != "" {
		pm.Spec.InsightRef = &platformv1alpha1.LocalObjectReference{Name: in}
	}
	pm.Spec.PlanRefs = planRefs(records)
	if err := controllerutil.SetControllerReference(issue, pm, r.Client.Scheme()); err != nil {
		return nil, fmt.Errorf("own PostMortem %s: %w", name, err)
	}
	return pm, nil
}

// insightRef is the AIInsight of the attempt that worked, else of the last
// attempt, as the Issue's attempts record them.
func insightRef(r report.Records) string {
	attempts := r.Issue.Status.Attempts
	succeeded := r.SucceededAttempt()
	var last string
	for _, a := range attempts {
		if a.InsightRef == nil {
			continue
		}
		if a.Attempt == succeeded {
			return a.InsightRef.Name
		}
		last = a.InsightRef.Name
	}
	if last == "" && r.Issue.Status.InsightRef != nil {
		last = r.Issue.Status.InsightRef.Name
	}
	return last
}

// planRefs are the plans of every attempt, in attempt order, at most the
// schema's 10 (the latest).
func planRefs(r report.Records) []platformv1alpha1.LocalObjectReference {
	var refs []platformv1alpha1.LocalObjectReference
	for _, p := range r.Plans {
		refs = append(refs, platformv1alpha1.LocalObjectReference{Name: p.Name})
	}
	if n := len(refs); n > 10 {
		refs = refs[n-10:]
	}
	return refs
}

// Plans are the RemediationPlans of the Issue: those labelled with it, and
// those its attempts name.
func Plans(ctx context.Context, c client.Reader, issue *platformv1alpha1.Issue) ([]platformv1alpha1.RemediationPlan, error) {
	list := &platformv1alpha1.RemediationPlanList{}
	if err := c.List(ctx, list, client.InNamespace(issue.Namespace), client.MatchingLabels{platformv1alpha1.LabelIssue: issue.Name}); err != nil {
		return nil, fmt.Errorf("list the RemediationPlans of Issue %s: %w", issue.Name, err)
	}
	plans := slices.DeleteFunc(list.Items, func(p platformv1alpha1.RemediationPlan) bool { return p.Spec.IssueRef.Name != issue.Name })
	for _, a := range issue.Status.Attempts {
		if a.PlanRef == nil || slices.ContainsFunc(plans, func(p platformv1alpha1.RemediationPlan) bool { return p.Name == a.PlanRef.Name }) {
			continue
		}
		plan := &platformv1alpha1.RemediationPlan{}
		err := c.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: a.PlanRef.Name}, plan)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("get RemediationPlan %s: %w", a.PlanRef.Name, err)
		}
		if plan.Spec.IssueRef.Name == issue.Name {
			plans = append(plans, *plan)
		}
	}
	return plans, nil
}
