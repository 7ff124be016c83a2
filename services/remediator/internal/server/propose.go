// Package server is the remediator's gRPC API. Its handlers run on every
// replica and only create objects or annotate them (Runtime.HandlerClient
// refuses status writes); the leader's reconcilers act on what they
// record.
package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/k8sctx"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	"github.com/chatcli/aiops/services/remediator/internal/audit"
	"github.com/chatcli/aiops/services/remediator/internal/policy"
)

// DefaultAgenticMaxSteps bounds an agentic plan's loop.
const DefaultAgenticMaxSteps = 10

// Server implements RemediatorService.
type Server struct {
	remediatorv1.UnimplementedRemediatorServiceServer

	// Client creates and annotates objects; it refuses status writes.
	Client client.Client
	// Reader reads from the API server, not the cache: a request must see
	// the Issue status the correlator wrote just before calling.
	Reader client.Reader
	Policy *policy.Policy
	Audit  *audit.Logger
	// PlatformNamespace holds the shared Runbooks.
	PlatformNamespace string
	// Agentic enables the agentic tier.
	Agentic         bool
	AgenticMaxSteps int32
	// Executor runs dry-runs.
	Executor DryRunner
}

// PlanName is the name of the plan for one attempt at an Issue.
func PlanName(issue string, attempt int32) string {
	name := fmt.Sprintf("%s-plan-%d", issue, attempt)
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := fmt.Sprintf("-%s-plan-%d", hex.EncodeToString(sum[:])[:10], attempt)
	return issue[:253-len(suffix)] + suffix
}

// SafetyConstraints are written on every plan; the policy enforces each.
var SafetyConstraints = []string{
	"Every action passes the action policy again before it runs",
	"At most one pod deletion per plan",
	"No scale to 0 unless declared as containment and approved",
	"Rollback on failure",
}

func apiError(what string, err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return status.Errorf(codes.NotFound, "%s not found", what)
	case errors.Is(err, policy.ErrUnavailable), apierrors.IsServiceUnavailable(err), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return status.Errorf(codes.Unavailable, "%s: %v", what, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	}
	return status.Errorf(codes.Unavailable, "%s: %v", what, err)
}

func failed(reason, msg string, md map[string]string) error {
	return grpcx.Error(codes.FailedPrecondition, reason, msg, md)
}

