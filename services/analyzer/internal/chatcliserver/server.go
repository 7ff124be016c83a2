package chatcliserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
	"github.com/chatcli/aiops/services/analyzer/internal/builtin"
)

// server is one Instance's ChatCLI server as an llm.Provider. It answers
// TaskAnalyze only: the request's scrubbed data becomes the fields of a
// chatcli.v1 AnalyzeIssueRequest, and the server's answer becomes the JSON
// the strict parser reads, so nothing the server says skips the checks a
// model's answer gets.
type server struct {
	provider platformv1alpha1.Provider
	instance types.NamespacedName
	client   chatcliv1.ChatCLIServiceClient
}

var _ llm.Provider = (*server)(nil)

// Name is the Instance's provider: the server asks it, and status.provider
// must be one of the enum.
func (s *server) Name() platformv1alpha1.Provider { return s.provider }

// Complete implements llm.Provider.
func (s *server) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	if req.Task != llm.TaskAnalyze {
		return llm.Response{}, fmt.Errorf("the ChatCLI server of %s analyses issues only, not %s: %w", s.instance, req.Task, llm.ErrNotConfigured)
	}
	// The data was rendered and scrubbed by the analysis service; every
	// field sent is taken from it, so nothing unscrubbed leaves.
	doc := &builtin.Document{}
	if err := json.Unmarshal([]byte(req.Untrusted.String()), doc); err != nil {
		return llm.Response{}, fmt.Errorf("read the request data for the ChatCLI server of %s: %w", s.instance, err)
	}
	in := &chatcliv1.AnalyzeIssueRequest{
		IssueName: doc.Issue.Name, Namespace: doc.Issue.Namespace,
		ResourceKind: doc.Issue.ResourceKind, ResourceName: doc.Issue.ResourceName,
		SignalType: doc.Issue.SignalType, Severity: doc.Issue.Severity, Description: doc.Issue.Description,
		RiskScore: doc.Issue.RiskScore, Provider: string(s.provider), Model: req.Model,
		KubernetesContext: doc.KubernetesContext, PreviousFailureContext: doc.PreviousFailure,
	}
	out, err := s.client.AnalyzeIssue(ctx, in)
	if err != nil {
		return llm.Response{}, callError(ctx, err)
	}
	model := out.GetModel()
	if model == "" {
		model = req.Model
	}
	return llm.Response{Text: answerJSON(out), Model: model}, nil
}

// answerJSON is the server's answer in the analysis schema. A confidence
// that is not a number is left out, so the parser refuses the answer
// rather than the encoder dropping it.
func answerJSON(out *chatcliv1.AnalyzeIssueResponse) string {
	a := map[string]any{"analysis": out.GetAnalysis(), "recommendations": out.GetRecommendations()}
	if c := float64(out.GetConfidence()); !math.IsNaN(c) && !math.IsInf(c, 0) {
		// float32 on the wire: 0.87 arrives as 0.8700000047683716.
		a["confidence"] = math.Round(c*1e6) / 1e6
	}
	actions := make([]llm.Action, 0, len(out.GetSuggestedActions()))
	for _, sa := range out.GetSuggestedActions() {
		actions = append(actions, llm.Action{Name: sa.GetName(), Action: sa.GetAction(), Description: sa.GetDescription(), Params: sa.GetParams()})
	}
	a["suggestedActions"] = actions
	return llm.Marshal(a)
}

// callError classifies a failed call like a provider's HTTP failure, so
// that retries, the breaker and the error metrics treat a server as they
// treat a provider. The server's own message is not kept: it is another
// process's text, and the code says what went wrong.
func callError(ctx context.Context, err error) *llm.CallError {
	code := status.Code(err)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = codes.DeadlineExceeded
	}
	kind := llm.KindServer
	switch code {
	case codes.ResourceExhausted:
		kind = llm.KindRateLimited
	case codes.DeadlineExceeded:
		kind = llm.KindTimeout
	case codes.Unauthenticated, codes.PermissionDenied:
		kind = llm.KindAuth
	case codes.InvalidArgument, codes.FailedPrecondition, codes.NotFound, codes.Unimplemented, codes.OutOfRange:
		kind = llm.KindBadRequest
	case codes.Unavailable, codes.Canceled:
		kind = llm.KindNetwork
	}
	return &llm.CallError{Kind: kind, Detail: "chatcli.v1 AnalyzeIssue: " + code.String()}
}
