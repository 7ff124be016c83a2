// Package postmortem writes the report of a PostMortem: it rebuilds it
// from the incident's records (the Issue, its Anomalies, AIInsights and
// RemediationPlans), refines its prose through AnalyzerService when one is
// configured, scrubs it, and stores it once. Later passes move the review
// along (Open, InReview, Closed) as the review annotations ask, keep the
// recurrence trend, and promote the steps of a successful agentic plan to
// a Runbook through RemediatorService, once.
//
// Every phase reads what it needs from the PostMortem and the records, so
// a pass that crashed halfway is replayed from where it stopped; the
// report is written only while status.generatedAt is empty, so a restart
// never rewrites it.
package postmortem

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/reconcile"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/reconcilers/issue"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/report"
)

// Reasons of the Ready condition while the report waits.
const (
	// issueOpenReason: the Issue has not ended, so its record is not
	// complete; the report waits for it.
	issueOpenReason = "IssueOpen"
	// recordsMissingReason: an AIInsight or RemediationPlan the Issue's
	// attempts name is not in the cache yet.
	recordsMissingReason = "RecordsMissing"
)

// recordsGrace is how long after an Issue ended a report waits for the
// records its attempts name to reach the cache; past it, a record still
// missing was deleted, and the report is written without it.
const recordsGrace = 2 * time.Minute

// recordsRetryAfter is how soon a report waiting for records looks again.
const recordsRetryAfter = 2 * time.Second

// insightIssueField indexes AIInsights by spec.issueRef.name.
const insightIssueField = "spec.issueRef.name"

// defaultCallTimeout bounds one call to a peer, so that a hung analyzer
// delays a report by at most this much.
const defaultCallTimeout = 20 * time.Second

// promoteRetryAfter is how soon a failed promotion is tried again.
const promoteRetryAfter = 30 * time.Second

// reportLatency is how long after an Issue ended its report was written.
var reportLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name:    "chatcli_postmortem_writer_report_latency_seconds",
	Help:    "Time from an Issue's resolution or escalation to its PostMortem's report being written.",
	Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
})

func init() { crmetrics.Registry.MustRegister(reportLatency) }

// Reconciler writes PostMortem reports. Client, Scrub and Now are
// required; Analyzer and Remediator are optional (without the first the
// report comes from the records alone, without the second nothing is
// promoted).
type Reconciler struct {
	Client     client.Client
	Analyzer   analyzerv1.AnalyzerServiceClient
	Remediator remediatorv1.RemediatorServiceClient
	Scrub      report.Scrub
	Now        func() time.Time
	// CallTimeout bounds one call to a peer; zero means 20 s.
	CallTimeout time.Duration
	// MarkdownConfigMaps keeps a Markdown copy of each report in a
	// ConfigMap <postmortem>-md beside it.
	MarkdownConfigMaps bool
	// Workers is how many PostMortems are written at once; zero means 4.
	// A pass may wait on the analyzer, so one worker would queue a burst
	// of incidents behind it.
	Workers int

	base reconcile.Base[*platformv1alpha1.PostMortem]
	// exported holds, by PostMortem uid, the hash of the Markdown last
	// applied.
	exported sync.Map
}

// SetupWithManager checks the dependencies and registers the controller.
// An Issue wakes its PostMortem, so a report waiting for its Issue to end
// is written when it does.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Scrub == nil || r.Now == nil {
		return errors.New("postmortem reconciler: Client, Scrub and Now are required")
	}
	if r.CallTimeout <= 0 {
		r.CallTimeout = defaultCallTimeout
	}
	if r.Workers <= 0 {
		r.Workers = 4
	}
	r.base = reconcile.Base[*platformv1alpha1.PostMortem]{
		Client:             r.Client,
		NewObject:          func() *platformv1alpha1.PostMortem { return &platformv1alpha1.PostMortem{} },
		Conditions:         func(pm *platformv1alpha1.PostMortem) *[]metav1.Condition { return &pm.Status.Conditions },
		ObservedGeneration: func(pm *platformv1alpha1.PostMortem) *int64 { return &pm.Status.ObservedGeneration },
		// promote comes late: it may fail and retry, and the report and
		// the review must not wait for it. The Markdown copy renders what
		// the phases before it made.
		Normal:   []reconcile.Phase[*platformv1alpha1.PostMortem]{r.write, r.review, r.trend, r.promote, r.exportMarkdown},
		Recorder: mgr.GetEventRecorder("postmortem-writer"),
	}
	if err := r.base.Validate(); err != nil {
		return err
	}
	// A report lists the insights of one Issue, not of its namespace.
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &platformv1alpha1.AIInsight{}, insightIssueField, func(obj client.Object) []string {
		return []string{obj.(*platformv1alpha1.AIInsight).Spec.IssueRef.Name}
	}); err != nil {
		return fmt.Errorf("index AIInsights by Issue: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&platformv1alpha1.PostMortem{}).
		Watches(&platformv1alpha1.Issue{}, handler.EnqueueRequestsFromMapFunc(postMortemOfIssue)).
		// A report written late changes the trend of the later incidents
		// of its problem.
		Watches(&platformv1alpha1.PostMortem{}, handler.EnqueueRequestsFromMapFunc(r.sameProblem)).
		Named("postmortem").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Workers}).
		Complete(r)
}

