// Package grpcserver serves PostMortemService: it reads PostMortems through
// the cache and renders them, and records review requests as annotations
// for the leader's reconciler to apply. It never writes status (it is
// given the Runtime's HandlerClient, which refuses to).
package grpcserver

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	postmortemv1 "github.com/chatcli/aiops/proto/chatcli/platform/postmortem/v1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/reconcilers/postmortem"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/report"
)

// ReasonReviewTransitionRefused (FailedPrecondition): the review cannot
// move to the asked state from where it is (it goes Open, InReview,
// Closed), the report is not written yet, or another request is pending;
// metadata "state" is the current state.
const ReasonReviewTransitionRefused = "REVIEW_TRANSITION_REFUSED"

// List bounds.
const (
	defaultPageSize = 100
	maxPageSize     = 500
)

// Server implements PostMortemService. Client is the Runtime's
// HandlerClient; Reader, optional, reads uncached (the manager's
// APIReader), so that a review is decided on the object as stored; Now
// stamps review requests.
type Server struct {
	postmortemv1.UnimplementedPostMortemServiceServer
	Client client.Client
	Reader client.Reader
	Now    func() time.Time
}

// GetPostMortem returns one post-mortem.
func (s *Server) GetPostMortem(ctx context.Context, req *postmortemv1.GetPostMortemRequest) (*postmortemv1.GetPostMortemResponse, error) {
	pm, err := s.get(ctx, req.GetRef())
	if err != nil {
		return nil, err
	}
	return &postmortemv1.GetPostMortemResponse{PostMortem: ToProto(pm)}, nil
}

// RenderPostMortem renders one written post-mortem as Markdown.
func (s *Server) RenderPostMortem(ctx context.Context, req *postmortemv1.RenderPostMortemRequest) (*postmortemv1.RenderPostMortemResponse, error) {
	pm, err := s.get(ctx, req.GetRef())
	if err != nil {
		return nil, err
	}
	if pm.Status.GeneratedAt == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "PostMortem %s/%s is not written yet", pm.Namespace, pm.Name)
	}
	return &postmortemv1.RenderPostMortemResponse{Markdown: report.Render(pm)}, nil
}

// ListPostMortems lists post-mortems, newest first.
func (s *Server) ListPostMortems(ctx context.Context, req *postmortemv1.ListPostMortemsRequest) (*postmortemv1.ListPostMortemsResponse, error) {
	var state platformv1alpha1.PostMortemState
	if req.GetState() != postmortemv1.PostMortemState_POST_MORTEM_STATE_UNSPECIFIED {
		var ok bool
		if state, ok = fromProtoState(req.GetState()); !ok {
			return nil, status.Errorf(codes.InvalidArgument, "unknown state %v", req.GetState())
		}
	}
	severity := platformv1alpha1.Severity(req.GetSeverity())
	if severity != "" && !severity.IsValid() {
		return nil, status.Errorf(codes.InvalidArgument, "severity %q is not one of critical, high, medium, low", severity)
	}
	offset := 0
	if tok := req.GetPageToken(); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return nil, status.Error(codes.InvalidArgument, "bad page token")
		}
		offset = n
	}
	size := int(req.GetPageSize())
	if size <= 0 {
		size = defaultPageSize
	}
	size = min(size, maxPageSize)

	for name, v := range map[string]string{"issue_name": req.GetIssueName(), "signal_type": req.GetSignalType()} {
		if errs := validation.IsValidLabelValue(v); v != "" && len(errs) > 0 {
			return nil, status.Errorf(codes.InvalidArgument, "%s %q: %s", name, v, strings.Join(errs, "; "))
		}
	}
	opts := []client.ListOption{}
	if ns := req.GetNamespace(); ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	labels := client.MatchingLabels{}
	if v := req.GetIssueName(); v != "" {
		labels[platformv1alpha1.LabelIssue] = v
	}
	if v := req.GetSignalType(); v != "" {
		labels[platformv1alpha1.LabelSignalType] = v
	}
	opts = append(opts, labels)
	list := &platformv1alpha1.PostMortemList{}
	if err := s.Client.List(ctx, list, opts...); err != nil {
		return nil, status.Errorf(codes.Unavailable, "list PostMortems: %v", err)
	}
	items := slices.DeleteFunc(list.Items, func(pm platformv1alpha1.PostMortem) bool {
		return state != "" && effectiveState(&pm) != state ||
			severity != "" && pm.Spec.Severity != severity ||
			req.GetResourceKind() != "" && pm.Spec.Resource.Kind != req.GetResourceKind() ||
			req.GetResourceName() != "" && pm.Spec.Resource.Name != req.GetResourceName()
	})
	slices.SortFunc(items, func(a, b platformv1alpha1.PostMortem) int {
		return cmp.Or(b.CreationTimestamp.Compare(a.CreationTimestamp.Time), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	resp := &postmortemv1.ListPostMortemsResponse{}
	if offset >= len(items) {
		return resp, nil
	}
	end := min(offset+size, len(items))
	for i := offset; i < end; i++ {
		resp.PostMortems = append(resp.PostMortems, ToProto(&items[i]))
	}
	if end < len(items) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	return resp, nil
}

// TransitionPostMortem records a review request on the PostMortem.
func (s *Server) TransitionPostMortem(ctx context.Context, req *postmortemv1.TransitionPostMortemRequest) (*postmortemv1.TransitionPostMortemResponse, error) {
	want, ok := fromProtoState(req.GetState())
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "state %v is not a review state: IN_REVIEW or CLOSED", req.GetState())
	}
	if utf8.RuneCountInString(req.GetNote()) > 1024 || len(req.GetActor()) > 512 {
		return nil, status.Error(codes.InvalidArgument, "note is at most 1024 characters and actor at most 512")
	}
	// A conflict means the reconciler wrote meanwhile: decide again on
	// the fresh object, a few times.
	for range 3 {
		resp, err := s.transition(ctx, req, want)
		if status.Code(err) != codes.Aborted {
			return resp, err
		}
	}
	return nil, status.Error(codes.Aborted, "the PostMortem kept changing during the call: retry")
}