// ProposePlan implements the contract in remediator.proto.
func (s *Server) ProposePlan(ctx context.Context, req *remediatorv1.ProposePlanRequest) (*remediatorv1.ProposePlanResponse, error) {
	ref := req.GetIssue()
	if ref.GetNamespace() == "" || ref.GetName() == "" || req.GetIssueUid() == "" || req.GetInsightName() == "" || req.GetAttempt() < 1 {
		return nil, status.Error(codes.InvalidArgument, "issue namespace and name, issue_uid, insight_name and an attempt of at least 1 are required")
	}
	issue := &platformv1alpha1.Issue{}
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, issue); err != nil {
		return nil, apiError("issue "+ref.Namespace+"/"+ref.Name, err)
	}
	if string(issue.UID) != req.GetIssueUid() {
		return nil, failed(grpcx.ReasonResourceGone, "the Issue was re-created: its uid is not issue_uid", map[string]string{"uid": string(issue.UID)})
	}
	name := PlanName(issue.Name, req.GetAttempt())
	// Idempotent per (issue, attempt): an existing plan is the answer,
	// whatever the rest of the request says.
	existing := &platformv1alpha1.RemediationPlan{}
	err := s.Reader.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: name}, existing)
	switch {
	case err == nil:
		if !ownedBy(existing, issue) {
			return nil, failed(grpcx.ReasonResourceGone, "plan "+name+" belongs to an earlier Issue of that name", nil)
		}
		return &remediatorv1.ProposePlanResponse{Plan: PlanView(existing), Created: false}, nil
	case !apierrors.IsNotFound(err):
		return nil, apiError("plan "+name, err)
	}
	if err := checkIssue(issue, req.GetAttempt()); err != nil {
		return nil, err
	}
	insight := &platformv1alpha1.AIInsight{}
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: req.GetInsightName()}, insight); err != nil {
		return nil, apiError("AIInsight "+req.GetInsightName(), err)
	}
	if insight.Spec.IssueRef.Name != issue.Name || (len(insight.OwnerReferences) > 0 && !metav1.IsControlledBy(insight, issue)) {
		return nil, failed(grpcx.ReasonNoPlan, "AIInsight "+insight.Name+" is not this Issue's", map[string]string{"detail": "insight-not-the-issues"})
	}
	ready := meta.FindStatusCondition(insight.Status.Conditions, platformv1alpha1.AIInsightReadyCondition)
	if ready == nil || ready.Status == metav1.ConditionUnknown {
		return nil, status.Error(codes.FailedPrecondition, "AIInsight "+insight.Name+" is not decided yet")
	}
	if err := s.checkResource(ctx, issue.Spec.Resource); err != nil {
		return nil, err
	}

	excluded, err := s.failedActions(ctx, issue, req.GetFailureContext())
	if err != nil {
		return nil, err
	}
	plan, refusal, err := s.choose(ctx, issue, insight, ready.Status == metav1.ConditionTrue, name, req.GetAttempt(), excluded)
	if err != nil {
		return nil, err
	}
	if plan == nil {
		if refusal != "" {
			return nil, failed(grpcx.ReasonPlanRefusedByPolicy, "the action policy refused every candidate plan", map[string]string{"rule": string(refusal)})
		}
		return nil, failed(grpcx.ReasonNoPlan, "no Runbook matches, the analysis suggests no usable action and agentic mode is off", map[string]string{"detail": "no-tier"})
	}
	if err := controllerutil.SetControllerReference(issue, plan, s.Client.Scheme()); err != nil {
		return nil, status.Errorf(codes.Internal, "owner reference: %v", err)
	}
	if err := s.Client.Create(ctx, plan); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Another replica answered the same call first.
			if err := s.Reader.Get(ctx, client.ObjectKeyFromObject(plan), existing); err != nil {
				return nil, apiError("plan "+name, err)
			}
			return &remediatorv1.ProposePlanResponse{Plan: PlanView(existing)}, nil
		}
		return nil, apiError("create plan "+name, err)
	}
	s.Audit.Record(audit.Event{Kind: audit.KindPlanProposed, Actor: "remediator", Plan: plan.Namespace + "/" + plan.Name, Issue: issue.Name,
		Target: issue.Spec.Resource.String(), Result: "created", Detail: plan.Spec.Strategy})
	return &remediatorv1.ProposePlanResponse{Plan: PlanView(plan), Created: true}, nil
}

func ownedBy(plan *platformv1alpha1.RemediationPlan, issue *platformv1alpha1.Issue) bool {
	ref := metav1.GetControllerOf(plan)
	return ref != nil && ref.UID == issue.UID
}

func checkIssue(issue *platformv1alpha1.Issue, attempt int32) error {
	if issue.Status.State != platformv1alpha1.IssueRemediating {
		return failed(grpcx.ReasonIssueNotRemediating, "the Issue is "+string(issue.Status.State)+", not Remediating", map[string]string{"state": string(issue.Status.State)})
	}
	maxAttempts := issue.Status.MaxRemediationAttempts
	if maxAttempts == 0 {
		maxAttempts = 3
	}
	if attempt > maxAttempts {
		return failed(grpcx.ReasonAttemptsExhausted, fmt.Sprintf("attempt %d exceeds the Issue's maximum of %d", attempt, maxAttempts), map[string]string{"max_attempts": fmt.Sprint(maxAttempts)})
	}
	if issue.Status.RemediationAttempts != attempt {
		return status.Errorf(codes.FailedPrecondition, "the Issue records attempt %d, not %d", issue.Status.RemediationAttempts, attempt)
	}
	return nil
}

// checkResource refuses an Issue whose object is gone or was recreated.
func (s *Server) checkResource(ctx context.Context, res platformv1alpha1.ResourceReference) error {
	version, ok := k8sctx.APIVersion(res.Kind)
	if !ok {
		return nil // the policy refuses kinds it cannot act on
	}
	gv, err := schema.ParseGroupVersion(version)
	if err != nil {
		return status.Errorf(codes.Internal, "kind %s: %v", res.Kind, err)
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gv.WithKind(res.Kind))
	err = s.Reader.Get(ctx, client.ObjectKey{Namespace: res.Namespace, Name: res.Name}, obj)
	switch {
	case apierrors.IsNotFound(err):
		return failed(grpcx.ReasonResourceGone, res.String()+" no longer exists", map[string]string{"resource": res.String()})
	case apierrors.IsForbidden(err):
		return nil // a kind the remediator may not read; the policy refuses it
	case err != nil:
		return apiError(res.String(), err)
	case !actions.StandsFor(obj, res, ""):
		// A Job an earlier attempt re-ran still is the incident's Job.
		return failed(grpcx.ReasonResourceGone, res.String()+" was recreated with another uid", map[string]string{"resource": res.String()})
	}
	return nil
}

