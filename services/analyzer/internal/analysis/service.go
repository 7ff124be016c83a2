// Package analysis is the analyzer's request path: it scrubs what a
// request carries, renders it as the untrusted data of a provider request,
// asks the provider (falling back to BUILTIN when allowed), parses the
// answer strictly with one repair retry, and validates actions that the
// caller cannot validate itself. The gRPC servers are thin wrappers over it.
package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/llm"
	"github.com/chatcli/aiops/libs/scrub"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
	"github.com/chatcli/aiops/services/analyzer/internal/builtin"
	"github.com/chatcli/aiops/services/analyzer/internal/validate"
)

// knownProviders are the names of spec.provider's enum.
var knownProviders = []platformv1alpha1.Provider{
	platformv1alpha1.ProviderOpenAI, platformv1alpha1.ProviderClaudeAI, platformv1alpha1.ProviderBedrock,
	platformv1alpha1.ProviderGoogleAI, platformv1alpha1.ProviderOllama, platformv1alpha1.ProviderCopilot,
	platformv1alpha1.ProviderOpenRouter, platformv1alpha1.ProviderGitHubModels, platformv1alpha1.ProviderXAI,
	platformv1alpha1.ProviderBuiltin,
}

// BudgetFallbackModel is the model BUILTIN reports when it answered
// because the token budget was spent, so that status.model says why.
const BudgetFallbackModel = "builtin (token budget spent)"

// KnownProviders returns the names of spec.provider's enum.
func KnownProviders() []platformv1alpha1.Provider { return slices.Clone(knownProviders) }

// DefaultTimeout bounds one provider call.
const DefaultTimeout = 60 * time.Second

// MaxContextBytes bounds the kubernetes_context a request may carry.
const MaxContextBytes = 64 << 10

// Service answers analysis requests.
type Service struct {
	Providers *llm.Registry
	Scrubber  *scrub.Scrubber
	Checker   validate.ActionChecker
	// DefaultProvider answers requests that name none; BUILTIN when empty.
	DefaultProvider platformv1alpha1.Provider
	// Chain is the ordered list of providers tried after the requested one
	// is not configured, out of budget or failing (--provider-chain). The
	// answer records which one answered.
	Chain []platformv1alpha1.Provider
	// Resolve, when set, finds a provider configured for the incident's
	// namespace (its Instance's apiKeys Secret); it is asked before the
	// providers of the analyzer's own Secret, and ErrNotConfigured from it
	// means "use those".
	Resolve func(ctx context.Context, namespace string, name platformv1alpha1.Provider) (llm.Provider, error)
	// Servers, when set, finds the ChatCLI server that analyses the
	// namespace's incidents in place of the requested provider (its
	// Instance's spec.aiops.analysisMode is server), with the Instance's
	// name; nil and "" when none does. It is asked for analyses only, and
	// a server that fails is followed by the chain like a provider.
	Servers func(ctx context.Context, namespace string, name platformv1alpha1.Provider) (llm.Provider, string, error)
	// Tune, when set, gives the namespace's own max tokens, temperature
	// and call timeout for a provider (its Instance's spec.maxTokens,
	// spec.temperature and spec.providerTimeout); zero values leave the
	// flags' in force.
	Tune func(ctx context.Context, namespace string, name platformv1alpha1.Provider) llm.Tuning
	// Budget, when set, caps the tokens of the network providers; a spent
	// budget lets BUILTIN answer, and the analysis says so.
	Budget *TokenBudget
	// Fallback lets BUILTIN answer when the requested provider and the
	// chain are not configured, out of budget or failing.
	Fallback bool
	// Timeout bounds one provider call; DefaultTimeout when zero.
	Timeout time.Duration
	// MaxInFlight bounds the provider calls this replica makes at once
	// (0: no bound), so that a replica's share of a provider's rate limit
	// and its memory stay fixed and throughput grows with replicas.
	MaxInFlight int

	inFlight     chan struct{}
	inFlightOnce sync.Once
}

