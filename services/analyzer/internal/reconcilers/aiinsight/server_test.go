package aiinsight

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/metadata"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/llm"
	"github.com/chatcli/aiops/libs/testenv"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
	"github.com/chatcli/aiops/services/analyzer/internal/analysis"
	"github.com/chatcli/aiops/services/analyzer/internal/chatcliserver"
)

const serverToken = "chatcli-server-token-of-at-least-32-bytes"

// plantedLog is a secret in the incident's events: it must never reach
// the ChatCLI server.
const plantedLog = "connecting with aws_access_key_id=AKIAIOSFODNN7EXAMPLE failed; OOMKilled"

// chatcliServer is a ChatCLI server's chatcli.v1 AnalyzeIssue on loopback
// over TLS, with the server token required, recording what it received.
type chatcliServer struct {
	chatcliv1.UnimplementedChatCLIServiceServer
	answer func(n int) *chatcliv1.AnalyzeIssueResponse

	mu       sync.Mutex
	received []*chatcliv1.AnalyzeIssueRequest
	auth     []string

	addr string
	ca   []byte
	stop func()
}

func (s *chatcliServer) AnalyzeIssue(ctx context.Context, req *chatcliv1.AnalyzeIssueRequest) (*chatcliv1.AnalyzeIssueResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.received = append(s.received, req)
	s.auth = append(s.auth, strings.Join(md.Get("authorization"), ","))
	n := len(s.received)
	s.mu.Unlock()
	return s.answer(n), nil
}

func (s *chatcliServer) calls() []*chatcliv1.AnalyzeIssueRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*chatcliv1.AnalyzeIssueRequest(nil), s.received...)
}

func startChatCLIServer(t *testing.T, answer func(n int) *chatcliv1.AnalyzeIssueResponse) *chatcliServer {
	t.Helper()
	pki, err := testenv.NewPKI(t.TempDir())
	must(t, err)
	ca, err := os.ReadFile(pki.CAFile)
	must(t, err)
	srv, err := grpcx.NewServer(grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, Token: serverToken})
	must(t, err)
	s := &chatcliServer{answer: answer, ca: ca, stop: srv.Stop}
	chatcliv1.RegisterChatCLIServiceServer(srv, s)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s.addr = lis.Addr().String()
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return s
}

// serverInstance is a Ready CLAUDEAI Instance of the fixture's namespace
// that analyses through the server at addr, with its TLS and token Secrets
// labelled for it, as the instance-operator would publish it.
func (f *fixture) serverInstance(t *testing.T, name, addr string, ca []byte, mode platformv1alpha1.AnalysisMode, labelSecrets bool) {
	t.Helper()
	ctx := testContext(t)
	labels := map[string]string{platformv1alpha1.LabelInstance: name}
	if !labelSecrets {
		labels = nil
	}
	must(t, env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name + "-tls", Labels: labels}, Data: map[string][]byte{"ca.crt": ca}}))
	must(t, env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name + "-token", Labels: labels}, Data: map[string][]byte{"token": []byte(serverToken + "\n")}}))
	inst := &platformv1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: platformv1alpha1.InstanceSpec{
			Provider: platformv1alpha1.ProviderClaudeAI, Model: "claude-sonnet-4-5",
			Server: platformv1alpha1.ServerSpec{
				TLS:   &platformv1alpha1.TLSSpec{Enabled: true, SecretName: name + "-tls"},
				Token: &platformv1alpha1.TokenSecretReference{Name: name + "-token"},
			},
			AIOps: &platformv1alpha1.AIOpsSpec{AnalysisMode: mode},
		},
	}
	must(t, env.Client.Create(ctx, inst))
	inst.Status.Endpoint = "dns:///" + addr
	meta.SetStatusCondition(&inst.Status.Conditions, metav1.Condition{Type: platformv1alpha1.InstanceReadyCondition, Status: metav1.ConditionTrue, Reason: "Available", Message: "ready"})
	must(t, env.Client.Status().Update(ctx, inst))
}

