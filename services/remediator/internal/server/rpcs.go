package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/grpcx"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	"github.com/chatcli/aiops/services/remediator/internal/audit"
	"github.com/chatcli/aiops/services/remediator/internal/policy"
)

// ReasonPlanNotWaitingApproval (FailedPrecondition): the plan was decided
// otherwise, or is past approval.
const ReasonPlanNotWaitingApproval = "PLAN_NOT_WAITING_APPROVAL"

func toActions(in []*commonv1.Action) []platformv1alpha1.RemediationAction {
	out := make([]platformv1alpha1.RemediationAction, 0, len(in))
	for _, a := range in {
		out = append(out, platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionType(a.GetType()), Params: maps.Clone(a.GetParams())})
	}
	return out
}

func toTarget(r *commonv1.ResourceRef) platformv1alpha1.ResourceReference {
	return platformv1alpha1.ResourceReference{Kind: r.GetKind(), Namespace: r.GetNamespace(), Name: r.GetName(), UID: types.UID(r.GetUid())}
}

func verdict(v policy.Verdict) remediatorv1.Verdict {
	if v.Allowed {
		return remediatorv1.Verdict_VERDICT_ALLOWED
	}
	return remediatorv1.Verdict_VERDICT_DENIED
}

func reasons(v policy.Verdict) []string {
	switch {
	case !v.Allowed:
		return []string{string(v.Rule) + ": " + v.Reason}
	case v.ApprovalRequired:
		return []string{string(v.ApprovalRule) + ": " + v.Reason}
	}
	return nil
}

// ValidatePlan runs the policy over the actions without spending.
func (s *Server) ValidatePlan(ctx context.Context, req *remediatorv1.ValidatePlanRequest) (*remediatorv1.ValidatePlanResponse, error) {
	if req.GetTarget().GetKind() == "" || req.GetTarget().GetName() == "" || len(req.GetActions()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "a target and at least one action are required")
	}
	target, acts := toTarget(req.GetTarget()), toActions(req.GetActions())
	resp := &remediatorv1.ValidatePlanResponse{Allowed: true}
	for i, a := range acts {
		v, err := s.Policy.Decide(ctx, "grpc:ValidatePlan", a, target, policy.Plan{Name: "validate", Namespace: target.Namespace, Index: int32(i), Actions: acts}, policy.Check)
		if err != nil {
			return nil, apiError("policy", err)
		}
		resp.Allowed = resp.Allowed && v.Allowed
		resp.Verdicts = append(resp.Verdicts, &remediatorv1.ActionVerdict{
			Index: int32(i), Action: req.GetActions()[i], Verdict: verdict(v), Reasons: reasons(v), ApprovalRequired: v.ApprovalRequired,
		})
	}
	return resp, nil
}

// ListActions returns the catalogue.
func (s *Server) ListActions(_ context.Context, req *remediatorv1.ListActionsRequest) (*remediatorv1.ListActionsResponse, error) {
	resp := &remediatorv1.ListActionsResponse{}
	for _, spec := range actions.Catalogue() {
		if req.GetTargetKind() != "" && spec.TargetKind != req.GetTargetKind() {
			continue
		}
		as := &remediatorv1.ActionSpec{Type: string(spec.Type), TargetKind: spec.TargetKind, Description: spec.Description}
		if !spec.Implemented {
			as.Description += " (not implemented: the policy refuses it)"
		}
		for _, p := range spec.Params {
			as.Params = append(as.Params, &remediatorv1.ParamSpec{Name: p.Name, Required: p.Required, Description: paramDescription(p)})
		}
		resp.Actions = append(resp.Actions, as)
	}
	return resp, nil
}

func paramDescription(p actions.ParamSpec) string {
	d := p.Description + " (" + string(p.Type)
	switch p.Type {
	case actions.TypeInt:
		d += fmt.Sprintf(", %d to %d", p.Min, p.Max)
	case actions.TypeEnum:
		d += fmt.Sprintf(", one of %v", p.Enum)
	}
	return d + ")"
}