func postMortemOfIssue(_ context.Context, obj client.Object) []crreconcile.Request {
	return []crreconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: report.PostMortemName(obj.GetName())}}}
}

// sameProblem wakes the other written PostMortems of the same resource and
// signal type, whose recurrence may count this one.
func (r *Reconciler) sameProblem(ctx context.Context, obj client.Object) []crreconcile.Request {
	key, signal := obj.GetLabels()[platformv1alpha1.LabelResourceKey], obj.GetLabels()[platformv1alpha1.LabelSignalType]
	pm, ok := obj.(*platformv1alpha1.PostMortem)
	if !ok || key == "" || signal == "" || len(pm.Status.Timeline) == 0 {
		return nil
	}
	list := &platformv1alpha1.PostMortemList{}
	if err := r.Client.List(ctx, list, client.MatchingLabels{platformv1alpha1.LabelResourceKey: key, platformv1alpha1.LabelSignalType: signal}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "List the PostMortems of the same problem")
		return nil
	}
	var reqs []crreconcile.Request
	for i := range list.Items {
		if other := &list.Items[i]; other.UID != pm.UID && len(other.Status.Timeline) > 0 {
			reqs = append(reqs, crreconcile.Request{NamespacedName: client.ObjectKeyFromObject(other)})
		}
	}
	return reqs
}

// Reconcile runs one pass.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.base.Reconcile(ctx, req)
}

// records gathers what the incident left behind. The Issue is nil when it
// is gone (the PostMortem, which it owns, follows it).
func (r *Reconciler) records(ctx context.Context, pm *platformv1alpha1.PostMortem) (report.Records, error) {
	var rec report.Records
	issueObj := &platformv1alpha1.Issue{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: pm.Namespace, Name: pm.Spec.IssueRef.Name}, issueObj); err != nil {
		if apierrors.IsNotFound(err) {
			return rec, nil
		}
		return rec, fmt.Errorf("get Issue %s: %w", pm.Spec.IssueRef.Name, err)
	}
	rec.Issue = issueObj

	anomalies := &platformv1alpha1.AnomalyList{}
	if err := r.Client.List(ctx, anomalies, client.InNamespace(pm.Namespace), client.MatchingLabels{platformv1alpha1.LabelIssue: issueObj.Name}); err != nil {
		return rec, fmt.Errorf("list the Anomalies of Issue %s: %w", issueObj.Name, err)
	}
	rec.Anomalies = anomalies.Items

	insights := &platformv1alpha1.AIInsightList{}
	if err := r.Client.List(ctx, insights, client.InNamespace(pm.Namespace), client.MatchingFields{insightIssueField: issueObj.Name}); err != nil {
		return rec, fmt.Errorf("list the AIInsights of Issue %s: %w", issueObj.Name, err)
	}
	rec.Insights = slices.DeleteFunc(insights.Items, func(in platformv1alpha1.AIInsight) bool {
		return in.Spec.IssueRef.Name != issueObj.Name
	})

	plans, err := issue.Plans(ctx, r.Client, issueObj)
	if err != nil {
		return rec, err
	}
	rec.Plans = plans
	return rec.Sorted(), nil
}