// serverPool is servePool with the ChatCLI servers of the namespace's
// Instances routed in, read under the analyzer's role.
func (f *fixture) serverPool(t *testing.T, fallback bool, chain []platformv1alpha1.Provider, providers ...llm.Provider) analyzerv1.AnalyzerServiceClient {
	t.Helper()
	f.id.GrantInstanceNamespace(t, f.ns)
	router := &chatcliserver.Router{Instances: f.id.Client, Secrets: f.id.Client, Policy: llm.Policy{MaxAttempts: 1}}
	t.Cleanup(router.Close)
	return servePoolWith(t, func(svc *analysis.Service) {
		svc.Servers, svc.Fallback, svc.Chain = router.Provider, fallback, chain
		for _, p := range providers {
			svc.Providers.Register(p)
		}
	})
}

func oomAnswer(int) *chatcliv1.AnalyzeIssueResponse {
	return &chatcliv1.AnalyzeIssueResponse{
		Analysis: "The container was OOMKilled at its 256Mi limit.", Confidence: 0.87,
		Recommendations: []string{"Raise the memory limit"}, Model: "claude-via-server", Provider: "CLAUDEAI",
		SuggestedActions: []*chatcliv1.SuggestedAction{
			{Name: "raise", Action: "AdjustResources", Description: "raise memory", Params: map[string]string{"container": "app", "memory_limit": "384Mi"}},
			{Name: "grant", Action: "ApplyManifest", Params: map[string]string{"manifest": "kind: ClusterRoleBinding"}},
		},
	}
}

// TestAnalysisThroughTheInstancesChatCLIServer: an Instance with
// analysisMode server gets its incidents' analyses from its ChatCLI
// server's chatcli.v1 AnalyzeIssue, over TLS with its token; the server
// sees the scrubbed context, and its answer is checked like a model's.
func TestAnalysisThroughTheInstancesChatCLIServer(t *testing.T) {
	srv := startChatCLIServer(t, oomAnswer)
	f := newFixture(t, platformv1alpha1.SignalOOMKill, "OOMKilled", plantedLog)
	f.serverInstance(t, "chatcli-prod", srv.addr, srv.ca, platformv1alpha1.AnalysisModeServer, true)
	got := pass(t, f.reconciler(t, f.serverPool(t, true, nil)), f.insight(t, 1, platformv1alpha1.ProviderClaudeAI, "attempt 1: RestartDeployment; contact ops@example.com"))

	ready(t, got, metav1.ConditionTrue, platformv1alpha1.AIInsightAnalysisCompletedReason)
	st := got.Status
	if st.Server != "chatcli-prod" || st.Provider != platformv1alpha1.ProviderClaudeAI || st.Model != "claude-via-server" || st.Usage != nil {
		t.Errorf("server %q, provider %q, model %q, usage %v; want chatcli-prod, CLAUDEAI, claude-via-server, none", st.Server, st.Provider, st.Model, st.Usage)
	}
	if st.Confidence == nil || *st.Confidence != 0.87 || !strings.Contains(st.Analysis, "OOMKilled") {
		t.Errorf("analysis %q, confidence %v", st.Analysis, st.Confidence)
	}
	if len(st.SuggestedActions) != 1 || st.SuggestedActions[0].Action != platformv1alpha1.ActionAdjustResources ||
		len(st.RejectedActions) != 1 || st.RejectedActions[0].Action != "ApplyManifest" {
		t.Errorf("the server's actions were not checked: accepted %+v, rejected %+v", st.SuggestedActions, st.RejectedActions)
	}
	if c := meta.FindStatusCondition(st.Conditions, platformv1alpha1.AIInsightReadyCondition); !strings.Contains(c.Message, "ChatCLI server of Instance chatcli-prod") {
		t.Errorf("Ready message %q does not name the server", c.Message)
	}

	calls := srv.calls()
	if len(calls) != 1 {
		t.Fatalf("the server got %d calls, want 1", len(calls))
	}
	req := calls[0]
	if req.GetIssueName() != f.issue.Name || req.GetNamespace() != f.ns || req.GetResourceKind() != "Deployment" || req.GetResourceName() != "web" ||
		req.GetSignalType() != "oom_kill" || req.GetProvider() != "CLAUDEAI" || req.GetRiskScore() != 80 {
		t.Errorf("the server got the wrong issue: %v", req)
	}
	if !strings.Contains(req.GetKubernetesContext(), "web-h1-a") || !strings.Contains(req.GetKubernetesContext(), "OOMKilled") {
		t.Errorf("the server got no Kubernetes context: %.200q", req.GetKubernetesContext())
	}
	for field, v := range map[string]string{"kubernetes_context": req.GetKubernetesContext(), "description": req.GetDescription(), "previous_failure_context": req.GetPreviousFailureContext()} {
		if strings.Contains(v, "AKIAIOSFODNN7EXAMPLE") || strings.Contains(v, "ops@example.com") {
			t.Errorf("%s reached the server unscrubbed: %q", field, v)
		}
	}
	if !strings.Contains(req.GetKubernetesContext(), "[REDACTED:") || !strings.Contains(req.GetPreviousFailureContext(), "RestartDeployment") {
		t.Errorf("context %q, failure %q", req.GetKubernetesContext(), req.GetPreviousFailureContext())
	}
	if srv.auth[0] != "Bearer "+serverToken {
		t.Errorf("authorization = %q, want the Instance's token", srv.auth[0])
	}
}