// actionKey identifies an action with its params, to exclude one that
// failed before.
func actionKey(t platformv1alpha1.ActionType, params map[string]string) string {
	keys := slices.Sorted(maps.Keys(params))
	var b strings.Builder
	b.WriteString(string(t))
	for _, k := range keys {
		b.WriteString("\x00" + k + "=" + params[k])
	}
	return b.String()
}

// agenticFailed marks, among the failed actions, that an agentic plan of
// the Issue already ended without resolving it: a second agentic loop on
// the same incident repeats a strategy that failed, so the tier is skipped
// and, with nothing else left, the Issue escalates (NO_PLAN) instead of
// spending its remaining attempts on the same thing.
const agenticFailed = "\x00agentic"

// failedActions are the actions that failed or were rolled back in this
// Issue's earlier plans, as the request names them and as their status
// records them.
func (s *Server) failedActions(ctx context.Context, issue *platformv1alpha1.Issue, fc *remediatorv1.FailureContext) (map[string]bool, error) {
	out := map[string]bool{}
	for _, a := range fc.GetFailedActions() {
		out[actionKey(platformv1alpha1.ActionType(a.GetAction().GetType()), a.GetAction().GetParams())] = true
	}
	plans := &platformv1alpha1.RemediationPlanList{}
	if err := s.Reader.List(ctx, plans, client.InNamespace(issue.Namespace), client.MatchingLabels{platformv1alpha1.LabelIssue: issue.Name}); err != nil {
		return nil, apiError("list plans", err)
	}
	for _, p := range plans.Items {
		if !ownedBy(&p, issue) {
			continue
		}
		if p.Spec.AgenticMode && p.Status.State.IsTerminal() && p.Status.State != platformv1alpha1.PlanCompleted {
			out[agenticFailed] = true
		}
		for _, r := range p.Status.ActionResults {
			if r.Result == platformv1alpha1.ActionFailed || r.Result == platformv1alpha1.ActionRolledBack {
				out[actionKey(r.Type, r.Params)] = true
			}
		}
		for _, r := range p.Status.RollbackResults {
			out[actionKey(r.Type, r.Params)] = true
		}
	}
	return out, nil
}

