package issue

import (
	"context"
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

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/reconcile"
)

// maxFailureContext is the schema's bound on spec.failureContext and
// attempts[].failureContext.
const maxFailureContext = 8192

// requestAnalysis asks for the first attempt's analysis and moves the
// Issue to Analyzing. A recurrence's first analysis is told which fix did
// not hold.
func (r *Reconciler) requestAnalysis(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Status.State != platformv1alpha1.IssueDetected {
		return ctrl.Result{}, nil
	}
	if waiting, err := r.signalsStillJoining(ctx, issue); err != nil || waiting {
		return ctrl.Result{RequeueAfter: joinPoll}, err
	}
	failure := ""
	if issue.Status.RecurrenceOf != nil {
		// detect wrote what did not hold into the timeline.
		for _, e := range issue.Status.Timeline {
			if e.Type == eventRecurrence {
				failure = e.Detail
			}
		}
	}
	return ctrl.Result{}, r.startAttempt(ctx, issue, 1, failure)
}

// joinPoll and joinWait bound how long a new Issue waits for the other
// signals of its fault: one fault raises several Anomalies at once (an OOM
// gives oom_kill, crashloop_backoff and pod_restart), and the analysis,
// and the runbook tier after it, must see the cause (spec.signalType),
// which a later Anomaly may bring. The Anomalies' correlation wakes the
// Issue; the poll is the fallback.
const (
	joinPoll = 250 * time.Millisecond
	joinWait = 5 * time.Second
)

// signalsStillJoining reports whether an Anomaly of the Issue's resource
// exists that is not correlated yet, while the Issue is young.
func (r *Reconciler) signalsStillJoining(ctx context.Context, issue *platformv1alpha1.Issue) (bool, error) {
	if r.Now().Sub(issue.CreationTimestamp.Time) > joinWait {
		return false, nil
	}
	list := &platformv1alpha1.AnomalyList{}
	if err := r.Client.List(ctx, list, client.InNamespace(issue.Namespace),
		client.MatchingLabels{platformv1alpha1.LabelResourceKind: issue.Spec.Resource.Kind}); err != nil {
		return false, fmt.Errorf("list the Anomalies of %s: %w", resourceString(issue), err)
	}
	res := issue.Spec.Resource
	for _, a := range list.Items {
		if !a.Status.Correlated && a.Spec.Resource.Kind == res.Kind && a.Spec.Resource.Namespace == res.Namespace && a.Spec.Resource.Name == res.Name &&
			a.DeletionTimestamp == nil && r.Now().Sub(a.Spec.DetectedAt.Time) < joinWait+time.Minute {
			return true, nil
		}
	}
	return false, nil
}

// startAttempt creates the AIInsight of attempt (the create comes first,
// with a deterministic name, so a replay meets AlreadyExists), records the
// attempt and moves the Issue to Analyzing.
func (r *Reconciler) startAttempt(ctx context.Context, issue *platformv1alpha1.Issue, attempt int32, failure string) error {
	failure = clip(failure, maxFailureContext)
	if err := r.createInsight(ctx, issue, attempt, failure); err != nil {
		return err
	}
	now := metav1.NewTime(r.Now())
	ref := &platformv1alpha1.LocalObjectReference{Name: InsightName(issue.Name, attempt)}
	issue.Status.InsightRef = ref
	issue.Status.PlanRef = nil
	if !slices.ContainsFunc(issue.Status.Attempts, func(a platformv1alpha1.RemediationAttempt) bool { return a.Attempt == attempt }) {
		issue.Status.Attempts = append(issue.Status.Attempts, platformv1alpha1.RemediationAttempt{
			Attempt: attempt, InsightRef: ref, StartedAt: &now, FailureContext: failure,
		})
	}
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueAnalyzedCondition, metav1.ConditionFalse,
		platformv1alpha1.IssueInsightRequestedReason, "Waiting for AIInsight "+ref.Name)
	detail := "Asked for a root-cause analysis"
	if attempt > 1 {
		detail = fmt.Sprintf("Attempt %d: asked for a new analysis with the failure of attempt %d", attempt, attempt-1)
	}
	r.transition(issue, platformv1alpha1.IssueAnalyzing, "analysis_requested", detail, attempt, ref.Name)
	return nil
}