// TestChatCLIServerFailures: a server that is down, answers badly, or
// whose Secret the Instance may not use fails like a provider: the chain
// answers, BUILTIN answers when allowed, else the insight fails with a
// condition that names the server.
func TestChatCLIServerFailures(t *testing.T) {
	badConfidence := func(int) *chatcliv1.AnalyzeIssueResponse {
		return &chatcliv1.AnalyzeIssueResponse{Analysis: "sure", Confidence: 1.7}
	}
	openai := &scripted{name: platformv1alpha1.ProviderOpenAI, answer: func(int, llm.Request) string {
		return `{"analysis":"OpenAI says OOM.","confidence":0.6,"suggestedActions":[]}`
	}}
	tests := map[string]struct {
		answer       func(int) *chatcliv1.AnalyzeIssueResponse
		down         bool
		untrusted    bool
		fallback     bool
		chain        []platformv1alpha1.Provider
		wantStatus   metav1.ConditionStatus
		wantReason   string
		wantProvider platformv1alpha1.Provider
		wantMessage  string
		wantCalls    int
	}{
		"DownFallsBackToBuiltin": {
			answer: oomAnswer, down: true, fallback: true,
			wantStatus: metav1.ConditionTrue, wantReason: platformv1alpha1.AIInsightBuiltinFallbackReason, wantProvider: platformv1alpha1.ProviderBuiltin,
		},
		"DownWithoutFallbackFails": {
			answer: oomAnswer, down: true,
			wantStatus: metav1.ConditionFalse, wantReason: platformv1alpha1.AIInsightProviderUnavailableReason,
			wantMessage: "The ChatCLI server of Instance chatcli-prod failed: network: chatcli.v1 AnalyzeIssue: Unavailable",
		},
		"DownTheChainAnswers": {
			answer: oomAnswer, down: true, chain: []platformv1alpha1.Provider{platformv1alpha1.ProviderOpenAI},
			wantStatus: metav1.ConditionTrue, wantReason: platformv1alpha1.AIInsightAnalysisCompletedReason, wantProvider: platformv1alpha1.ProviderOpenAI,
		},
		"BadAnswerIsRefusedAfterOneRetry": {
			answer: badConfidence, fallback: true,
			wantStatus: metav1.ConditionFalse, wantReason: platformv1alpha1.AIInsightInvalidResponseReason,
			wantMessage: "confidence 1.7", wantCalls: 2,
		},
		"UntrustedSecretIsNotRead": {
			answer: oomAnswer, untrusted: true,
			wantStatus: metav1.ConditionFalse, wantReason: platformv1alpha1.AIInsightProviderUnavailableReason,
			wantMessage: "is neither owned by the Instance nor labelled",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := startChatCLIServer(t, tt.answer)
			if tt.down {
				srv.stop()
			}
			f := newFixture(t, platformv1alpha1.SignalOOMKill, "OOMKilled", "")
			f.serverInstance(t, "chatcli-prod", srv.addr, srv.ca, platformv1alpha1.AnalysisModeServer, !tt.untrusted)
			got := pass(t, f.reconciler(t, f.serverPool(t, tt.fallback, tt.chain, openai)), f.insight(t, 1, platformv1alpha1.ProviderClaudeAI, ""))
			ready(t, got, tt.wantStatus, tt.wantReason)
			c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.AIInsightReadyCondition)
			if !strings.Contains(c.Message, tt.wantMessage) {
				t.Errorf("Ready message %q does not say %q", c.Message, tt.wantMessage)
			}
			if got.Status.Provider != tt.wantProvider || got.Status.Server != "" {
				t.Errorf("provider %q, server %q; want %q and no server", got.Status.Provider, got.Status.Server, tt.wantProvider)
			}
			if n := len(srv.calls()); n != tt.wantCalls {
				t.Errorf("the server got %d calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

// TestOnlyAnInstanceInServerModeRoutesToItsServer: the namespace's
// analysis Instance in analyzer mode, or an insight that asks another
// provider than the Instance's, leaves the server alone.
func TestOnlyAnInstanceInServerModeRoutesToItsServer(t *testing.T) {
	tests := map[string]struct {
		mode     platformv1alpha1.AnalysisMode
		provider platformv1alpha1.Provider
	}{
		"AnalyzerMode":    {mode: platformv1alpha1.AnalysisModeAnalyzer, provider: platformv1alpha1.ProviderClaudeAI},
		"NoMode":          {provider: platformv1alpha1.ProviderClaudeAI},
		"AnotherProvider": {mode: platformv1alpha1.AnalysisModeServer, provider: platformv1alpha1.ProviderBuiltin},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := startChatCLIServer(t, oomAnswer)
			f := newFixture(t, platformv1alpha1.SignalOOMKill, "OOMKilled", "")
			f.serverInstance(t, "chatcli-prod", srv.addr, srv.ca, tt.mode, true)
			got := pass(t, f.reconciler(t, f.serverPool(t, true, nil)), f.insight(t, 1, tt.provider, ""))
			if got.Status.Provider != platformv1alpha1.ProviderBuiltin || got.Status.Server != "" || len(srv.calls()) != 0 {
				t.Errorf("provider %q, server %q, %d server calls; want BUILTIN without the server", got.Status.Provider, got.Status.Server, len(srv.calls()))
			}
		})
	}
}

// TestInsightRecordsUsageAndCost: a provider's tokens and their price
// reach the AIInsight's status, a failed analysis's too; BUILTIN costs
// nothing.
func TestInsightRecordsUsageAndCost(t *testing.T) {
	saved := llm.Prices
	llm.Prices = map[string]llm.Price{"scripted-1": {InputPerMTok: 3, OutputPerMTok: 15}}
	t.Cleanup(func() { llm.Prices = saved })
	openai := &scripted{name: platformv1alpha1.ProviderOpenAI, inputTokens: 1000, outputTokens: 200, answer: func(int, llm.Request) string {
		return `{"analysis":"OOM.","confidence":0.6,"suggestedActions":[]}`
	}}
	prose := &scripted{name: platformv1alpha1.ProviderXAI, inputTokens: 500, outputTokens: 100, answer: func(int, llm.Request) string {
		return "It is probably memory."
	}}
	tests := map[string]struct {
		provider   platformv1alpha1.Provider
		want       platformv1alpha1.LLMUsage
		wantStatus metav1.ConditionStatus
	}{
		"Priced":  {provider: platformv1alpha1.ProviderOpenAI, wantStatus: metav1.ConditionTrue, want: platformv1alpha1.LLMUsage{InputTokens: 1000, OutputTokens: 200, EstimatedCostUSD: "0.006000"}},
		"Builtin": {provider: platformv1alpha1.ProviderBuiltin, wantStatus: metav1.ConditionTrue, want: platformv1alpha1.LLMUsage{EstimatedCostUSD: "0.000000"}},
		// The answer and its repair were paid for, though neither parsed.
		"FailedAnswerStillCosts": {provider: platformv1alpha1.ProviderXAI, wantStatus: metav1.ConditionFalse, want: platformv1alpha1.LLMUsage{InputTokens: 1000, OutputTokens: 200, EstimatedCostUSD: "0.006000"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, platformv1alpha1.SignalOOMKill, "OOMKilled", "")
			got := pass(t, f.reconciler(t, servePool(t, openai, prose)), f.insight(t, 1, tt.provider, ""))
			if c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.AIInsightReadyCondition); c == nil || c.Status != tt.wantStatus {
				t.Fatalf("Ready = %+v, want %s", c, tt.wantStatus)
			}
			if u := got.Status.Usage; u == nil || *u != tt.want {
				t.Errorf("usage = %+v, want %+v", u, tt.want)
			}
		})
	}
}
