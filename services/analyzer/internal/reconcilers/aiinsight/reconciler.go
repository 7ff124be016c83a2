// Package aiinsight analyses the Issue an AIInsight names: it builds the
// Kubernetes context of the Issue's resource, scrubs it, asks the analyzer
// pool (AnalyzerService.AnalyzeIssue over a dns:/// round_robin target),
// validates the suggested actions, and writes the status once.
//
// The contract with the correlator, which creates AIInsights:
//   - while the analysis runs, Ready is absent;
//   - success is Ready=True, reason AnalysisCompleted, BuiltinFallback
//     (BUILTIN answered instead of the requested provider) or
//     ActionsRejected (every suggested action was refused: the analysis is
//     honest and usable, with no actions);
//   - giving up is Ready=False, reason InvalidResponse, ProviderUnavailable
//     or BudgetExhausted;
//   - an AIInsight whose Issue is gone, or has moved to a later attempt, is
//     Ready=False AttemptSuperseded.
//
// Either Ready status is final: the status is written once and never
// again, so a restart never analyses twice.
package aiinsight

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/llm"
	"github.com/chatcli/aiops/libs/reconcile"
	"github.com/chatcli/aiops/libs/scrub"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
	"github.com/chatcli/aiops/services/analyzer/internal/analysis"
	"github.com/chatcli/aiops/services/analyzer/internal/validate"
)

// Defaults of the Reconciler's knobs.
const (
	DefaultTimeout     = 2 * time.Minute
	DefaultGiveUpAfter = 10 * time.Minute
)

// Status bounds of AIInsight.
const (
	maxAnalysis        = 32768
	maxRecommendations = 32
	maxRecommendation  = 4096
	maxModel           = 256
	maxServer          = 253
)

// Reconciler analyses AIInsights. Client, Context, Scrubber, Analyzer and
// Checker are required.
type Reconciler struct {
	// Client reads AIInsights and Issues (from the cache) and writes
	// AIInsight status.
	Client client.Client
	// Context builds the Kubernetes context of an Issue's resource.
	Context *k8sctx.Builder
	// Scrubber scrubs the context before it leaves the process.
	Scrubber *scrub.Scrubber
	// Analyzer is the analyzer pool.
	Analyzer analyzerv1.AnalyzerServiceClient
	// Checker validates suggested actions.
	Checker validate.ActionChecker
	// Timeout bounds one analysis call, so that no worker waits longer on
	// a slow provider.
	Timeout time.Duration
	// GiveUpAfter is how long after its creation an AIInsight whose
	// analysis keeps failing to reach the pool gives up, as
	// ProviderUnavailable.
	GiveUpAfter time.Duration
	// Workers is how many AIInsights are analysed at once.
	Workers int
	// MaxContextBytes bounds the rendered context; k8sctx.DefaultMaxBytes
	// when 0.
	MaxContextBytes int
	Now             func() time.Time

	base reconcile.Base[*platformv1alpha1.AIInsight]
}

// SetupWithManager checks the dependencies and registers the controller.
// Issues wake their AIInsights, so that a moved-on Issue supersedes them.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := r.init(); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&platformv1alpha1.AIInsight{}).
		Watches(&platformv1alpha1.Issue{}, handler.EnqueueRequestsFromMapFunc(insightsOfIssue)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Workers}).
		Named("aiinsight").
		Complete(r)
}

func (r *Reconciler) init() error {
	if r.Client == nil || r.Context == nil || r.Scrubber == nil || r.Analyzer == nil || r.Checker == nil {
		return errors.New("aiinsight reconciler: Client, Context, Scrubber, Analyzer and Checker are required")
	}
	if r.Timeout <= 0 {
		r.Timeout = DefaultTimeout
	}
	if r.GiveUpAfter <= 0 {
		r.GiveUpAfter = DefaultGiveUpAfter
	}
	r.Workers = max(r.Workers, 1)
	if r.Now == nil {
		r.Now = time.Now
	}
	r.base = reconcile.Base[*platformv1alpha1.AIInsight]{
		Client:             r.Client,
		NewObject:          func() *platformv1alpha1.AIInsight { return &platformv1alpha1.AIInsight{} },
		Conditions:         func(i *platformv1alpha1.AIInsight) *[]metav1.Condition { return &i.Status.Conditions },
		ObservedGeneration: func(i *platformv1alpha1.AIInsight) *int64 { return &i.Status.ObservedGeneration },
		Normal:             []reconcile.Phase[*platformv1alpha1.AIInsight]{r.analyze},
		// Two replicas' leaders overlapping in a handover must not both
		// write a final status.
		OptimisticLock: true,
	}
	return r.base.Validate()
}