// write builds the report from the records and stores it, once: while
// status.generatedAt is empty.
func (r *Reconciler) write(ctx context.Context, pm *platformv1alpha1.PostMortem) (ctrl.Result, error) {
	if pm.Status.GeneratedAt != nil {
		return ctrl.Result{}, nil
	}
	rec, err := r.records(ctx, pm)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rec.Issue == nil {
		return ctrl.Result{}, nil
	}
	if !rec.Ended() {
		reconcile.SetCondition(pm, &pm.Status.Conditions, platformv1alpha1.PostMortemReadyCondition, metav1.ConditionFalse,
			issueOpenReason, "Waiting for Issue "+rec.Issue.Name+" to be resolved or escalated")
		return ctrl.Result{}, nil
	}

	if missing := missingRecords(rec); missing != "" {
		if _, end, ok := rec.Window(); ok && r.Now().Sub(end) < recordsGrace {
			reconcile.SetCondition(pm, &pm.Status.Conditions, platformv1alpha1.PostMortemReadyCondition, metav1.ConditionFalse,
				recordsMissingReason, "Waiting for "+missing)
			return ctrl.Result{RequeueAfter: recordsRetryAfter}, nil
		}
	}

	rep := report.Build(rec)
	rep.Clean(r.Scrub)
	r.summarize(ctx, pm, rec, &rep)

	now := metav1.NewTime(r.Now())
	st := &pm.Status
	st.Summary, st.RootCause, st.Impact = rep.Summary, rep.RootCause, rep.Impact
	st.LessonsLearned, st.PreventionActions = rep.LessonsLearned, rep.PreventionActions
	st.Timeline, st.ActionsExecuted, st.Duration = rep.Timeline, rep.ActionsExecuted, rep.Duration
	st.GeneratedAt = &now
	if st.State == "" {
		st.State = platformv1alpha1.PostMortemOpen
	}
	if p := rec.SucceededPlan(); p != nil && p.Spec.RunbookRef != nil && st.RunbookRef == nil {
		// The fix came from a Runbook: that is the one to read.
		st.RunbookRef = p.Spec.RunbookRef.DeepCopy()
	}
	reconcile.SetCondition(pm, &st.Conditions, platformv1alpha1.PostMortemReadyCondition, metav1.ConditionTrue,
		platformv1alpha1.PostMortemGeneratedReason, "The report is written")
	if _, end, ok := rec.Window(); ok {
		reportLatency.Observe(now.Sub(end).Seconds())
	}
	ctrl.LoggerFrom(ctx).Info("Wrote PostMortem report", "issue", rec.Issue.Name, "timeline", len(st.Timeline), "actions", len(st.ActionsExecuted))
	return ctrl.Result{}, nil
}

// missingRecords names the first AIInsight or RemediationPlan the Issue's
// attempts name that the records lack, or is empty.
func missingRecords(rec report.Records) string {
	for _, a := range rec.Issue.Status.Attempts {
		if a.InsightRef != nil && !slices.ContainsFunc(rec.Insights, func(in platformv1alpha1.AIInsight) bool { return in.Name == a.InsightRef.Name }) {
			return "AIInsight " + a.InsightRef.Name
		}
		if a.PlanRef != nil && !slices.ContainsFunc(rec.Plans, func(p platformv1alpha1.RemediationPlan) bool { return p.Name == a.PlanRef.Name }) {
			return "RemediationPlan " + a.PlanRef.Name
		}
	}
	return ""
}

// summarize refines the narrative through AnalyzerService.SummarizeIncident
// when one is configured. What it is sent is the scrubbed report; what it
// answers is scrubbed again. A failure leaves the report as the records
// made it: the analyzer never holds a PostMortem back.
func (r *Reconciler) summarize(ctx context.Context, pm *platformv1alpha1.PostMortem, rec report.Records, rep *report.Report) {
	conds := &pm.Status.Conditions
	if r.Analyzer == nil {
		reconcile.SetCondition(pm, conds, platformv1alpha1.PostMortemSummarizedCondition, metav1.ConditionFalse,
			platformv1alpha1.PostMortemAnalyzerNotConfiguredReason, "No analyzer is configured: the report is built from the records alone")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.CallTimeout)
	defer cancel()
	resp, err := r.Analyzer.SummarizeIncident(ctx, summarizeRequest(pm, rec, rep, r.Scrub))
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("Wrote the report from the records alone: SummarizeIncident failed", "error", err.Error())
		reconcile.SetCondition(pm, conds, platformv1alpha1.PostMortemSummarizedCondition, metav1.ConditionFalse,
			platformv1alpha1.PostMortemAnalyzerFailedReason, "The analyzer did not answer: the report is built from the records alone")
		return
	}
	rep.Narrative = rep.Refine(resp.GetSummary(), resp.GetRootCause(), resp.GetImpact(), resp.GetLessonsLearned(), resp.GetPreventionActions())
	rep.Clean(r.Scrub)
	reconcile.SetCondition(pm, conds, platformv1alpha1.PostMortemSummarizedCondition, metav1.ConditionTrue,
		platformv1alpha1.PostMortemAnalyzerSummarizedReason, "The analyzer refined the report")
}