func (s *Server) transition(ctx context.Context, req *postmortemv1.TransitionPostMortemRequest, want platformv1alpha1.PostMortemState) (*postmortemv1.TransitionPostMortemResponse, error) {
	pm, err := s.getFrom(ctx, s.reader(), req.GetRef())
	if err != nil {
		return nil, err
	}
	current := effectiveState(pm)
	pending := platformv1alpha1.PostMortemState(pm.Annotations[platformv1alpha1.AnnotationReviewState])
	refuse := func(msg string) error {
		return grpcx.Error(codes.FailedPrecondition, ReasonReviewTransitionRefused, msg, map[string]string{"state": string(current)})
	}
	switch {
	case want == current || want == pending:
		return &postmortemv1.TransitionPostMortemResponse{PostMortem: ToProto(pm)}, nil // already there, or already asked
	case pm.Status.GeneratedAt == nil:
		return nil, refuse(fmt.Sprintf("PostMortem %s is not written yet", pm.Name))
	case pending != "" && pending != current:
		return nil, refuse(fmt.Sprintf("a move of PostMortem %s to %s is pending", pm.Name, pending))
	}
	if err := postmortem.CheckTransition(current, want); err != nil {
		return nil, refuse(err.Error())
	}
	actor := strings.TrimSpace(req.GetActor())
	if actor == "" {
		actor = grpcx.PeerIdentity(ctx)
	}
	before := pm.DeepCopy()
	if pm.Annotations == nil {
		pm.Annotations = map[string]string{}
	}
	pm.Annotations[platformv1alpha1.AnnotationReviewState] = string(want)
	pm.Annotations[platformv1alpha1.AnnotationReviewBy] = actor
	pm.Annotations[platformv1alpha1.AnnotationReviewRequestedAt] = s.Now().UTC().Format(time.RFC3339)
	if note := strings.TrimSpace(req.GetNote()); note != "" {
		pm.Annotations[platformv1alpha1.AnnotationReviewNote] = note
	} else {
		delete(pm.Annotations, platformv1alpha1.AnnotationReviewNote)
	}
	// The lock: a request decided against one state must not land on
	// another.
	if err := s.Client.Patch(ctx, pm, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		switch {
		case apierrors.IsConflict(err):
			return nil, status.Error(codes.Aborted, "the PostMortem changed during the call: retry")
		case apierrors.IsNotFound(err):
			return nil, status.Errorf(codes.NotFound, "PostMortem %s/%s not found", pm.Namespace, pm.Name)
		}
		return nil, status.Errorf(codes.Unavailable, "record the review request: %v", err)
	}
	return &postmortemv1.TransitionPostMortemResponse{PostMortem: ToProto(pm)}, nil
}

// reader is where a transition reads the PostMortem it decides on.
func (s *Server) reader() client.Reader {
	if s.Reader != nil {
		return s.Reader
	}
	return s.Client
}

// get resolves a reference to a PostMortem, through the cache.
func (s *Server) get(ctx context.Context, ref *postmortemv1.PostMortemRef) (*platformv1alpha1.PostMortem, error) {
	return s.getFrom(ctx, s.Client, ref)
}

func (s *Server) getFrom(ctx context.Context, c client.Reader, ref *postmortemv1.PostMortemRef) (*platformv1alpha1.PostMortem, error) {
	var key client.ObjectKey
	switch {
	case ref.GetPostMortem() != nil:
		key = client.ObjectKey{Namespace: ref.GetPostMortem().GetNamespace(), Name: ref.GetPostMortem().GetName()}
	case ref.GetIssue() != nil:
		key = client.ObjectKey{Namespace: ref.GetIssue().GetNamespace(), Name: report.PostMortemName(ref.GetIssue().GetName())}
		if ref.GetIssue().GetName() == "" {
			key.Name = ""
		}
	}
	if key.Namespace == "" || key.Name == "" {
		return nil, status.Error(codes.InvalidArgument, "ref needs the namespace and name of a PostMortem or of an Issue")
	}
	pm := &platformv1alpha1.PostMortem{}
	if err := c.Get(ctx, key, pm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, status.Errorf(codes.NotFound, "PostMortem %s not found", key)
		}
		return nil, status.Errorf(codes.Unavailable, "get PostMortem %s: %v", key, err)
	}
	return pm, nil
}