// answered is who answered a request and what the calls spent.
type answered struct {
	provider platformv1alpha1.Provider
	model    string
	// server is the Instance whose ChatCLI server answered, or "".
	server string
	usage  llm.Usage
}

// acquire takes a provider slot, or fails when ctx ends first.
func (s *Service) acquire(ctx context.Context) (func(), error) {
	if s.MaxInFlight <= 0 {
		return func() {}, nil
	}
	s.inFlightOnce.Do(func() { s.inFlight = make(chan struct{}, s.MaxInFlight) })
	select {
	case s.inFlight <- struct{}{}:
		return func() { <-s.inFlight }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for a provider slot: %w", llm.ErrUnavailable, ctx.Err())
	}
}

// NewService is a Service with BUILTIN registered, falling back to it.
func NewService(scrubber *scrub.Scrubber, checker validate.ActionChecker) *Service {
	return &Service{
		Providers: llm.NewRegistry(builtin.Provider{}), Scrubber: scrubber, Checker: checker,
		DefaultProvider: platformv1alpha1.ProviderBuiltin, Fallback: true,
	}
}

func (s *Service) scrub(v string) string { return s.Scrubber.Scrub(v).String() }

// issueInfo scrubs the issue fields common to the requests.
func (s *Service) issueInfo(name, ns, kind, resource, signal, severity, description string, risk int32) builtin.IssueInfo {
	return builtin.IssueInfo{
		Name: name, Namespace: ns, ResourceKind: kind, ResourceName: resource, SignalType: signal,
		Severity: severity, Description: s.scrub(description), RiskScore: risk,
	}
}

// untrusted renders a document as scrubbed text. Each field was scrubbed
// already; scrubbing the whole again is what makes it a scrub.Text.
func (s *Service) untrusted(doc *builtin.Document) (scrub.Text, error) {
	data, err := json.Marshal(doc)
	if err != nil {
		return scrub.Text{}, fmt.Errorf("render request data: %w", err)
	}
	return s.Scrubber.Scrub(string(data)), nil
}

func checkIssue(name, kind, resource, signal, kubeContext string) error {
	switch {
	case name == "" || kind == "" || resource == "" || signal == "":
		return grpcx.Error(codes.InvalidArgument, "", "issue_name, resource_kind, resource_name and signal_type are required", nil)
	case !platformv1alpha1.SignalType(signal).IsValid():
		return grpcx.Error(codes.InvalidArgument, "", fmt.Sprintf("signal_type %q is unknown", truncate(signal, 64)), nil)
	case len(kubeContext) > MaxContextBytes:
		return grpcx.Error(codes.InvalidArgument, "", fmt.Sprintf("kubernetes_context exceeds %d bytes", MaxContextBytes), nil)
	}
	return nil
}

// AnalyzeIssue analyses one issue. Suggested actions come back as the
// provider wrote them (bounded, not validated): the caller validates them
// against the incident's target and records the refusals.
func (s *Service) AnalyzeIssue(ctx context.Context, req *chatcliv1.AnalyzeIssueRequest) (*chatcliv1.AnalyzeIssueResponse, error) {
	resp, err := s.Analyze(ctx, req)
	return resp.GetAnalysis(), err
}