// Reconcile runs one pass.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.base.Reconcile(ctx, req)
}

// insightsOfIssue names the AIInsights of every attempt an Issue records.
func insightsOfIssue(_ context.Context, obj client.Object) []ctrl.Request {
	issue, ok := obj.(*platformv1alpha1.Issue)
	if !ok {
		return nil
	}
	var out []ctrl.Request
	for _, a := range issue.Status.Attempts {
		if a.InsightRef != nil {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKey{Namespace: issue.Namespace, Name: a.InsightRef.Name}})
		}
	}
	return out
}

// Final reports whether the insight's Ready condition is True or False,
// which nothing changes again.
func Final(insight *platformv1alpha1.AIInsight) bool {
	c := meta.FindStatusCondition(insight.Status.Conditions, platformv1alpha1.AIInsightReadyCondition)
	return c != nil && c.Status != metav1.ConditionUnknown
}

// analyze is the whole pass: one analysis, one status write.
func (r *Reconciler) analyze(ctx context.Context, insight *platformv1alpha1.AIInsight) (ctrl.Result, error) {
	if Final(insight) {
		return ctrl.Result{}, nil
	}
	log := ctrl.LoggerFrom(ctx)
	issue := &platformv1alpha1.Issue{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: insight.Namespace, Name: insight.Spec.IssueRef.Name}, issue)
	switch {
	case apierrors.IsNotFound(err):
		r.fail(insight, platformv1alpha1.AIInsightAttemptSupersededReason, "Issue "+insight.Spec.IssueRef.Name+" is gone")
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("get Issue %s: %w", insight.Spec.IssueRef.Name, err)
	}
	if why := superseded(insight, issue); why != "" {
		r.fail(insight, platformv1alpha1.AIInsightAttemptSupersededReason, why)
		return ctrl.Result{}, nil
	}

	target := issue.Spec.Resource
	// A copy per pass: the incident's start tells which revision served
	// before it.
	builder := *r.Context
	if issue.Status.DetectedAt != nil {
		builder.IncidentStart = issue.Status.DetectedAt.Time
	}
	kctx, err := builder.Build(ctx, k8sctx.Ref{Kind: target.Kind, Namespace: target.Namespace, Name: target.Name})
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("build the context of Issue %s: %w", issue.Name, err)
	}
	rendered, err := kctx.Render(r.MaxContextBytes)
	if err != nil {
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	scrubbed := r.Scrubber.Scrub(string(rendered))
	req := &chatcliv1.AnalyzeIssueRequest{
		IssueName: issue.Name, Namespace: target.Namespace, ResourceKind: target.Kind, ResourceName: target.Name,
		SignalType: string(issue.Spec.SignalType), Severity: string(issue.Spec.Severity),
		Description: r.Scrubber.Scrub(issue.Spec.Description).String(), RiskScore: issue.Spec.RiskScore,
		Provider: string(insight.Spec.Provider), Model: insight.Spec.Model,
		KubernetesContext:      scrubbed.String(),
		PreviousFailureContext: r.Scrubber.Scrub(insight.Spec.FailureContext).String(),
	}

	callCtx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	started := r.Now()
	resp, err := r.Analyzer.AnalyzeIssue(callCtx, &analyzerv1.AnalyzeIssueRequest{Issue: req})
	elapsed := r.Now().Sub(started)
	if err != nil {
		res, ferr := r.callFailed(ctx, insight, err)
		outcome := "retry"
		if Final(insight) {
			outcome = meta.FindStatusCondition(insight.Status.Conditions, platformv1alpha1.AIInsightReadyCondition).Reason
		}
		analysisDuration.WithLabelValues(string(insight.Spec.Provider), outcome).Observe(elapsed.Seconds())
		return res, ferr
	}
	log.V(1).Info("Analysed Issue", "issue", issue.Name, "provider", resp.GetAnalysis().GetProvider(), "duration", elapsed)
	r.succeed(ctx, insight, target, resp)
	reason := meta.FindStatusCondition(insight.Status.Conditions, platformv1alpha1.AIInsightReadyCondition).Reason
	analysisDuration.WithLabelValues(string(insight.Status.Provider), reason).Observe(elapsed.Seconds())
	return ctrl.Result{}, nil
}

