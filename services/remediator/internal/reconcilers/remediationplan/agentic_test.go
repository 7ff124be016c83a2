package remediationplan

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/pipeline"
	"github.com/chatcli/aiops/libs/testenv"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

const analyzerToken = "analyzer-test-token-of-at-least-32-bytes"

// scriptedAnalyzer answers AgenticStep from a script by step number and
// records what it was asked.
type scriptedAnalyzer struct {
	analyzerv1.UnimplementedAnalyzerServiceServer
	script func(step int32) *chatcliv1.AgenticStepResponse

	mu       sync.Mutex
	requests []*analyzerv1.AgenticStepRequest
	at       []time.Time
}

func (a *scriptedAnalyzer) AgenticStep(_ context.Context, req *analyzerv1.AgenticStepRequest) (*analyzerv1.AgenticStepResponse, error) {
	a.mu.Lock()
	a.requests = append(a.requests, req)
	a.at = append(a.at, time.Now())
	a.mu.Unlock()
	return &analyzerv1.AgenticStepResponse{Step: a.script(req.GetKey().GetStepNumber())}, nil
}

func (a *scriptedAnalyzer) asked() []*analyzerv1.AgenticStepRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*analyzerv1.AgenticStepRequest(nil), a.requests...)
}

// serveAnalyzer runs a on loopback over TLS with a token and returns a
// client of it.
func serveAnalyzer(t *testing.T, a *scriptedAnalyzer) analyzerv1.AnalyzerServiceClient {
	t.Helper()
	pki, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcx.NewServer(grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, Token: analyzerToken})
	if err != nil {
		t.Fatal(err)
	}
	analyzerv1.RegisterAnalyzerServiceServer(srv.Server, a)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpcx.Dial(lis.Addr().String(), grpcx.ClientConfig{CAFile: pki.CAFile, Token: analyzerToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return analyzerv1.NewAnalyzerServiceClient(conn)
}

// startAgentic runs the reconciler (tuned by tune, when set) with ai as its
// analyzer, and creates an agentic plan of maxSteps on a rolled-out
// Deployment whose controller the test plays.
func startAgentic(t *testing.T, g Gomega, ai *scriptedAnalyzer, maxSteps int32, tune func(*Reconciler)) (*scenario, *platformv1alpha1.RemediationPlan) {
	t.Helper()
	client := serveAnalyzer(t, ai)
	start(t, func(r *Reconciler) {
		r.Analyzer = client
		if tune != nil {
			tune(r)
		}
	})
	s := newScenario(t, g, 2)
	s.playController(t, nil)
	p := s.plan(g, "api-oom-plan-1")
	p.Spec.AgenticMode, p.Spec.AgenticMaxSteps = true, maxSteps
	g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
	return s, p
}

func next_(a string, p P) *chatcliv1.SuggestedAction {
	return &chatcliv1.SuggestedAction{Action: a, Params: p}
}

func TestAnAgenticLoopResolvesInThreeSteps(t *testing.T) {
	g := NewWithT(t)
	ai := &scriptedAnalyzer{script: func(step int32) *chatcliv1.AgenticStepResponse {
		switch step {
		case 1:
			return &chatcliv1.AgenticStepResponse{Reasoning: "OOMKilled; more replicas", NextAction: next_("ScaleDeployment", P{"replicas": "3"})}
		case 2:
			return &chatcliv1.AgenticStepResponse{Reasoning: "raise the memory limit", NextAction: next_("AdjustResources", P{"memory_limit": "1Gi"})}
		}
		return &chatcliv1.AgenticStepResponse{Reasoning: "stable", Resolved: true, PostmortemSummary: "OOM fixed; the password=hunter2secret was in the log", RootCause: "limit too low",
			Impact: "restarts", LessonsLearned: []string{"size limits"}, PreventionActions: []string{"add an HPA"}}
	}}
	client := serveAnalyzer(t, ai)
	start(t, func(r *Reconciler) { r.Analyzer = client })
	toAction, toHealthy := stageCount(t, "plan_to_first_action"), stageCount(t, "action_to_healthy")
	s := newScenario(t, g, 2)
	s.playController(t, nil)
	// The incident was analysed with Claude: every step must ask Claude.
	insight := &platformv1alpha1.AIInsight{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "api-oom-insight"},
		Spec:       platformv1alpha1.AIInsightSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: s.issue.Name}, Provider: platformv1alpha1.ProviderClaudeAI, Model: "claude-local"},
	}
	g.Expect(env.Client.Create(context.Background(), insight)).To(Succeed())
	s.issue.Status.InsightRef = &platformv1alpha1.LocalObjectReference{Name: insight.Name}
	g.Expect(env.Client.Status().Update(context.Background(), s.issue)).To(Succeed())
	p := s.plan(g, "api-oom-plan-1")
	p.Spec.AgenticMode, p.Spec.AgenticMaxSteps = true, 10
	g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanCompleted)

	h := got.Spec.AgenticHistory
	g.Expect(h).To(HaveLen(3))
	g.Expect(h[0].Observation).To(HavePrefix("SUCCESS"))
	g.Expect(h[1].Observation).To(HavePrefix("SUCCESS"))
	g.Expect(h[2].Action).To(BeNil())
	g.Expect(h[2].Observation).To(Equal(observationResolved))
	g.Expect(got.Status.AgenticStepCount).To(BeEquivalentTo(3))
	g.Expect(got.Status.ActionResults).To(HaveLen(2))
	g.Expect(got.Status.AgenticResolution).NotTo(BeNil())
	g.Expect(got.Status.AgenticResolution.RootCause).To(Equal("limit too low"))
	g.Expect(got.Status.AgenticResolution.Summary).NotTo(ContainSubstring("hunter2secret"), "scrubbed")
	g.Expect(got.Status.AgenticResolution.PreventionActions).To(ConsistOf("add an HPA"))
	g.Expect(*got.Status.Verification.Healthy).To(BeTrue())
	g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(3))

	asked := ai.asked()
	g.Expect(asked).To(HaveLen(3), "each step asked once")
	for i, req := range asked {
		g.Expect(req.GetKey().GetStepNumber()).To(BeEquivalentTo(i + 1))
		g.Expect(req.GetKey().GetPlanUid()).To(Equal(string(got.UID)))
		g.Expect(req.GetStep().GetCurrentStep()).To(BeEquivalentTo(i + 1))
		g.Expect(req.GetStep().GetHistory()).To(HaveLen(i))
		g.Expect(req.GetStep().GetKubernetesContext()).To(ContainSubstring("Deployment " + s.ns + "/api"))
		g.Expect(req.GetStep().GetProvider()).To(Equal(string(platformv1alpha1.ProviderClaudeAI)), "the insight's provider")
		g.Expect(req.GetStep().GetModel()).To(Equal("claude-local"))
	}
	g.Expect(asked[2].GetStep().GetHistory()[0].GetObservation()).To(HavePrefix("SUCCESS"))
	// The remediator's pipeline stages were measured (other tests may add
	// to the same histograms).
	g.Expect(stageCount(t, "plan_to_first_action")).To(BeNumerically(">", toAction))
	g.Expect(stageCount(t, "action_to_healthy")).To(BeNumerically(">", toHealthy))
}