// Analyze is AnalyzeIssue with what the answer cost and, when a ChatCLI
// server answered, which Instance's it was.
func (s *Service) Analyze(ctx context.Context, req *chatcliv1.AnalyzeIssueRequest) (*analyzerv1.AnalyzeIssueResponse, error) {
	if err := checkIssue(req.GetIssueName(), req.GetResourceKind(), req.GetResourceName(), req.GetSignalType(), req.GetKubernetesContext()); err != nil {
		return nil, err
	}
	doc := &builtin.Document{
		Issue:             s.issueInfo(req.GetIssueName(), req.GetNamespace(), req.GetResourceKind(), req.GetResourceName(), req.GetSignalType(), req.GetSeverity(), req.GetDescription(), req.GetRiskScore()),
		KubernetesContext: s.scrub(req.GetKubernetesContext()),
		PreviousFailure:   s.scrub(req.GetPreviousFailureContext()),
	}
	if doc.PreviousFailure != "" {
		doc.Attempt = 2
	}
	text, err := s.untrusted(doc)
	if err != nil {
		return nil, grpcx.Error(codes.Internal, "", err.Error(), nil)
	}
	var answer *llm.Analysis
	who, err := s.complete(ctx, req.GetNamespace(), req.GetNamespace()+"/"+req.GetIssueName(), req.GetProvider(), req.GetModel(), llm.TaskAnalyze, llm.AnalyzeSystemPrompt, text, func(raw string) error {
		a, err := llm.ParseAnalysis(raw)
		answer = a
		return err
	})
	if err != nil {
		return nil, withUsage(err, who.usage)
	}
	if who.model == BudgetFallbackModel {
		answer.Analysis = "The LLM token budget is spent, so the built-in analyzer answered. " + answer.Analysis
	}
	resp := &chatcliv1.AnalyzeIssueResponse{
		Analysis: answer.Analysis, Confidence: float32(*answer.Confidence), Recommendations: answer.Recommendations,
		Model: who.model, Provider: string(who.provider),
	}
	for _, a := range answer.SuggestedActions {
		resp.SuggestedActions = append(resp.SuggestedActions, &chatcliv1.SuggestedAction{Name: a.Name, Action: a.Action, Description: a.Description, Params: a.Params})
	}
	out := &analyzerv1.AnalyzeIssueResponse{Analysis: resp}
	if who.server != "" {
		// chatcli.v1 reports no tokens: the usage is unknown, not zero.
		out.Server = &commonv1.ObjectRef{Namespace: req.GetNamespace(), Name: who.server}
	} else {
		out.Usage = &analyzerv1.LLMUsage{InputTokens: int64(who.usage.InputTokens), OutputTokens: int64(who.usage.OutputTokens)}
		if !who.usage.Unpriced {
			out.Usage.EstimatedCostUsd = &who.usage.CostUSD
		}
	}
	return out, nil
}

// AgenticStep decides one step. Its next action is validated against the
// incident's resource; a refused one is dropped and the reasoning says why.
func (s *Service) AgenticStep(ctx context.Context, req *chatcliv1.AgenticStepRequest) (*chatcliv1.AgenticStepResponse, error) {
	if err := checkIssue(req.GetIssueName(), req.GetResourceKind(), req.GetResourceName(), req.GetSignalType(), req.GetKubernetesContext()); err != nil {
		return nil, err
	}
	if req.GetMaxSteps() > 0 && req.GetCurrentStep() > req.GetMaxSteps() {
		return nil, grpcx.Error(codes.InvalidArgument, "", "current_step exceeds max_steps", nil)
	}
	doc := &builtin.Document{
		Issue:             s.issueInfo(req.GetIssueName(), req.GetNamespace(), req.GetResourceKind(), req.GetResourceName(), req.GetSignalType(), req.GetSeverity(), req.GetDescription(), req.GetRiskScore()),
		KubernetesContext: s.scrub(req.GetKubernetesContext()),
		MaxSteps:          req.GetMaxSteps(), CurrentStep: req.GetCurrentStep(),
		InsightAnalysis: s.scrub(req.GetInsightAnalysis()),
	}
	for _, h := range req.GetHistory() {
		params := map[string]string{}
		for k, v := range h.GetParams() {
			params[k] = s.scrub(v)
		}
		doc.History = append(doc.History, builtin.Step{Number: h.GetStepNumber(), Message: s.scrub(h.GetAiMessage()), Action: h.GetAction(), Params: params, Observation: s.scrub(h.GetObservation())})
	}
	for _, a := range req.GetInsightSuggestedActions() {
		doc.InsightActions = append(doc.InsightActions, a.GetAction())
	}
	text, err := s.untrusted(doc)
	if err != nil {
		return nil, grpcx.Error(codes.Internal, "", err.Error(), nil)
	}
	var d *llm.AgenticDecision
	if _, err := s.complete(ctx, req.GetNamespace(), req.GetNamespace()+"/"+req.GetIssueName(), req.GetProvider(), req.GetModel(), llm.TaskAgenticStep, llm.AgenticSystemPrompt, text, func(raw string) error {
		var err error
		d, err = llm.ParseAgenticDecision(raw)
		return err
	}); err != nil {
		return nil, err
	}
	resp := &chatcliv1.AgenticStepResponse{
		Reasoning: d.Reasoning, Resolved: d.Resolved, PostmortemSummary: d.PostmortemSummary, RootCause: d.RootCause,
		Impact: d.Impact, LessonsLearned: d.LessonsLearned, PreventionActions: d.PreventionActions,
		DivergesFromInsight: d.DivergesFromInsight, DivergenceReason: d.DivergenceReason,
	}
	if d.NextAction != nil {
		target := platformv1alpha1.ResourceReference{Kind: req.GetResourceKind(), Namespace: req.GetNamespace(), Name: req.GetResourceName()}
		res := validate.Actions(ctx, s.Checker, target, []llm.Action{*d.NextAction})
		if len(res.Accepted) == 1 {
			a := res.Accepted[0]
			resp.NextAction = &chatcliv1.SuggestedAction{Name: a.Name, Action: string(a.Action), Description: a.Description, Params: a.Params}
		} else {
			resp.Reasoning += " The proposed action " + res.Rejected[0].Action + " was refused: " + res.Rejected[0].Reason + "."
		}
	}
	return resp, nil
}