func summarizeRequest(pm *platformv1alpha1.PostMortem, rec report.Records, rep *report.Report, scrub report.Scrub) *analyzerv1.SummarizeIncidentRequest {
	res := rec.Issue.Spec.Resource
	req := &analyzerv1.SummarizeIncidentRequest{
		Issue:      &commonv1.ObjectRef{Namespace: pm.Namespace, Name: rec.Issue.Name},
		IncidentId: rec.Issue.Status.IncidentID,
		Resource:   &commonv1.ResourceRef{Kind: res.Kind, Name: res.Name, Namespace: res.Namespace, Uid: string(res.UID)},
		SignalType: string(rec.Issue.Spec.SignalType),
		Severity:   string(rec.Issue.Spec.Severity),
		Analysis:   rep.RootCause,
	}
	if in := rec.Insight(); in != nil {
		req.Analysis = scrub(in.Status.Analysis)
		req.Provider, req.Model = string(in.Spec.Provider), in.Spec.Model
	}
	for _, e := range rep.Timeline {
		req.Timeline = append(req.Timeline, &commonv1.TimelineEntry{Timestamp: timestamppb.New(e.Timestamp.Time), Type: e.Type, Detail: e.Detail})
	}
	for _, a := range rep.ActionsExecuted {
		ea := &commonv1.ExecutedAction{Action: &commonv1.Action{Type: string(a.Action), Params: a.Params}, Result: string(a.Result)}
		if a.Timestamp != nil {
			ea.Timestamp = timestamppb.New(a.Timestamp.Time)
		}
		req.ActionsExecuted = append(req.ActionsExecuted, ea)
	}
	return req
}

// review applies the review annotations: Open moves to InReview, InReview
// to Closed, each recorded with who asked and when. A request for the
// state the review is in is done; any other move is refused.
func (r *Reconciler) review(ctx context.Context, pm *platformv1alpha1.PostMortem) (ctrl.Result, error) {
	want := platformv1alpha1.PostMortemState(pm.Annotations[platformv1alpha1.AnnotationReviewState])
	st := &pm.Status
	if want == "" || st.GeneratedAt == nil || want == st.State {
		return ctrl.Result{}, nil
	}
	if err := CheckTransition(st.State, want); err != nil {
		ctrl.LoggerFrom(ctx).Info("Refused a review request", "state", string(want), "reason", err.Error())
		return ctrl.Result{}, nil
	}
	at := metav1.NewTime(r.Now())
	if t, err := time.Parse(time.RFC3339, pm.Annotations[platformv1alpha1.AnnotationReviewRequestedAt]); err == nil {
		at = metav1.NewTime(t)
	}
	by := strings.TrimSpace(pm.Annotations[platformv1alpha1.AnnotationReviewBy])
	if by == "" {
		by = "annotation"
	}
	entry := platformv1alpha1.PostMortemReview{
		// who asked is an identity people need to read, not a secret: it
		// is kept as given; the free-text note is scrubbed.
		State: want, By: truncate(by, 512), At: at,
		Note: truncate(r.Scrub(pm.Annotations[platformv1alpha1.AnnotationReviewNote]), 1024),
	}
	st.Reviews = append(st.Reviews, entry)
	if n := len(st.Reviews); n > 16 {
		st.Reviews = st.Reviews[n-16:]
	}
	st.State = want
	ctrl.LoggerFrom(ctx).Info("Moved PostMortem review", "state", string(want), "by", entry.By)
	return ctrl.Result{}, nil
}

// CheckTransition reports whether the review may move from one state to
// the next: Open to InReview, InReview to Closed.
func CheckTransition(from, to platformv1alpha1.PostMortemState) error {
	if from == "" {
		from = platformv1alpha1.PostMortemOpen
	}
	switch {
	case from == platformv1alpha1.PostMortemOpen && to == platformv1alpha1.PostMortemInReview,
		from == platformv1alpha1.PostMortemInReview && to == platformv1alpha1.PostMortemClosed:
		return nil
	case to != platformv1alpha1.PostMortemOpen && to != platformv1alpha1.PostMortemInReview && to != platformv1alpha1.PostMortemClosed:
		return fmt.Errorf("%q is not a review state: Open, InReview or Closed", to)
	default:
		return fmt.Errorf("the review cannot move from %s to %s: it goes Open, InReview, Closed", from, to)
	}
}

