package incidents

import (
	"context"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
)

// request is one kind of request a person makes of an Issue, recorded as
// three annotations: who, when and why.
type request struct {
	verb                 string
	byKey, atKey, whyKey string
	// fulfilled reports an Issue the request has nothing left to do for,
	// which is returned unchanged.
	fulfilled func(*platformv1alpha1.Issue) bool
	// refuse returns the FailedPrecondition that keeps the request from
	// being recorded, or nil.
	refuse func(*Server, context.Context, *platformv1alpha1.Issue) error
}

var (
	acknowledge = request{
		verb: "acknowledge", byKey: platformv1alpha1.AnnotationAcknowledgedBy,
		atKey: platformv1alpha1.AnnotationAcknowledgedAt, whyKey: platformv1alpha1.AnnotationAcknowledgeReason,
		fulfilled: func(*platformv1alpha1.Issue) bool { return false },
		refuse:    func(_ *Server, _ context.Context, issue *platformv1alpha1.Issue) error { return refuseResolved(issue) },
	}
	resolve = request{
		verb: "resolve", byKey: platformv1alpha1.AnnotationResolveRequestedBy,
		atKey: platformv1alpha1.AnnotationResolveRequestedAt, whyKey: platformv1alpha1.AnnotationResolveReason,
		fulfilled: func(issue *platformv1alpha1.Issue) bool { return issue.Status.State == platformv1alpha1.IssueResolved },
		refuse:    (*Server).refusePlanInProgress,
	}
	escalate = request{
		verb: "escalate", byKey: platformv1alpha1.AnnotationEscalateRequestedBy,
		atKey: platformv1alpha1.AnnotationEscalateRequestedAt, whyKey: platformv1alpha1.AnnotationEscalateReason,
		fulfilled: func(issue *platformv1alpha1.Issue) bool { return issue.Status.State == platformv1alpha1.IssueEscalated },
		refuse: func(_ *Server, _ context.Context, issue *platformv1alpha1.Issue) error {
			if err := refuseResolved(issue); err != nil {
				return err
			}
			if by := issue.Annotations[platformv1alpha1.AnnotationResolveRequestedBy]; by != "" {
				return grpcx.Error(codes.FailedPrecondition, grpcx.ReasonResolveRequested,
					fmt.Sprintf("Issue %s/%s has a resolve request (by %s)", issue.Namespace, issue.Name, by), nil)
			}
			return nil
		},
	}
)

func refuseResolved(issue *platformv1alpha1.Issue) error {
	if issue.Status.State == platformv1alpha1.IssueResolved {
		return grpcx.Error(codes.FailedPrecondition, grpcx.ReasonIssueResolved,
			fmt.Sprintf("Issue %s/%s is Resolved", issue.Namespace, issue.Name), nil)
	}
	return nil
}

// refusePlanInProgress refuses to resolve an Issue while one of its plans
// acts on the resource: resolving it then would clear the dedup keys under
// a running remediation.
func (s *Server) refusePlanInProgress(ctx context.Context, issue *platformv1alpha1.Issue) error {
	plans, err := s.plansOf(ctx, s.fresh, issue)
	if err != nil {
		return err
	}
	for _, p := range plans {
		if slices.Contains(planInProgress, p.Status.State) {
			return grpcx.Error(codes.FailedPrecondition, grpcx.ReasonPlanInProgress,
				fmt.Sprintf("RemediationPlan %s of Issue %s is %s: wait for it to end, or reject it first", p.Name, issue.Name, p.Status.State),
				map[string]string{"plan": p.Name, "state": string(p.Status.State)})
		}
	}
	return nil
}

// AcknowledgeIssue records that a person has taken up an incident.
func (s *Server) AcknowledgeIssue(ctx context.Context, req *correlatorv1.AcknowledgeIssueRequest) (*correlatorv1.AcknowledgeIssueResponse, error) {
	inc, err := s.record(ctx, acknowledge, req.GetIssue(), req.GetRequester(), req.GetReason())
	if err != nil {
		return nil, err
	}
	return &correlatorv1.AcknowledgeIssueResponse{Incident: inc}, nil
}