// superseded says why the Issue no longer wants this insight, or "".
func superseded(insight *platformv1alpha1.AIInsight, issue *platformv1alpha1.Issue) string {
	if owner := metav1.GetControllerOf(insight); owner != nil && owner.Kind == "Issue" && owner.UID != issue.UID {
		return "Issue " + issue.Name + " was recreated"
	}
	attempt := max(insight.Spec.Attempt, 1)
	latest := int32(0)
	for _, a := range issue.Status.Attempts {
		latest = max(latest, a.Attempt)
	}
	if latest > attempt {
		return "Issue " + issue.Name + " moved on to attempt " + strconv.Itoa(int(latest))
	}
	return ""
}

// callFailed decides whether a failed call is final. The analyzer's
// reasons are; a pool that cannot be reached is retried with backoff until
// GiveUpAfter.
func (r *Reconciler) callFailed(ctx context.Context, insight *platformv1alpha1.AIInsight, err error) (ctrl.Result, error) {
	msg := status.Convert(err).Message()
	// A failed analysis may still have cost something (an answer that
	// never parsed); the pool says what in the error's metadata.
	insight.Status.Usage = usageOfMetadata(grpcx.ErrorMetadata(err))
	switch grpcx.Reason(err) {
	case grpcx.ReasonInvalidResponse:
		if grpcx.ErrorMetadata(err)["server"] == "" {
			msg = "The provider's answer was not valid JSON, even after a repair request: " + msg
		}
		r.fail(insight, platformv1alpha1.AIInsightInvalidResponseReason, msg)
		return ctrl.Result{}, nil
	case grpcx.ReasonBudgetExhausted:
		r.fail(insight, platformv1alpha1.AIInsightBudgetExhaustedReason, msg)
		return ctrl.Result{}, nil
	case grpcx.ReasonProviderNotConfigured, grpcx.ReasonProviderUnavailable:
		r.fail(insight, platformv1alpha1.AIInsightProviderUnavailableReason, msg)
		return ctrl.Result{}, nil
	}
	if status.Code(err) == codes.InvalidArgument {
		r.fail(insight, platformv1alpha1.AIInsightProviderUnavailableReason, "The analyzer refused the request: "+msg)
		return ctrl.Result{}, nil
	}
	if r.Now().Sub(insight.CreationTimestamp.Time) > r.GiveUpAfter {
		r.fail(insight, platformv1alpha1.AIInsightProviderUnavailableReason, "The analyzer could not be reached for "+r.GiveUpAfter.String())
		return ctrl.Result{}, nil
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Analysis call failed; retrying", "code", status.Code(err).String())
	return ctrl.Result{}, fmt.Errorf("analyse: %w", err)
}

func (r *Reconciler) fail(insight *platformv1alpha1.AIInsight, reason, message string) {
	reconcile.SetCondition(insight, &insight.Status.Conditions, platformv1alpha1.AIInsightReadyCondition, metav1.ConditionFalse, reason, message)
}

// succeed stores the analysis, its validated actions, who answered and
// what it cost.
func (r *Reconciler) succeed(ctx context.Context, insight *platformv1alpha1.AIInsight, target platformv1alpha1.ResourceReference, resp *analyzerv1.AnalyzeIssueResponse) {
	a := resp.GetAnalysis()
	raw := make([]llm.Action, 0, len(a.GetSuggestedActions()))
	for _, s := range a.GetSuggestedActions() {
		raw = append(raw, llm.Action{Name: s.GetName(), Action: s.GetAction(), Description: s.GetDescription(), Params: s.GetParams()})
	}
	res := validate.Actions(ctx, r.Checker, target, raw)

	st := &insight.Status
	st.Provider = platformv1alpha1.Provider(a.GetProvider())
	if !slices.Contains(knownProviders, st.Provider) {
		st.Provider = ""
	}
	st.Model = truncate(a.GetModel(), maxModel)
	st.Server, st.Usage = "", nil
	if srv := resp.GetServer(); srv != nil && srv.GetNamespace() == insight.Namespace {
		st.Server = truncate(srv.GetName(), maxServer)
	}
	if u := resp.GetUsage(); u != nil && st.Server == "" {
		st.Usage = usageOf(u)
	}
	st.Analysis = truncate(a.GetAnalysis(), maxAnalysis)
	conf := math.Round(float64(min(max(a.GetConfidence(), 0), 1))*100) / 100
	st.Confidence = &conf
	st.Recommendations = nil
	for _, rec := range a.GetRecommendations() {
		if len(st.Recommendations) == maxRecommendations {
			break
		}
		st.Recommendations = append(st.Recommendations, truncate(rec, maxRecommendation))
	}
	st.SuggestedActions, st.RejectedActions = res.Accepted, res.Rejected
	now := metav1.NewTime(r.Now())
	st.GeneratedAt = &now

	by := string(st.Provider)
	if st.Server != "" {
		by += " through the ChatCLI server of Instance " + st.Server
	}
	reason, message := platformv1alpha1.AIInsightAnalysisCompletedReason, fmt.Sprintf("Analysis by %s with %d suggested actions", by, len(res.Accepted))
	requested := insight.Spec.Provider
	switch {
	case len(raw) > 0 && len(res.Accepted) == 0:
		reason, message = platformv1alpha1.AIInsightActionsRejectedReason, fmt.Sprintf("Every one of the %d suggested actions was refused; see status.rejectedActions", len(raw))
	case st.Provider == platformv1alpha1.ProviderBuiltin && requested != "" && requested != platformv1alpha1.ProviderBuiltin:
		reason, message = platformv1alpha1.AIInsightBuiltinFallbackReason, fmt.Sprintf("BUILTIN answered instead of %s, with %d suggested actions", requested, len(res.Accepted))
	}
	reconcile.SetCondition(insight, &st.Conditions, platformv1alpha1.AIInsightReadyCondition, metav1.ConditionTrue, reason, message)
}

// usageOf is the status form of the pool's usage: negative counts (a
// broken pool) read as zero, and the cost is a decimal of six places.
func usageOf(u *analyzerv1.LLMUsage) *platformv1alpha1.LLMUsage {
	out := &platformv1alpha1.LLMUsage{InputTokens: max(u.GetInputTokens(), 0), OutputTokens: max(u.GetOutputTokens(), 0)}
	if u.EstimatedCostUsd != nil {
		if c := u.GetEstimatedCostUsd(); c >= 0 && c < 1e12 {
			out.EstimatedCostUSD = strconv.FormatFloat(c, 'f', 6, 64)
		}
	}
	return out
}

// usageOfMetadata reads the usage of a failed analysis from its error's
// metadata; nil when there is none or it does not parse.
func usageOfMetadata(meta map[string]string) *platformv1alpha1.LLMUsage {
	in, ierr := strconv.ParseInt(meta[analysis.MetaInputTokens], 10, 64)
	out, oerr := strconv.ParseInt(meta[analysis.MetaOutputTokens], 10, 64)
	if ierr != nil || oerr != nil {
		return nil
	}
	u := &analyzerv1.LLMUsage{InputTokens: in, OutputTokens: out}
	if c, err := strconv.ParseFloat(meta[analysis.MetaEstimatedCostUSD], 64); err == nil {
		u.EstimatedCostUsd = &c
	}
	return usageOf(u)
}

var knownProviders = []platformv1alpha1.Provider{
	platformv1alpha1.ProviderOpenAI, platformv1alpha1.ProviderClaudeAI, platformv1alpha1.ProviderBedrock,
	platformv1alpha1.ProviderGoogleAI, platformv1alpha1.ProviderOllama, platformv1alpha1.ProviderCopilot,
	platformv1alpha1.ProviderOpenRouter, platformv1alpha1.ProviderGitHubModels, platformv1alpha1.ProviderXAI,
	platformv1alpha1.ProviderBuiltin,
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