// choose runs the tiers and returns the plan to create, or nil with the
// rule that refused the last refused candidate.
func (s *Server) choose(ctx context.Context, issue *platformv1alpha1.Issue, insight *platformv1alpha1.AIInsight, insightUsable bool, name string, attempt int32, excluded map[string]bool) (*platformv1alpha1.RemediationPlan, policy.Rule, error) {
	var refusal policy.Rule
	base := &platformv1alpha1.RemediationPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: issue.Namespace, Name: name, Labels: map[string]string{platformv1alpha1.LabelIssue: issue.Name}},
		Spec: platformv1alpha1.RemediationPlanSpec{
			IssueRef: platformv1alpha1.LocalObjectReference{Name: issue.Name}, Attempt: attempt,
			SafetyConstraints: slices.Clone(SafetyConstraints),
		},
	}
	analysis := ""
	if insightUsable && insight.Status.Analysis != "" {
		analysis = " AI analysis: " + truncate(insight.Status.Analysis, 2000)
	}

	// Tier 1: manual Runbooks.
	runbooks, err := s.matchingRunbooks(ctx, issue)
	if err != nil {
		return nil, "", err
	}
	for _, rb := range runbooks {
		steps := withoutExcluded(stepActions(rb.Spec.Steps), excluded)
		if len(steps) == 0 {
			continue
		}
		approval, rule, err := s.vet(ctx, issue, name, steps)
		if err != nil {
			return nil, "", err
		}
		if rule != "" {
			refusal = rule
			continue
		}
		plan := base.DeepCopy()
		plan.Labels[platformv1alpha1.LabelPlanSource] = platformv1alpha1.PlanSourceRunbook
		plan.Spec.Actions = steps
		plan.Spec.RunbookRef = &platformv1alpha1.LocalObjectReference{Name: rb.Name}
		plan.Spec.Strategy = fmt.Sprintf("Attempt %d via runbook '%s'.%s", attempt, rb.Name, analysis)
		setApproval(plan, approval)
		if rb.Namespace != issue.Namespace {
			// A platform Runbook cannot be referenced by a local name.
			plan.Spec.RunbookRef = nil
			plan.Spec.Strategy = fmt.Sprintf("Attempt %d via runbook '%s/%s'.%s", attempt, rb.Namespace, rb.Name, analysis)
			plan.Annotations = map[string]string{platformv1alpha1.AnnotationRunbook: rb.Namespace + "/" + rb.Name}
		}
		return plan, "", nil
	}

	// Tier 1b: a Runbook promoted from a plan that resolved an earlier
	// incident of the same signal type and kind (an agentic loop's fix,
	// through PromoteRunbook): a proven fix comes before a new suggestion
	// and before another loop, but never where it did not hold.
	promoted, err := s.promotedRunbooks(ctx, issue)
	if err != nil {
		return nil, "", err
	}
	for _, rb := range promoted {
		steps := withoutExcluded(stepActions(rb.Spec.Steps), excluded)
		if len(steps) == 0 {
			continue
		}
		held, err := s.heldBefore(ctx, issue, rb.Name)
		if err != nil {
			return nil, "", err
		}
		if !held {
			continue
		}
		approval, rule, err := s.vet(ctx, issue, name, steps)
		if err != nil {
			return nil, "", err
		}
		if rule != "" {
			refusal = rule
			continue
		}
		plan := base.DeepCopy()
		plan.Labels[platformv1alpha1.LabelPlanSource] = platformv1alpha1.PlanSourceRunbook
		plan.Spec.Actions = steps
		plan.Spec.RunbookRef = &platformv1alpha1.LocalObjectReference{Name: rb.Name}
		plan.Spec.Strategy = fmt.Sprintf("Attempt %d via runbook '%s', promoted from plan %s.%s", attempt, rb.Name, rb.Spec.PromotedFrom.Name, analysis)
		setApproval(plan, approval)
		return plan, "", nil
	}

	// Tier 2: a Runbook generated from the analysis' suggested actions.
	if insightUsable {
		steps := withoutExcluded(suggestedActions(insight.Status.SuggestedActions), excluded)
		if len(steps) > 0 {
			approval, rule, err := s.vet(ctx, issue, name, steps)
			if err != nil {
				return nil, "", err
			}
			if rule != "" {
				refusal = rule
			} else {
				rb, err := s.generatedRunbook(ctx, issue, insight, steps)
				if err != nil {
					return nil, "", err
				}
				if rb != nil {
					plan := base.DeepCopy()
					plan.Labels[platformv1alpha1.LabelPlanSource] = platformv1alpha1.PlanSourceAIActions
					plan.Spec.Actions = steps
					plan.Spec.RunbookRef = &platformv1alpha1.LocalObjectReference{Name: rb.Name}
					plan.Spec.Strategy = fmt.Sprintf("Attempt %d via runbook '%s'.%s", attempt, rb.Name, analysis)
					setApproval(plan, approval)
					return plan, "", nil
				}
			}
		}
	}

	// Tier 3: the agentic loop, each step through the policy, unless one
	// already failed for this Issue.
	if s.Agentic && !excluded[agenticFailed] {
		plan := base.DeepCopy()
		plan.Labels[platformv1alpha1.LabelPlanSource] = platformv1alpha1.PlanSourceAgentic
		plan.Spec.AgenticMode = true
		plan.Spec.AgenticMaxSteps = s.AgenticMaxSteps
		if plan.Spec.AgenticMaxSteps == 0 {
			plan.Spec.AgenticMaxSteps = DefaultAgenticMaxSteps
		}
		plan.Spec.Strategy = fmt.Sprintf("Attempt %d: agentic AI remediation.%s", attempt, analysis)
		return plan, "", nil
	}
	return nil, refusal, nil
}