// DryRun runs each allowed action as a server-side dry-run.
func (s *Server) DryRun(ctx context.Context, req *remediatorv1.DryRunRequest) (*remediatorv1.DryRunResponse, error) {
	var target platformv1alpha1.ResourceReference
	var acts []platformv1alpha1.RemediationAction
	plan := policy.Plan{Name: "dry-run"}
	switch src := req.GetSource().(type) {
	case *remediatorv1.DryRunRequest_Plan:
		if src.Plan.GetNamespace() == "" || src.Plan.GetName() == "" {
			return nil, status.Error(codes.InvalidArgument, "the plan reference needs a namespace and a name")
		}
		p := &platformv1alpha1.RemediationPlan{}
		if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: src.Plan.Namespace, Name: src.Plan.Name}, p); err != nil {
			return nil, apiError("plan", err)
		}
		if p.Status.ResolvedTarget != nil {
			target = *p.Status.ResolvedTarget
		} else {
			issue := &platformv1alpha1.Issue{}
			if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.IssueRef.Name}, issue); err != nil {
				return nil, apiError("the plan's Issue", err)
			}
			target = issue.Spec.Resource
		}
		acts = p.Spec.Actions
		plan = policy.Plan{Name: p.Name, Namespace: p.Namespace, Issue: p.Spec.IssueRef.Name, UID: p.UID, Actions: acts}
	case *remediatorv1.DryRunRequest_Inline:
		if src.Inline.GetTarget().GetName() == "" || len(src.Inline.GetActions()) == 0 {
			return nil, status.Error(codes.InvalidArgument, "an inline plan needs a target and actions")
		}
		target, acts = toTarget(src.Inline.GetTarget()), toActions(src.Inline.GetActions())
		plan.Namespace, plan.Actions = target.Namespace, acts
	default:
		return nil, status.Error(codes.InvalidArgument, "a plan or an inline plan is required")
	}
	resp := &remediatorv1.DryRunResponse{}
	for i, a := range acts {
		plan.Index = int32(i)
		r := &remediatorv1.DryRunResult{Index: int32(i), Action: &commonv1.Action{Type: string(a.Type), Params: maps.Clone(a.Params)}}
		v, err := s.Policy.Decide(ctx, "grpc:DryRun", a, target, plan, policy.Check)
		if err != nil {
			return nil, apiError("policy", err)
		}
		r.Verdict = verdict(v)
		if !v.Allowed {
			r.Message = string(v.Rule) + ": " + v.Reason
			resp.Results = append(resp.Results, r)
			continue
		}
		areq := actions.Request{Target: target, Action: a, Key: fmt.Sprintf("dry-run/%d", i), DryRun: true, Plan: plan.UID}
		out, err := s.dryRun(ctx, areq)
		if err != nil {
			if errors.Is(err, actions.ErrTargetMissing) {
				return nil, status.Errorf(codes.NotFound, "%v", err)
			}
			r.Message = err.Error()
		} else {
			r.Succeeded, r.Message, r.ChangedObjects = true, out.Message, out.Changed
			if d := actions.UnifiedDiff(out.Before, out.After); d != "" {
				r.Message += "\n" + d
			}
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}

func (s *Server) dryRun(ctx context.Context, req actions.Request) (actions.Outcome, error) {
	snap, err := s.Executor.Snapshot(ctx, req)
	if err != nil {
		return actions.Outcome{}, err
	}
	return s.Executor.Apply(ctx, req, snap)
}

// Decision is the value of AnnotationApprovalDecision.
type Decision struct {
	Decision   string    `json:"decision"`
	By         string    `json:"by"`
	Reason     string    `json:"reason,omitempty"`
	UID        types.UID `json:"uid"`
	Generation int64     `json:"generation"`
	At         time.Time `json:"at"`
}

// Decision values.
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
)