// trend counts the earlier PostMortems of the same resource and signal
// type whose incidents were first detected within the 30 days before this
// one's. It is recomputed every pass, from the incidents' own times, so a
// report written late still counts and the answer never depends on when
// the pass ran.
func (r *Reconciler) trend(ctx context.Context, pm *platformv1alpha1.PostMortem) (ctrl.Result, error) {
	start, ok := report.FirstDetection(pm)
	if !ok {
		return ctrl.Result{}, nil
	}
	key, signal := pm.Labels[platformv1alpha1.LabelResourceKey], pm.Labels[platformv1alpha1.LabelSignalType]
	if key == "" || signal == "" {
		return ctrl.Result{}, nil
	}
	list := &platformv1alpha1.PostMortemList{}
	// Issues of one resource may live in other namespaces than this one
	// (the platform's own, say), so the trend looks cluster-wide.
	if err := r.Client.List(ctx, list, client.MatchingLabels{platformv1alpha1.LabelResourceKey: key, platformv1alpha1.LabelSignalType: signal}); err != nil {
		return ctrl.Result{}, fmt.Errorf("list the PostMortems of resource key %s: %w", key, err)
	}
	since := start.Add(-report.RecurrenceWindow)
	var earlier []platformv1alpha1.RecurrenceReference
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID == pm.UID {
			continue
		}
		t, ok := report.FirstDetection(other)
		// Incidents of the same instant are ordered by name, so that of
		// two such only one counts the other.
		isEarlier := t.Before(start) || t.Equal(start) && other.Name < pm.Name
		if !ok || t.Before(since) || !isEarlier {
			continue
		}
		detected := metav1.NewTime(t)
		earlier = append(earlier, platformv1alpha1.RecurrenceReference{Namespace: other.Namespace, Name: other.Name, IncidentID: other.Spec.IncidentID, DetectedAt: &detected})
	}
	slices.SortFunc(earlier, func(a, b platformv1alpha1.RecurrenceReference) int {
		return cmp.Or(b.DetectedAt.Compare(a.DetectedAt.Time), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	rec := &platformv1alpha1.PostMortemRecurrence{Count: int32(len(earlier)), Window: &metav1.Duration{Duration: report.RecurrenceWindow}}
	if len(earlier) > 50 {
		earlier = earlier[:50]
	}
	rec.PostMortems = earlier
	pm.Status.Recurrence = rec
	return ctrl.Result{}, nil
}

// promote turns the steps of the agentic plan that resolved the Issue
// into a Runbook, through RemediatorService.PromoteRunbook, once: the
// Runbook's name is recorded in status.runbookRef, and a pass that finds
// it there calls nothing. PromoteRunbook is idempotent too, so a pass that
// crashed between the call and the status write repeats nothing. An
// escalated incident, or one resolved without the agentic loop, promotes
// nothing.
func (r *Reconciler) promote(ctx context.Context, pm *platformv1alpha1.PostMortem) (ctrl.Result, error) {
	if r.Remediator == nil || pm.Status.RunbookRef != nil || pm.Status.GeneratedAt == nil {
		return ctrl.Result{}, nil
	}
	rec, err := r.records(ctx, pm)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rec.Issue == nil || !rec.AgenticallyResolved() {
		return ctrl.Result{}, nil
	}
	plan := rec.SucceededPlan()
	callCtx, cancel := context.WithTimeout(ctx, r.CallTimeout)
	defer cancel()
	resp, err := r.Remediator.PromoteRunbook(callCtx, &remediatorv1.PromoteRunbookRequest{Plan: &commonv1.ObjectRef{Namespace: plan.Namespace, Name: plan.Name}})
	if err != nil || resp.GetRunbookName() == "" {
		if err == nil {
			err = errors.New("the remediator named no Runbook")
		}
		ctrl.LoggerFrom(ctx).Info("Could not promote the plan to a Runbook; retrying", "plan", plan.Name, "error", err.Error())
		reconcile.SetCondition(pm, &pm.Status.Conditions, platformv1alpha1.PostMortemRunbookPromotedCondition, metav1.ConditionFalse,
			platformv1alpha1.PostMortemPromotionFailedReason, "RemediatorService.PromoteRunbook failed for plan "+plan.Name)
		return ctrl.Result{RequeueAfter: promoteRetryAfter}, nil
	}
	pm.Status.RunbookRef = &platformv1alpha1.LocalObjectReference{Name: resp.GetRunbookName()}
	reconcile.SetCondition(pm, &pm.Status.Conditions, platformv1alpha1.PostMortemRunbookPromotedCondition, metav1.ConditionTrue,
		platformv1alpha1.PostMortemRunbookPromotedReason, "Plan "+plan.Name+" became Runbook "+resp.GetRunbookName())
	ctrl.LoggerFrom(ctx).Info("Promoted plan to a Runbook", "plan", plan.Name, "runbook", resp.GetRunbookName(), "created", resp.GetCreated())
	return ctrl.Result{}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