func setApproval(plan *platformv1alpha1.RemediationPlan, required bool) {
	if required {
		plan.Spec.Approval = &platformv1alpha1.PlanApprovalSpec{Required: true}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// vet runs the policy over a candidate's actions: whether one needs
// approval, or the rule that refused one.
func (s *Server) vet(ctx context.Context, issue *platformv1alpha1.Issue, planName string, steps []platformv1alpha1.RemediationAction) (bool, policy.Rule, error) {
	approval := false
	for i, a := range steps {
		v, err := s.Policy.Decide(ctx, "remediator:propose", a, issue.Spec.Resource,
			policy.Plan{Name: planName, Namespace: issue.Namespace, Issue: issue.Name, Index: int32(i), Actions: steps, Constraints: SafetyConstraints}, policy.Check)
		if err != nil {
			return false, "", apiError("policy", err)
		}
		if !v.Allowed {
			return false, v.Rule, nil
		}
		approval = approval || v.ApprovalRequired
	}
	return approval, "", nil
}

func stepActions(steps []platformv1alpha1.RunbookStep) []platformv1alpha1.RemediationAction {
	out := make([]platformv1alpha1.RemediationAction, 0, len(steps))
	for _, st := range steps {
		out = append(out, platformv1alpha1.RemediationAction{Type: st.Action, Params: maps.Clone(st.Params)})
	}
	return out
}

func suggestedActions(sa []platformv1alpha1.SuggestedAction) []platformv1alpha1.RemediationAction {
	out := make([]platformv1alpha1.RemediationAction, 0, len(sa))
	for _, a := range sa {
		out = append(out, platformv1alpha1.RemediationAction{Type: a.Action, Params: maps.Clone(a.Params)})
	}
	return out
}

func withoutExcluded(in []platformv1alpha1.RemediationAction, excluded map[string]bool) []platformv1alpha1.RemediationAction {
	return slices.DeleteFunc(in, func(a platformv1alpha1.RemediationAction) bool { return excluded[actionKey(a.Type, a.Params)] })
}

// matchingRunbooks returns the manual Runbooks that match, best first:
// tier 1 (signalType, severity and kind) before tier 2 (severity and kind),
// the Issue's namespace before the platform's, then by name. Runbooks
// whose Valid condition is False are left out.
func (s *Server) matchingRunbooks(ctx context.Context, issue *platformv1alpha1.Issue) ([]platformv1alpha1.Runbook, error) {
	type ranked struct {
		rb         platformv1alpha1.Runbook
		tier, nsOr int
	}
	var all []ranked
	for nsOrder, ns := range uniq(issue.Namespace, s.PlatformNamespace) {
		list := &platformv1alpha1.RunbookList{}
		if err := s.Reader.List(ctx, list, client.InNamespace(ns)); err != nil {
			return nil, apiError("list runbooks", err)
		}
		for _, rb := range list.Items {
			if rb.Spec.Origin == platformv1alpha1.RunbookGenerated || rb.Labels[platformv1alpha1.LabelRunbookGenerated] == "true" {
				continue
			}
			if c := meta.FindStatusCondition(rb.Status.Conditions, platformv1alpha1.RunbookValidCondition); c != nil && c.Status == metav1.ConditionFalse {
				continue
			}
			tr := rb.Spec.Trigger
			if tr.Severity != issue.Spec.Severity || tr.ResourceKind != issue.Spec.Resource.Kind {
				continue
			}
			tier := 2
			if tr.SignalType == issue.Spec.SignalType {
				tier = 1
			}
			all = append(all, ranked{rb: rb, tier: tier, nsOr: nsOrder})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.tier != b.tier {
			return a.tier < b.tier
		}
		if a.nsOr != b.nsOr {
			return a.nsOr < b.nsOr
		}
		return a.rb.Name < b.rb.Name
	})
	out := make([]platformv1alpha1.Runbook, 0, len(all))
	for _, r := range all {
		out = append(out, r.rb)
	}
	return out, nil
}

// promotedRunbooks returns the Issue namespace's Runbooks promoted from a
// successful plan whose trigger names the Issue's signal type and resource
// kind, those of its severity first, then by name. Left out: Valid=False,
// and those whose fixes recurred at least as often as they held (the
// correlator reports recurrences; the remediator counts timesRecurred).
func (s *Server) promotedRunbooks(ctx context.Context, issue *platformv1alpha1.Issue) ([]platformv1alpha1.Runbook, error) {
	list := &platformv1alpha1.RunbookList{}
	if err := s.Reader.List(ctx, list, client.InNamespace(issue.Namespace)); err != nil {
		return nil, apiError("list runbooks", err)
	}
	var out []platformv1alpha1.Runbook
	for _, rb := range list.Items {
		tr, st := rb.Spec.Trigger, rb.Status
		switch {
		case rb.Spec.PromotedFrom == nil || rb.Spec.Origin != platformv1alpha1.RunbookGenerated:
		case tr.SignalType != issue.Spec.SignalType || tr.ResourceKind != issue.Spec.Resource.Kind:
		case meta.IsStatusConditionFalse(st.Conditions, platformv1alpha1.RunbookValidCondition):
		case st.TimesRecurred > 0 && st.TimesRecurred >= st.TimesSucceeded:
		default:
			out = append(out, rb)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		si, sj := out[i].Spec.Trigger.Severity == issue.Spec.Severity, out[j].Spec.Trigger.Severity == issue.Spec.Severity
		if si != sj {
			return si
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func uniq(ns ...string) []string {
	var out []string
	for _, n := range ns {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// GeneratedRunbookName is deterministic in the trigger and the steps, so
// that every later incident with the same suggestion reuses it.
func GeneratedRunbookName(issue *platformv1alpha1.Issue, steps []platformv1alpha1.RemediationAction) string {
	raw, _ := json.Marshal(steps) // maps marshal with sorted keys
	sum := sha256.Sum256(raw)
	kind := strings.ToLower(issue.Spec.Resource.Kind)
	signal := strings.ReplaceAll(string(issue.Spec.SignalType), "_", "-")
	name := fmt.Sprintf("auto-%s-%s-%s", signal, issue.Spec.Severity, kind)
	if len(name) > 50 {
		name = name[:50]
	}
	return name + "-" + hex.EncodeToString(sum[:])[:10]
}

// generatedRunbook returns the generated Runbook for steps, creating it on
// first use, or nil when it is known not to hold for this resource: the
// Issue recurs an earlier one that a Completed plan of this Runbook
// resolved.
func (s *Server) generatedRunbook(ctx context.Context, issue *platformv1alpha1.Issue, insight *platformv1alpha1.AIInsight, steps []platformv1alpha1.RemediationAction) (*platformv1alpha1.Runbook, error) {
	name := GeneratedRunbookName(issue, steps)
	held, err := s.heldBefore(ctx, issue, name)
	if err != nil || !held {
		return nil, err
	}
	rb := &platformv1alpha1.Runbook{}
	err = s.Reader.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: name}, rb)
	if err == nil {
		return rb, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, apiError("runbook "+name, err)
	}
	rb = &platformv1alpha1.Runbook{
		ObjectMeta: metav1.ObjectMeta{Namespace: issue.Namespace, Name: name, Labels: map[string]string{platformv1alpha1.LabelRunbookGenerated: "true"}},
		Spec: platformv1alpha1.RunbookSpec{
			Description: truncate("Generated from the suggested actions of AIInsight "+insight.Name, platformv1alpha1.MaxDescriptionLength-10),
			Trigger:     platformv1alpha1.RunbookTrigger{SignalType: issue.Spec.SignalType, Severity: issue.Spec.Severity, ResourceKind: issue.Spec.Resource.Kind},
			Origin:      platformv1alpha1.RunbookGenerated,
		},
	}
	for i, a := range steps {
		stepName := fmt.Sprintf("%d-%s", i+1, a.Type)
		for _, sa := range insight.Status.SuggestedActions {
			if sa.Action == a.Type && sa.Name != "" && maps.Equal(sa.Params, a.Params) {
				stepName = sa.Name
				break
			}
		}
		rb.Spec.Steps = append(rb.Spec.Steps, platformv1alpha1.RunbookStep{Name: stepName, Action: a.Type, Params: maps.Clone(a.Params)})
	}
	if err := s.Client.Create(ctx, rb); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, apiError("create runbook "+name, err)
	}
	return rb, nil
}

// heldBefore is false when the Issue recurs an earlier Issue (the
// correlator's status.recurrenceOf) that a Completed plan of the Runbook
// resolved: that fix did not hold for this resource.
func (s *Server) heldBefore(ctx context.Context, issue *platformv1alpha1.Issue, runbook string) (bool, error) {
	if issue.Status.RecurrenceOf == nil {
		return true, nil
	}
	plans := &platformv1alpha1.RemediationPlanList{}
	if err := s.Reader.List(ctx, plans, client.InNamespace(issue.Namespace), client.MatchingLabels{platformv1alpha1.LabelIssue: issue.Status.RecurrenceOf.Name}); err != nil {
		return false, apiError("list plans", err)
	}
	for _, p := range plans.Items {
		if p.Status.State == platformv1alpha1.PlanCompleted && p.Spec.RunbookRef != nil && p.Spec.RunbookRef.Name == runbook {
			return false, nil
		}
	}
	return true, nil
}

// PlanView is the API view of a plan.
func PlanView(p *platformv1alpha1.RemediationPlan) *remediatorv1.Plan {
	v := &remediatorv1.Plan{
		Name: p.Name, Namespace: p.Namespace,
		Issue:    &commonv1.ObjectRef{Namespace: p.Namespace, Name: p.Spec.IssueRef.Name},
		Attempt:  p.Spec.Attempt,
		Strategy: p.Spec.Strategy,
		State:    planState(p.Status.State),
		Result:   p.Status.Result,
		Uid:      string(p.UID), Generation: p.Generation,
		ApprovalRequired: p.Spec.Approval != nil && p.Spec.Approval.Required,
	}
	switch {
	case p.Spec.AgenticMode:
		v.Source = remediatorv1.PlanSource_PLAN_SOURCE_AGENTIC
	case p.Labels[platformv1alpha1.LabelPlanSource] == platformv1alpha1.PlanSourceAIActions:
		v.Source = remediatorv1.PlanSource_PLAN_SOURCE_AI_ACTIONS
	case p.Labels[platformv1alpha1.LabelPlanSource] == platformv1alpha1.PlanSourceRunbook:
		v.Source = remediatorv1.PlanSource_PLAN_SOURCE_RUNBOOK
	}
	if p.Spec.RunbookRef != nil {
		v.RunbookName = p.Spec.RunbookRef.Name
	} else if rb := p.Annotations[platformv1alpha1.AnnotationRunbook]; rb != "" {
		v.RunbookName = rb
	}
	for _, a := range p.Spec.Actions {
		v.Actions = append(v.Actions, &commonv1.Action{Type: string(a.Type), Params: maps.Clone(a.Params)})
	}
	for _, r := range p.Status.ActionResults {
		ea := &commonv1.ExecutedAction{Action: &commonv1.Action{Type: string(r.Type), Params: maps.Clone(r.Params)}, Result: string(r.Result), Message: r.Message}
		if r.Timestamp != nil {
			ea.Timestamp = timestamppb.New(r.Timestamp.Time)
		}
		v.ActionResults = append(v.ActionResults, ea)
	}
	if !p.CreationTimestamp.IsZero() {
		v.CreatedAt = timestamppb.New(p.CreationTimestamp.Time)
	}
	if p.Status.CompletedAt != nil {
		v.CompletedAt = timestamppb.New(p.Status.CompletedAt.Time)
	}
	return v
}

func planState(s platformv1alpha1.PlanState) remediatorv1.PlanState {
	switch s {
	case platformv1alpha1.PlanPending, "":
		return remediatorv1.PlanState_PLAN_STATE_PENDING
	case platformv1alpha1.PlanWaitingApproval:
		return remediatorv1.PlanState_PLAN_STATE_WAITING_APPROVAL
	case platformv1alpha1.PlanExecuting:
		return remediatorv1.PlanState_PLAN_STATE_EXECUTING
	case platformv1alpha1.PlanVerifying:
		return remediatorv1.PlanState_PLAN_STATE_VERIFYING
	case platformv1alpha1.PlanCompleted:
		return remediatorv1.PlanState_PLAN_STATE_COMPLETED
	case platformv1alpha1.PlanFailed:
		return remediatorv1.PlanState_PLAN_STATE_FAILED
	case platformv1alpha1.PlanRolledBack:
		return remediatorv1.PlanState_PLAN_STATE_ROLLED_BACK
	}
	return remediatorv1.PlanState_PLAN_STATE_UNSPECIFIED
}