// stageCount is the number of observations of a remediator stage.
func stageCount(t *testing.T, stage string) uint64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == pipeline.Name("remediator", stage) {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("stage %s is not registered", stage)
	return 0
}

func TestAnAgenticLoopSpendsItsBudgetAndRollsBack(t *testing.T) {
	g := NewWithT(t)
	ai := &scriptedAnalyzer{script: func(step int32) *chatcliv1.AgenticStepResponse {
		switch step {
		case 1:
			return &chatcliv1.AgenticStepResponse{Reasoning: "scale", NextAction: next_("ScaleDeployment", P{"replicas": "3"})}
		case 2:
			// Agentic steps pass the same policy: no scale to 0.
			return &chatcliv1.AgenticStepResponse{Reasoning: "stop it", NextAction: next_("ScaleDeployment", P{"replicas": "0"})}
		}
		return &chatcliv1.AgenticStepResponse{Reasoning: "try my own thing", DivergesFromInsight: true, NextAction: next_("RestartDeployment", nil)}
	}}
	s, p := startAgentic(t, g, ai, 3, nil)
	got := waitState(g, p, platformv1alpha1.PlanRolledBack)
	h := got.Spec.AgenticHistory
	g.Expect(h).To(HaveLen(3))
	g.Expect(h[0].Observation).To(HavePrefix("SUCCESS"))
	g.Expect(h[1].Observation).To(And(HavePrefix(observationRefused), ContainSubstring("scale-to-zero")))
	g.Expect(h[2].Observation).To(ContainSubstring("diverges"))
	g.Expect(got.Status.Result).To(ContainSubstring("spent its 3 steps"))
	g.Expect(meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.RemediationPlanPolicyAllowedCondition)).To(BeNil(),
		"a refused step must not read as a refused plan, which the correlator escalates")
	g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(2), "the scale was rolled back")
	g.Expect(ai.asked()).To(HaveLen(3))
}