// ParseDecision reads a plan's decision annotation; nil when there is none.
func ParseDecision(p *platformv1alpha1.RemediationPlan) (*Decision, error) {
	raw, ok := p.Annotations[platformv1alpha1.AnnotationApprovalDecision]
	if !ok {
		return nil, nil
	}
	d := &Decision{}
	if err := json.Unmarshal([]byte(raw), d); err != nil {
		return nil, fmt.Errorf("annotation %s: %w", platformv1alpha1.AnnotationApprovalDecision, err)
	}
	if d.Decision != DecisionApprove && d.Decision != DecisionReject || d.By == "" {
		return nil, fmt.Errorf("annotation %s: decision must be approve or reject, with by", platformv1alpha1.AnnotationApprovalDecision)
	}
	return d, nil
}

// ApprovePlan records an approval for the reconciler.
func (s *Server) ApprovePlan(ctx context.Context, req *remediatorv1.ApprovePlanRequest) (*remediatorv1.ApprovePlanResponse, error) {
	p, err := s.decide(ctx, req.GetPlan(), req.GetPlanUid(), req.GetPlanGeneration(), req.GetApprover(), req.GetReason(), DecisionApprove)
	if err != nil {
		return nil, err
	}
	return &remediatorv1.ApprovePlanResponse{Plan: PlanView(p)}, nil
}

// RejectPlan records a rejection for the reconciler.
func (s *Server) RejectPlan(ctx context.Context, req *remediatorv1.RejectPlanRequest) (*remediatorv1.RejectPlanResponse, error) {
	p, err := s.decide(ctx, req.GetPlan(), req.GetPlanUid(), req.GetPlanGeneration(), req.GetRejecter(), req.GetReason(), DecisionReject)
	if err != nil {
		return nil, err
	}
	return &remediatorv1.RejectPlanResponse{Plan: PlanView(p)}, nil
}

func (s *Server) decide(ctx context.Context, ref *commonv1.ObjectRef, uid string, generation int64, who, reason, decision string) (*platformv1alpha1.RemediationPlan, error) {
	if ref.GetNamespace() == "" || ref.GetName() == "" || uid == "" || who == "" || generation < 1 {
		return nil, status.Error(codes.InvalidArgument, "plan namespace and name, plan_uid, the person and a plan_generation of at least 1 are required")
	}
	if len(who) > 512 || len(reason) > 1024 {
		return nil, status.Error(codes.InvalidArgument, "the person is at most 512 characters and the reason at most 1024")
	}
	p := &platformv1alpha1.RemediationPlan{}
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, p); err != nil {
		return nil, apiError("plan", err)
	}
	if string(p.UID) != uid || p.Generation != generation {
		return nil, failed(grpcx.ReasonApprovalStale, "the plan was re-created or changed since it was read: read it again and decide again",
			map[string]string{"uid": string(p.UID), "generation": fmt.Sprint(p.Generation)})
	}
	prev, err := ParseDecision(p)
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "%v", err)
	}
	if prev != nil {
		if prev.Decision == decision && prev.UID == p.UID && prev.Generation == generation {
			return p, nil // repeated: recorded already
		}
		return nil, failed(ReasonPlanNotWaitingApproval, "the plan was already "+prev.Decision+"d by "+prev.By, nil)
	}
	if a := p.Status.Approval; a != nil && (a.ApprovedAt != nil || a.RejectedAt != nil) {
		return nil, failed(ReasonPlanNotWaitingApproval, "the plan is decided", nil)
	}
	if p.Status.State != platformv1alpha1.PlanWaitingApproval {
		return nil, failed(ReasonPlanNotWaitingApproval, "the plan is "+string(p.Status.State)+", not WaitingApproval", map[string]string{"state": string(p.Status.State)})
	}
	raw, _ := json.Marshal(Decision{Decision: decision, By: who, Reason: reason, UID: p.UID, Generation: generation, At: time.Now().UTC()})
	before := p.DeepCopy()
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[platformv1alpha1.AnnotationApprovalDecision] = string(raw)
	// The lock makes a concurrent opposite decision lose, not overwrite.
	if err := s.Client.Patch(ctx, p, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) {
			return nil, failed(grpcx.ReasonApprovalStale, "the plan changed while deciding: read it again", nil)
		}
		return nil, apiError("annotate plan", err)
	}
	s.Audit.Record(audit.Event{Kind: audit.KindApproval, Actor: who, Plan: p.Namespace + "/" + p.Name, Issue: p.Spec.IssueRef.Name, Result: decision + "_requested", Detail: reason})
	return p, nil
}

