package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

// task is what the analyzer asked a model for, told by its system prompt.
type task string

const (
	taskAnalyze   task = "analyze"
	taskAgentic   task = "agentic"
	taskSummarize task = "summarize"
)

// taskOf reads the task from a system prompt: each of the analyzer's
// prompts starts with its own first line (a retry or a repair adds to the
// end, never the start).
func taskOf(system string) task {
	for t, prompt := range map[task]string{taskAnalyze: llm.AnalyzeSystemPrompt, taskAgentic: llm.AgenticSystemPrompt, taskSummarize: llm.SummarizeSystemPrompt} {
		first, _, _ := strings.Cut(prompt, "\n")
		if strings.HasPrefix(system, first) {
			return t
		}
	}
	return ""
}

// claudeCall is one request the scripted model received.
type claudeCall struct {
	task task
	// n counts the calls of this task, from 1.
	n int
	// body is the request as sent, for assertions on what left the
	// analyzer.
	body string
	// apiKey is the credential the request carried.
	apiKey string
}

// scriptedClaude is the one stand-in of the e2e: a local HTTP server that
// speaks the Anthropic Messages API (POST /v1/messages, x-api-key, a
// tool_use answer), so the analyzer's real CLAUDEAI provider, SDK
// included, talks to it as to Anthropic. answer gives the JSON the model
// submits for a call; the server records every call.
type scriptedClaude struct {
	URL    string
	answer func(c claudeCall) string

	mu    sync.Mutex
	calls []claudeCall
}

const claudeKey = "sk-ant-e2e-scripted-model-key"

func startScriptedClaude(t *testing.T, answer func(c claudeCall) string) *scriptedClaude {
	t.Helper()
	s := &scriptedClaude{answer: answer}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.URL = "http://" + lis.Addr().String()
	return s
}

func (s *scriptedClaude) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil || r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		http.Error(w, `{"type":"error","error":{"type":"not_found_error","message":"not found"}}`, http.StatusNotFound)
		return
	}
	var body struct {
		System []struct {
			Text string `json:"text"`
		} `json:"system"`
	}
	_ = json.Unmarshal(raw, &body)
	system := ""
	if len(body.System) > 0 {
		system = body.System[0].Text
	}
	// The SDK sends the key as x-api-key or as a bearer token, by version.
	key := r.Header.Get("x-api-key")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && key == "" {
		key = bearer
	}
	call := claudeCall{task: taskOf(system), body: string(raw), apiKey: key}
	s.mu.Lock()
	for _, c := range s.calls {
		if c.task == call.task {
			call.n++
		}
	}
	call.n++
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	input := s.answer(call)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"id":"msg_e2e","type":"message","role":"assistant","model":"claude-e2e","content":[{"type":"tool_use","id":"toolu_e2e","name":"submit_answer","input":`+
		input+`}],"stop_reason":"tool_use","usage":{"input_tokens":800,"output_tokens":120}}`)
}

// received returns the calls of t so far.
func (s *scriptedClaude) received(t task) []claudeCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []claudeCall
	for _, c := range s.calls {
		if c.task == t {
			out = append(out, c)
		}
	}
	return out
}

// summaryAnswer is a post-mortem text any summarize call gets.
const summaryAnswer = `{"summary":"The incident was handled by the platform.","rootCause":"See the analysis.","impact":"Pods restarted until the fix.","lessonsLearned":["Review the workload's limits."],"preventionActions":["Alert on restarts earlier."]}`

// claudeInstance makes the Instance of ns name Claude, with an apiKeys
// Secret that points the provider at the scripted model, and waits until
// the instance-operator has made it Ready (its server Deployment
// available on the fake nodes): from then on the correlator picks CLAUDEAI
// for the namespace's incidents.
func claudeInstance(ctx context.Context, t *testing.T, ns string, model *scriptedClaude) {
	t.Helper()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "claude-keys"},
		StringData: map[string]string{"ANTHROPIC_API_KEY": claudeKey, "ANTHROPIC_BASE_URL": model.URL},
	}
	inst := &platformv1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "assistant"},
		Spec: platformv1alpha1.InstanceSpec{
			Provider: platformv1alpha1.ProviderClaudeAI, Model: "claude-e2e",
			APIKeys: &platformv1alpha1.LocalObjectReference{Name: secret.Name},
		},
	}
	for _, obj := range []client.Object{secret, inst} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(inst), inst); err != nil {
			return false, nil
		}
		return meta.IsStatusConditionTrue(inst.Status.Conditions, platformv1alpha1.InstanceReadyCondition), nil
	})
	if err != nil {
		t.Fatalf("Instance %s/%s never became Ready through the instance-operator: %+v", ns, inst.Name, inst.Status)
	}
}
