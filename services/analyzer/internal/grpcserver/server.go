// Package grpcserver serves the analyzer's API (AnalyzerService) and the
// wire-compatible chatcli.v1 ChatCLIService over the analysis Service.
// Handlers write nothing to the API server.
package grpcserver

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/llm"
	"github.com/chatcli/aiops/libs/redisx"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
	"github.com/chatcli/aiops/services/analyzer/internal/analysis"
	"github.com/chatcli/aiops/services/analyzer/internal/validate"
)

// Register serves both APIs of svc on s, with AgenticStep answers cached
// in redis (nil: no cache).
func Register(s grpc.ServiceRegistrar, svc *analysis.Service, redis ...*redisx.Client) {
	srv := &AnalyzerServer{Service: svc}
	if len(redis) > 0 {
		srv.Redis = redis[0]
	}
	analyzerv1.RegisterAnalyzerServiceServer(s, srv)
	chatcliv1.RegisterChatCLIServiceServer(s, &ChatCLICompatServer{Service: svc})
}

// AgenticCacheTTL is how long an agentic step's answer is kept: longer
// than a plan may retry a step (its agentic loop lasts 10 minutes).
const AgenticCacheTTL = 24 * time.Hour

// AnalyzerServer is AnalyzerService.
type AnalyzerServer struct {
	analyzerv1.UnimplementedAnalyzerServiceServer
	Service *analysis.Service
	// Redis caches AgenticStep answers by key, shared by the replicas;
	// nil or unreachable means every call asks the provider.
	Redis *redisx.Client
}

// AnalyzeIssue implements AnalyzerService. Its suggested actions are the
// provider's, bounded but not validated: the AIInsight reconciler
// validates them against the incident and records the refusals.
func (s *AnalyzerServer) AnalyzeIssue(ctx context.Context, req *analyzerv1.AnalyzeIssueRequest) (*analyzerv1.AnalyzeIssueResponse, error) {
	if req.GetIssue() == nil {
		return nil, grpcx.Error(codes.InvalidArgument, "", "issue is required", nil)
	}
	return s.Service.Analyze(ctx, req.GetIssue())
}

// AgenticStep implements AnalyzerService. Answers are cached by key
// (plan, plan uid, step number) in Redis, so that a retried step gets the
// decision already made, with cached=true.
func (s *AnalyzerServer) AgenticStep(ctx context.Context, req *analyzerv1.AgenticStepRequest) (*analyzerv1.AgenticStepResponse, error) {
	step, key := req.GetStep(), req.GetKey()
	switch {
	case step == nil || key == nil || key.GetPlan().GetName() == "" || key.GetPlanUid() == "":
		return nil, grpcx.Error(codes.InvalidArgument, "", "step and key (plan, plan_uid, step_number) are required", nil)
	case key.GetStepNumber() != step.GetCurrentStep():
		return nil, grpcx.Error(codes.InvalidArgument, "", "key.step_number is not step.current_step", nil)
	case key.GetPlan().GetNamespace() != step.GetNamespace():
		return nil, grpcx.Error(codes.InvalidArgument, "", "key.plan.namespace is not step.namespace", nil)
	}
	cacheKey := redisx.Prefix + "agentic:" + key.GetPlan().GetNamespace() + "/" + key.GetPlan().GetName() + ":" + key.GetPlanUid() + ":" + strconv.Itoa(int(key.GetStepNumber()))
	if cached := s.cached(ctx, cacheKey); cached != nil {
		return &analyzerv1.AgenticStepResponse{Step: cached, Cached: true}, nil
	}
	resp, err := s.Service.AgenticStep(ctx, step)
	if err != nil {
		return nil, err
	}
	if s.Redis != nil {
		if data, err := proto.Marshal(resp); err == nil {
			// SET NX: when another replica answered the same step first,
			// its answer is the decision, and this one is dropped.
			ok, err := s.Redis.Redis().SetNX(ctx, cacheKey, data, AgenticCacheTTL).Result()
			if err == nil && !ok {
				if first := s.cached(ctx, cacheKey); first != nil {
					return &analyzerv1.AgenticStepResponse{Step: first, Cached: true}, nil
				}
			}
		}
	}
	return &analyzerv1.AgenticStepResponse{Step: resp}, nil
}

// cached returns the stored answer of a step, or nil on a miss or when
// Redis does not answer.
func (s *AnalyzerServer) cached(ctx context.Context, key string) *chatcliv1.AgenticStepResponse {
	if s.Redis == nil {
		return nil
	}
	data, err := s.Redis.Redis().Get(ctx, key).Bytes()
	if err != nil {
		return nil
	}
	resp := &chatcliv1.AgenticStepResponse{}
	if proto.Unmarshal(data, resp) != nil {
		return nil
	}
	return resp
}

// SummarizeIncident implements AnalyzerService.
func (s *AnalyzerServer) SummarizeIncident(ctx context.Context, req *analyzerv1.SummarizeIncidentRequest) (*analyzerv1.SummarizeIncidentResponse, error) {
	return s.Service.SummarizeIncident(ctx, req)
}

// ChatCLICompatServer is chatcli.v1 ChatCLIService, for tools built for a
// ChatCLI server. A compat caller gets no rejectedActions, so its
// suggested actions are validated here and refused ones dropped.
type ChatCLICompatServer struct {
	chatcliv1.UnimplementedChatCLIServiceServer
	Service *analysis.Service
}

// AnalyzeIssue implements ChatCLIService.
func (s *ChatCLICompatServer) AnalyzeIssue(ctx context.Context, req *chatcliv1.AnalyzeIssueRequest) (*chatcliv1.AnalyzeIssueResponse, error) {
	resp, err := s.Service.AnalyzeIssue(ctx, req)
	if err != nil {
		return nil, err
	}
	target := platformv1alpha1.ResourceReference{Kind: req.GetResourceKind(), Namespace: req.GetNamespace(), Name: req.GetResourceName()}
	raw := make([]llm.Action, 0, len(resp.GetSuggestedActions()))
	for _, a := range resp.GetSuggestedActions() {
		raw = append(raw, llm.Action{Name: a.GetName(), Action: a.GetAction(), Description: a.GetDescription(), Params: a.GetParams()})
	}
	res := validate.Actions(ctx, s.Service.Checker, target, raw)
	resp.SuggestedActions = nil
	for _, a := range res.Accepted {
		resp.SuggestedActions = append(resp.SuggestedActions, &chatcliv1.SuggestedAction{Name: a.Name, Action: string(a.Action), Description: a.Description, Params: a.Params})
	}
	return resp, nil
}

// AgenticStep implements ChatCLIService.
func (s *ChatCLICompatServer) AgenticStep(ctx context.Context, req *chatcliv1.AgenticStepRequest) (*chatcliv1.AgenticStepResponse, error) {
	return s.Service.AgenticStep(ctx, req)
}