// effectiveState is the review state, Open before the report sets one.
func effectiveState(pm *platformv1alpha1.PostMortem) platformv1alpha1.PostMortemState {
	return cmp.Or(pm.Status.State, platformv1alpha1.PostMortemOpen)
}

func fromProtoState(s postmortemv1.PostMortemState) (platformv1alpha1.PostMortemState, bool) {
	switch s {
	case postmortemv1.PostMortemState_POST_MORTEM_STATE_OPEN:
		return platformv1alpha1.PostMortemOpen, true
	case postmortemv1.PostMortemState_POST_MORTEM_STATE_IN_REVIEW:
		return platformv1alpha1.PostMortemInReview, true
	case postmortemv1.PostMortemState_POST_MORTEM_STATE_CLOSED:
		return platformv1alpha1.PostMortemClosed, true
	}
	return "", false
}

func toProtoState(s platformv1alpha1.PostMortemState) postmortemv1.PostMortemState {
	switch s {
	case platformv1alpha1.PostMortemOpen:
		return postmortemv1.PostMortemState_POST_MORTEM_STATE_OPEN
	case platformv1alpha1.PostMortemInReview:
		return postmortemv1.PostMortemState_POST_MORTEM_STATE_IN_REVIEW
	case platformv1alpha1.PostMortemClosed:
		return postmortemv1.PostMortemState_POST_MORTEM_STATE_CLOSED
	}
	return postmortemv1.PostMortemState_POST_MORTEM_STATE_UNSPECIFIED
}

// ToProto is the API view of a PostMortem.
func ToProto(pm *platformv1alpha1.PostMortem) *postmortemv1.PostMortem {
	st := &pm.Status
	res := pm.Spec.Resource
	out := &postmortemv1.PostMortem{
		Name: pm.Name, Namespace: pm.Namespace,
		Issue:             &commonv1.ObjectRef{Namespace: pm.Namespace, Name: pm.Spec.IssueRef.Name},
		IncidentId:        pm.Spec.IncidentID,
		Resource:          &commonv1.ResourceRef{Kind: res.Kind, Name: res.Name, Namespace: res.Namespace, Uid: string(res.UID)},
		Severity:          string(pm.Spec.Severity),
		State:             toProtoState(effectiveState(pm)),
		Summary:           st.Summary,
		RootCause:         st.RootCause,
		Impact:            st.Impact,
		LessonsLearned:    st.LessonsLearned,
		PreventionActions: st.PreventionActions,
		SignalType:        pm.Labels[platformv1alpha1.LabelSignalType],
		Ready:             meta.IsStatusConditionTrue(st.Conditions, platformv1alpha1.PostMortemReadyCondition),
	}
	if st.Duration != nil {
		out.Duration = st.Duration.Duration.String()
	}
	if st.GeneratedAt != nil {
		out.GeneratedAt = timestamppb.New(st.GeneratedAt.Time)
	}
	if pm.Spec.InsightRef != nil {
		out.InsightName = pm.Spec.InsightRef.Name
	}
	for _, p := range pm.Spec.PlanRefs {
		out.PlanNames = append(out.PlanNames, p.Name)
	}
	if st.RunbookRef != nil {
		out.RunbookName = st.RunbookRef.Name
	}
	for _, e := range st.Timeline {
		out.Timeline = append(out.Timeline, &commonv1.TimelineEntry{Timestamp: timestamppb.New(e.Timestamp.Time), Type: e.Type, Detail: e.Detail})
	}
	for _, a := range st.ActionsExecuted {
		ea := &commonv1.ExecutedAction{Action: &commonv1.Action{Type: string(a.Action), Params: a.Params}, Result: string(a.Result)}
		if a.Timestamp != nil {
			ea.Timestamp = timestamppb.New(a.Timestamp.Time)
		}
		out.ActionsExecuted = append(out.ActionsExecuted, ea)
	}
	for _, r := range st.Reviews {
		out.Reviews = append(out.Reviews, &postmortemv1.Review{State: toProtoState(r.State), By: r.By, At: timestamppb.New(r.At.Time), Note: r.Note})
	}
	if rec := st.Recurrence; rec != nil {
		pr := &postmortemv1.Recurrence{Count: rec.Count}
		if rec.Window != nil {
			pr.Window = rec.Window.Duration.String()
		}
		for _, p := range rec.PostMortems {
			pr.PostMortems = append(pr.PostMortems, &commonv1.ObjectRef{Namespace: p.Namespace, Name: p.Name})
		}
		out.Recurrence = pr
	}
	return out
}