// SummarizeIncident writes the post-mortem text of a resolved incident.
func (s *Service) SummarizeIncident(ctx context.Context, req *analyzerv1.SummarizeIncidentRequest) (*analyzerv1.SummarizeIncidentResponse, error) {
	if req.GetIssue().GetName() == "" || req.GetIssue().GetNamespace() == "" {
		return nil, grpcx.Error(codes.InvalidArgument, "", "issue is required", nil)
	}
	res := req.GetResource()
	doc := &builtin.Document{
		Issue:      s.issueInfo(req.GetIssue().GetName(), req.GetIssue().GetNamespace(), res.GetKind(), res.GetName(), req.GetSignalType(), req.GetSeverity(), "", 0),
		IncidentID: req.GetIncidentId(), Analysis: s.scrub(req.GetAnalysis()),
	}
	for _, e := range req.GetTimeline() {
		doc.Timeline = append(doc.Timeline, s.scrub(e.GetType()+": "+e.GetDetail()))
	}
	for _, a := range req.GetActionsExecuted() {
		doc.ActionsExecuted = append(doc.ActionsExecuted, s.scrub(a.GetAction().GetType()+" "+a.GetResult()+" "+a.GetMessage()))
	}
	text, err := s.untrusted(doc)
	if err != nil {
		return nil, grpcx.Error(codes.Internal, "", err.Error(), nil)
	}
	var sum *llm.Summary
	if _, err := s.complete(ctx, req.GetIssue().GetNamespace(), req.GetIssue().GetNamespace()+"/"+req.GetIssue().GetName(), req.GetProvider(), req.GetModel(), llm.TaskSummarize, llm.SummarizeSystemPrompt, text, func(raw string) error {
		var err error
		sum, err = llm.ParseSummary(raw)
		return err
	}); err != nil {
		return nil, err
	}
	return &analyzerv1.SummarizeIncidentResponse{
		Summary: sum.Summary, RootCause: sum.RootCause, Impact: sum.Impact,
		LessonsLearned: sum.LessonsLearned, PreventionActions: sum.PreventionActions,
	}, nil
}