// createInsight creates the AIInsight of attempt, with the provider and
// model of the namespace's Instance; one that exists is left as it is.
func (r *Reconciler) createInsight(ctx context.Context, issue *platformv1alpha1.Issue, attempt int32, failure string) error {
	provider, model, err := r.analysisProvider(ctx, issue.Namespace)
	if err != nil {
		return err
	}
	insight := &platformv1alpha1.AIInsight{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: issue.Namespace, Name: InsightName(issue.Name, attempt),
			Labels: map[string]string{platformv1alpha1.LabelIssue: issue.Name},
		},
		Spec: platformv1alpha1.AIInsightSpec{
			IssueRef: platformv1alpha1.LocalObjectReference{Name: issue.Name},
			Provider: provider, Model: model, Attempt: attempt, FailureContext: failure,
		},
	}
	if err := controllerutil.SetControllerReference(issue, insight, r.Client.Scheme()); err != nil {
		return fmt.Errorf("own AIInsight %s: %w", insight.Name, err)
	}
	// A pass replayed after its status write was lost finds the insight
	// in the cache it watches, and does not spend a create on a conflict.
	err = r.Client.Get(ctx, client.ObjectKeyFromObject(insight), &platformv1alpha1.AIInsight{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("read AIInsight %s: %w", insight.Name, err)
	}
	if err := r.Client.Create(ctx, insight); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create AIInsight %s: %w", insight.Name, err)
	}
	return nil
}

// beginAttempt waits for the current attempt's analysis to be decided
// (its Ready condition True, or False for a failed analysis, which still
// gets a plan from a Runbook or the agentic tier), then records the
// attempt (remediationAttempts, state Remediating) and ends the pass: the
// remediator is asked for the plan only once that record is stored, so a
// crash or a timeout repeats the call for the same attempt and never
// starts another.
func (r *Reconciler) beginAttempt(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
	if issue.Status.State != platformv1alpha1.IssueAnalyzing {
		return ctrl.Result{}, nil
	}
	current := currentAttempt(issue)
	if current == nil {
		return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("issue %s is Analyzing with no attempt recorded", issue.Name))
	}
	insight := &platformv1alpha1.AIInsight{}
	name := InsightName(issue.Name, current.Attempt)
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: name}, insight); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("get AIInsight %s: %w", name, err)
		}
		// Not in the cache yet (its creation event wakes the Issue), or
		// deleted by someone: then ask again.
		if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: name}, insight); !apierrors.IsNotFound(err) {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		return ctrl.Result{}, r.createInsight(ctx, issue, current.Attempt, current.FailureContext)
	}
	ready := findCondition(insight.Status.Conditions, platformv1alpha1.AIInsightReadyCondition)
	if ready == nil || ready.Status == metav1.ConditionUnknown {
		return ctrl.Result{}, nil // the insight's update wakes the Issue
	}
	if ready.Status == metav1.ConditionTrue {
		reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueAnalyzedCondition, metav1.ConditionTrue,
			platformv1alpha1.IssueInsightReadyReason, insightSummary(insight))
	} else {
		reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueAnalyzedCondition, metav1.ConditionFalse,
			platformv1alpha1.IssueAnalysisFailedReason, clip("AIInsight "+name+" failed ("+ready.Reason+"): "+ready.Message, 32768))
	}
	issue.Status.RemediationAttempts = current.Attempt
	reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueRemediatedCondition, metav1.ConditionFalse,
		platformv1alpha1.IssueRemediatingReason, fmt.Sprintf("Attempt %d of %d: asking for a plan", current.Attempt, issue.Status.MaxRemediationAttempts))
	r.transition(issue, platformv1alpha1.IssueRemediating, "remediation_started",
		fmt.Sprintf("Attempt %d of %d: %s", current.Attempt, issue.Status.MaxRemediationAttempts, strings.ToLower(ready.Reason)), current.Attempt, name)
	return nextPass, nil
}

func insightSummary(insight *platformv1alpha1.AIInsight) string {
	var b strings.Builder
	b.WriteString("AIInsight " + insight.Name)
	if insight.Status.Provider != "" {
		b.WriteString(" (" + string(insight.Status.Provider) + ")")
	}
	if c := insight.Status.Confidence; c != nil {
		b.WriteString(", confidence " + strconv.FormatFloat(*c, 'f', 2, 64))
	}
	fmt.Fprintf(&b, ", %d suggested action(s)", len(insight.Status.SuggestedActions))
	if n := len(insight.Status.RejectedActions); n > 0 {
		fmt.Fprintf(&b, ", %d refused by policy", n)
	}
	return b.String()
}

// currentAttempt is the latest recorded attempt, or nil.
func currentAttempt(issue *platformv1alpha1.Issue) *platformv1alpha1.RemediationAttempt {
	var current *platformv1alpha1.RemediationAttempt
	for i := range issue.Status.Attempts {
		if a := &issue.Status.Attempts[i]; current == nil || a.Attempt > current.Attempt {
			current = a
		}
	}
	return current
}

func findCondition(conds []metav1.Condition, condType string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == condType {
			return &conds[i]
		}
	}
	return nil
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