// PromoteRunbook turns a completed plan into a Runbook named, like a
// generated one, from its trigger and steps: promoting the same actions
// twice finds the Runbook made the first time.
func (s *Server) PromoteRunbook(ctx context.Context, req *remediatorv1.PromoteRunbookRequest) (*remediatorv1.PromoteRunbookResponse, error) {
	ref := req.GetPlan()
	if ref.GetNamespace() == "" || ref.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "the plan namespace and name are required")
	}
	p := &platformv1alpha1.RemediationPlan{}
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, p); err != nil {
		return nil, apiError("plan", err)
	}
	if p.Status.State != platformv1alpha1.PlanCompleted {
		return nil, status.Errorf(codes.FailedPrecondition, "the plan is %s, not Completed", p.Status.State)
	}
	steps := PlanActionsTaken(p)
	if len(steps) == 0 {
		return nil, status.Error(codes.FailedPrecondition, "the plan has no actions")
	}
	issue := &platformv1alpha1.Issue{}
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.IssueRef.Name}, issue); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, status.Error(codes.FailedPrecondition, "the plan's Issue is gone, so its trigger is unknown")
		}
		return nil, apiError("issue", err)
	}
	name := GeneratedRunbookName(issue, steps)
	existing := &platformv1alpha1.Runbook{}
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: name}, existing); err == nil {
		return &remediatorv1.PromoteRunbookResponse{RunbookName: name, Created: false}, nil
	} else if !apierrors.IsNotFound(err) {
		return nil, apiError("runbook", err)
	}
	rb := &platformv1alpha1.Runbook{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: name, Labels: map[string]string{platformv1alpha1.LabelRunbookGenerated: "true"}},
		Spec: platformv1alpha1.RunbookSpec{
			Description:  "Promoted from the successful plan " + p.Name,
			Trigger:      platformv1alpha1.RunbookTrigger{SignalType: issue.Spec.SignalType, Severity: issue.Spec.Severity, ResourceKind: issue.Spec.Resource.Kind},
			Origin:       platformv1alpha1.RunbookGenerated,
			PromotedFrom: &platformv1alpha1.LocalObjectReference{Name: p.Name},
		},
	}
	for i, a := range steps {
		rb.Spec.Steps = append(rb.Spec.Steps, platformv1alpha1.RunbookStep{Name: fmt.Sprintf("%d-%s", i+1, a.Type), Action: a.Type, Params: maps.Clone(a.Params)})
	}
	if err := s.Client.Create(ctx, rb); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return &remediatorv1.PromoteRunbookResponse{RunbookName: name}, nil
		}
		return nil, apiError("create runbook", err)
	}
	return &remediatorv1.PromoteRunbookResponse{RunbookName: name, Created: true}, nil
}

// PlanActionsTaken are the actions that succeeded: spec.actions for a
// standard plan, the steps' actions for an agentic one.
func PlanActionsTaken(p *platformv1alpha1.RemediationPlan) []platformv1alpha1.RemediationAction {
	var out []platformv1alpha1.RemediationAction
	for _, r := range p.Status.ActionResults {
		if r.Result == platformv1alpha1.ActionSucceeded {
			out = append(out, platformv1alpha1.RemediationAction{Type: r.Type, Params: maps.Clone(r.Params)})
		}
	}
	return out
}