// complete asks the provider (or, for an analysis, the ChatCLI server
// that stands in for it), then the chain, falling back to BUILTIN when
// allowed, and parses the answer with one repair retry. It returns who
// answered and what every call spent.
func (s *Service) complete(ctx context.Context, namespace, scope, name, model string, task llm.Task, system string, text scrub.Text, parse func(string) error) (answered, error) {
	requested := platformv1alpha1.Provider(name)
	if requested == "" {
		requested = s.DefaultProvider
	}
	if requested == "" {
		requested = platformv1alpha1.ProviderBuiltin
	}
	if !slices.Contains(knownProviders, requested) {
		return answered{}, grpcx.Error(codes.InvalidArgument, "", fmt.Sprintf("provider %q is unknown", truncate(name, 64)), nil)
	}
	var (
		err         error
		server      string // the Instance whose server stood in for requested
		usage       llm.Usage
		budgetSpent bool
	)
	for i, name := range s.order(requested) {
		var p llm.Provider
		var gerr error
		if i == 0 && task == llm.TaskAnalyze && s.Servers != nil {
			p, server, gerr = s.Servers(ctx, namespace, name)
		}
		if p == nil && gerr == nil {
			p, gerr = s.provider(ctx, namespace, name)
		}
		if gerr != nil {
			if i == 0 {
				err = gerr
			}
			continue
		}
		m := model
		if i > 0 {
			m = "" // the requested model belongs to the requested provider
		}
		answeredModel, aerr := s.ask(ctx, namespace, scope, p, m, task, system, text, parse, &usage)
		if aerr == nil {
			who := answered{provider: p.Name(), model: answeredModel, usage: usage}
			if i == 0 {
				who.server = server
			}
			return who, nil
		}
		if grpcx.Reason(aerr) == grpcx.ReasonInvalidResponse {
			if i == 0 && server != "" {
				aerr = grpcx.Error(codes.Internal, grpcx.ReasonInvalidResponse,
					truncate("The ChatCLI server of Instance "+server+" answered twice outside the analysis schema: "+status.Convert(aerr).Message(), 1024),
					map[string]string{"provider": string(p.Name()), "server": server})
			}
			return answered{usage: usage}, aerr // a model that answers badly is not replaced silently
		}
		if i == 0 {
			err = aerr
		}
		budgetSpent = budgetSpent || errors.Is(aerr, llm.ErrBudgetExhausted)
	}
	if !s.Fallback || requested == platformv1alpha1.ProviderBuiltin {
		return answered{usage: usage}, providerError(requested, server, err)
	}
	b, berr := s.Providers.Get(platformv1alpha1.ProviderBuiltin)
	if berr != nil {
		return answered{usage: usage}, providerError(requested, server, err)
	}
	m, berr := s.ask(ctx, namespace, scope, b, "", task, system, text, parse, &usage)
	if berr != nil {
		return answered{usage: usage}, berr
	}
	if budgetSpent {
		m = BudgetFallbackModel
	}
	return answered{provider: platformv1alpha1.ProviderBuiltin, model: m, usage: usage}, nil
}

// provider is the namespace's own configuration of name, else the
// analyzer's.
func (s *Service) provider(ctx context.Context, namespace string, name platformv1alpha1.Provider) (llm.Provider, error) {
	if s.Resolve != nil && name != platformv1alpha1.ProviderBuiltin {
		p, err := s.Resolve(ctx, namespace, name)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, llm.ErrNotConfigured) {
			return nil, fmt.Errorf("%w: %w", llm.ErrUnavailable, err)
		}
	}
	return s.Providers.Get(name)
}