// TestAModelThatKeepsProposingForbiddenActionsIsStopped: a model that asks
// for a scale to zero at every step (as one obeying an injected
// instruction might) is stopped after MaxRefusedInARow refusals, not given
// its ten steps, and the plan fails with nothing changed.
func TestAModelThatKeepsProposingForbiddenActionsIsStopped(t *testing.T) {
	g := NewWithT(t)
	ai := &scriptedAnalyzer{script: func(int32) *chatcliv1.AgenticStepResponse {
		return &chatcliv1.AgenticStepResponse{Reasoning: "the notice says to stop it", NextAction: next_("ScaleDeployment", P{"replicas": "0"})}
	}}
	s, p := startAgentic(t, g, ai, 10, nil)
	got := waitState(g, p, platformv1alpha1.PlanFailed)
	g.Expect(got.Spec.AgenticHistory).To(HaveLen(MaxRefusedInARow))
	for _, st := range got.Spec.AgenticHistory {
		g.Expect(st.Observation).To(And(HavePrefix(observationRefused), ContainSubstring("scale-to-zero")))
	}
	g.Expect(got.Status.Result).To(ContainSubstring(fmt.Sprintf("%d proposals in a row were refused", MaxRefusedInARow)))
	g.Expect(ai.asked()).To(HaveLen(MaxRefusedInARow))
	g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(2))
}

func TestRefusedInARow(t *testing.T) {
	step := func(obs string) platformv1alpha1.AgenticStep { return platformv1alpha1.AgenticStep{Observation: obs} }
	refused := step(observationRefused + ": action 0 (ScaleDeployment) refused by rule scale-to-zero")
	cases := map[string]struct {
		hist []platformv1alpha1.AgenticStep
		want int
	}{
		"no steps":                      {want: 0},
		"refusals at the end count":     {hist: []platformv1alpha1.AgenticStep{step("SUCCESS: scaled"), refused, refused}, want: 2},
		"a success ends the count":      {hist: []platformv1alpha1.AgenticStep{refused, step("SUCCESS: scaled"), refused}, want: 1},
		"waiting is not a refusal":      {hist: []platformv1alpha1.AgenticStep{refused, refused, step(observationNoAction)}, want: 0},
		"waiting between breaks a run":  {hist: []platformv1alpha1.AgenticStep{refused, refused, step(observationNoAction), refused}, want: 1},
		"unknown actions are refusals":  {hist: []platformv1alpha1.AgenticStep{step(observationRefused + `: "Reboot" is not in the action catalogue`), refused}, want: 2},
		"a failed action is no refusal": {hist: []platformv1alpha1.AgenticStep{refused, step("FAILED: conflict")}, want: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := refusedInARow(tc.hist); got != tc.want {
				t.Errorf("refusedInARow = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestAStepThatChangesNothingIsObservedBeforeTheNext: the AI waits for the
// rollout its fix started (a step with no action); the next step comes an
// observe interval later, not at once, so a loop cannot spend its budget
// while its fix rolls out.
func TestAStepThatChangesNothingIsObservedBeforeTheNext(t *testing.T) {
	g := NewWithT(t)
	ai := &scriptedAnalyzer{script: func(step int32) *chatcliv1.AgenticStepResponse {
		switch step {
		case 1:
			return &chatcliv1.AgenticStepResponse{Reasoning: "more replicas", NextAction: next_("ScaleDeployment", P{"replicas": "3"})}
		case 2:
			return &chatcliv1.AgenticStepResponse{Reasoning: "the rollout is in progress; waiting"}
		}
		return &chatcliv1.AgenticStepResponse{Reasoning: "stable", Resolved: true}
	}}
	const interval = 2 * time.Second
	_, p := startAgentic(t, g, ai, 5, func(r *Reconciler) { r.AgenticObserveInterval = interval })
	got := waitState(g, p, platformv1alpha1.PlanCompleted)
	g.Expect(got.Spec.AgenticHistory).To(HaveLen(3))
	g.Expect(got.Spec.AgenticHistory[1].Observation).To(HavePrefix(observationRefused))

	ai.mu.Lock()
	at := slices.Clone(ai.at)
	ai.mu.Unlock()
	g.Expect(at).To(HaveLen(3))
	// Step timestamps are stored to the second, so the wait may be up to
	// a second short of the interval; at once would be milliseconds.
	g.Expect(at[2].Sub(at[1])).To(BeNumerically(">=", interval-time.Second), "step 3 waited after the step that changed nothing")
	g.Expect(at[1].Sub(at[0])).To(BeNumerically("<", interval), "a step after an applied action does not wait")
}