// ResolveIssue records a request to resolve an incident by hand.
func (s *Server) ResolveIssue(ctx context.Context, req *correlatorv1.ResolveIssueRequest) (*correlatorv1.ResolveIssueResponse, error) {
	inc, err := s.record(ctx, resolve, req.GetIssue(), req.GetRequester(), req.GetReason())
	if err != nil {
		return nil, err
	}
	return &correlatorv1.ResolveIssueResponse{Incident: inc}, nil
}

// EscalateIssue records a request to escalate an incident now.
func (s *Server) EscalateIssue(ctx context.Context, req *correlatorv1.EscalateIssueRequest) (*correlatorv1.EscalateIssueResponse, error) {
	inc, err := s.record(ctx, escalate, req.GetIssue(), req.GetRequester(), req.GetReason())
	if err != nil {
		return nil, err
	}
	return &correlatorv1.EscalateIssueResponse{Incident: inc}, nil
}

// conflictBackoff retries a request whose Issue changed between the read
// and the patch; each retry reads the Issue again.
var conflictBackoff = wait.Backoff{Steps: 6, Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.2}

func validateRequest(requester, reason string) error {
	switch {
	case requester == "":
		return grpcx.Error(codes.InvalidArgument, "", "requester is empty", nil)
	case len(requester) > MaxRequesterBytes:
		return grpcx.Error(codes.InvalidArgument, "", fmt.Sprintf("requester is longer than %d bytes", MaxRequesterBytes), nil)
	case len(reason) > MaxReasonBytes:
		return grpcx.Error(codes.InvalidArgument, "", fmt.Sprintf("reason is longer than %d bytes", MaxReasonBytes), nil)
	case !utf8.ValidString(requester) || !utf8.ValidString(reason):
		return grpcx.Error(codes.InvalidArgument, "", "requester and reason must be UTF-8", nil)
	}
	return nil
}

// record writes req's annotations on the Issue, once: a request already
// recorded, or one the Issue's state has made moot, returns the Issue
// unchanged. The patch is optimistically locked, so of two requests at
// once one is recorded and the other sees it on its retry.
func (s *Server) record(ctx context.Context, req request, ref *commonv1.ObjectRef, requester, reason string) (*correlatorv1.Incident, error) {
	key, err := issueKey(ref)
	if err != nil {
		return nil, err
	}
	if err := validateRequest(requester, reason); err != nil {
		return nil, err
	}
	var out *correlatorv1.Incident
	var failure error
	err = wait.ExponentialBackoffWithContext(ctx, conflictBackoff, func(ctx context.Context) (bool, error) {
		issue := &platformv1alpha1.Issue{}
		if err := s.fresh.Get(ctx, key, issue); err != nil {
			return false, apiError(err, "read Issue "+key.String())
		}
		if issue.Annotations[req.byKey] != "" || req.fulfilled(issue) {
			out = IncidentFromIssue(issue)
			return true, nil
		}
		if err := req.refuse(s, ctx, issue); err != nil {
			return false, err
		}
		patched := issue.DeepCopy()
		if patched.Annotations == nil {
			patched.Annotations = map[string]string{}
		}
		patched.Annotations[req.byKey] = requester
		patched.Annotations[req.atKey] = s.now().UTC().Format(time.RFC3339)
		if reason != "" {
			patched.Annotations[req.whyKey] = reason
		}
		err := s.writer.Patch(ctx, patched, client.MergeFromWithOptions(issue, client.MergeFromWithOptimisticLock{}))
		if apierrors.IsConflict(err) {
			failure = err
			return false, nil
		}
		if err != nil {
			return false, apiError(err, "record the "+req.verb+" request on Issue "+key.String())
		}
		out = IncidentFromIssue(patched)
		return true, nil
	})
	if wait.Interrupted(err) && failure != nil {
		return nil, apiError(failure, "record the "+req.verb+" request on Issue "+key.String())
	}
	if err != nil {
		return nil, apiError(err, "record the "+req.verb+" request on Issue "+key.String())
	}
	return out, nil
}