// order is the requested provider, then the chain without it and without
// BUILTIN, which comes last through Fallback.
func (s *Service) order(requested platformv1alpha1.Provider) []platformv1alpha1.Provider {
	out := []platformv1alpha1.Provider{requested}
	if requested == platformv1alpha1.ProviderBuiltin {
		return out
	}
	for _, p := range s.Chain {
		if p != platformv1alpha1.ProviderBuiltin && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// ask makes one call and, when the answer does not parse, one repair call,
// adding what each call spent to usage.
func (s *Service) ask(ctx context.Context, namespace, scope string, p llm.Provider, model string, task llm.Task, system string, text scrub.Text, parse func(string) error, usage *llm.Usage) (string, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	var tuning llm.Tuning
	if s.Tune != nil && p.Name() != platformv1alpha1.ProviderBuiltin {
		tuning = s.Tune(ctx, namespace, p.Name())
	}
	if tuning.Timeout > 0 {
		timeout = tuning.Timeout
	}
	for try := 0; try < 2; try++ {
		metered := p.Name() != platformv1alpha1.ProviderBuiltin
		if metered {
			if err := s.Budget.Check(ctx, scope); err != nil {
				return "", err
			}
		}
		callCtx, cancel := context.WithTimeout(ctx, timeout)
		resp, err := p.Complete(callCtx, llm.Request{
			Task: task, System: system, Untrusted: text, Model: model, MaxAnswerBytes: llm.MaxAnswerBytes,
			MaxTokens: tuning.MaxTokens, Temperature: tuning.Temperature,
		})
		cancel()
		usage.Add(resp)
		if metered {
			s.Budget.Spend(ctx, scope, resp.InputTokens+resp.OutputTokens)
		}
		if err != nil {
			return "", err
		}
		perr := parse(resp.Text)
		if perr == nil {
			return resp.Model, nil
		}
		if try == 1 {
			return "", grpcx.Error(codes.Internal, grpcx.ReasonInvalidResponse, fmt.Sprintf("%s answered twice with invalid JSON: %v", p.Name(), perr), map[string]string{"provider": string(p.Name())})
		}
		system += llm.RepairNote(perr)
	}
	return "", nil // unreachable
}

// Metadata keys of a failed analysis's ErrorInfo: what its calls spent,
// so that a failed AIInsight records its cost too.
const (
	MetaInputTokens      = "input_tokens"
	MetaOutputTokens     = "output_tokens"
	MetaEstimatedCostUSD = "estimated_cost_usd"
)

// withUsage adds what the calls spent to the ErrorInfo of a failed
// request; an error without one, or calls that spent nothing, are left
// alone.
func withUsage(err error, u llm.Usage) error {
	info := grpcx.ErrorInfo(err)
	if info == nil || u.InputTokens+u.OutputTokens == 0 {
		return err
	}
	meta := map[string]string{}
	maps.Copy(meta, info.GetMetadata())
	meta[MetaInputTokens] = strconv.Itoa(u.InputTokens)
	meta[MetaOutputTokens] = strconv.Itoa(u.OutputTokens)
	if !u.Unpriced {
		meta[MetaEstimatedCostUSD] = strconv.FormatFloat(u.CostUSD, 'f', 6, 64)
	}
	return grpcx.Error(status.Code(err), info.GetReason(), status.Convert(err).Message(), meta)
}

// providerError turns a provider failure into the status the callers act
// on. server is the Instance whose ChatCLI server stood in for p, if one
// did.
func providerError(p platformv1alpha1.Provider, server string, err error) error {
	meta := map[string]string{"provider": string(p)}
	if server != "" && !errors.Is(err, llm.ErrBudgetExhausted) {
		meta["server"] = server
		code := codes.Unavailable
		if errors.Is(err, context.DeadlineExceeded) || llm.KindOf(err) == llm.KindTimeout {
			code = codes.DeadlineExceeded
		}
		// The error names the Instance, the Secret or the gRPC code, never
		// a Secret's value or the server's own text.
		return grpcx.Error(code, grpcx.ReasonProviderUnavailable, truncate(fmt.Sprintf("The ChatCLI server of Instance %s failed: %v", server, err), 1024), meta)
	}
	switch {
	case errors.Is(err, llm.ErrNotConfigured):
		return grpcx.Error(codes.FailedPrecondition, grpcx.ReasonProviderNotConfigured, fmt.Sprintf("provider %s is not configured", p), meta)
	case errors.Is(err, llm.ErrBudgetExhausted):
		return grpcx.Error(codes.ResourceExhausted, grpcx.ReasonBudgetExhausted, fmt.Sprintf("the token budget of %s is spent", p), meta)
	case errors.Is(err, context.DeadlineExceeded) || llm.KindOf(err) == llm.KindTimeout:
		return grpcx.Error(codes.DeadlineExceeded, grpcx.ReasonProviderUnavailable, fmt.Sprintf("provider %s did not answer in time", p), meta)
	}
	return grpcx.Error(codes.Unavailable, grpcx.ReasonProviderUnavailable, fmt.Sprintf("provider %s failed", p), meta)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
