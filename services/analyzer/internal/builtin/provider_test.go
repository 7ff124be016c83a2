package builtin

import (
	"context"
	"strings"
	"testing"

	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/llm"
	"github.com/chatcli/aiops/libs/scrub"
)

// FuzzProvider: BUILTIN reads untrusted JSON (a document, and inside it a
// rendered context); whatever it is given, it never panics, and what it
// answers parses.
func FuzzProvider(f *testing.F) {
	f.Add(`{"issue":{"name":"a","namespace":"b","resourceKind":"Deployment","resourceName":"w","signalType":"oom_kill"},"kubernetesContext":"{\"found\":true,\"workload\":{\"containers\":[{\"name\":\"app\",\"limits\":{\"memory\":\"1e9\"}}]},\"pods\":[{\"failing\":true,\"containers\":[{\"name\":\"app\",\"reason\":\"OOMKilled\"}]}]}"}`)
	f.Add(`{"issue":{"signalType":"hpa_maxed","resourceKind":"HorizontalPodAutoscaler"},"kubernetesContext":"{\"hpa\":{\"maxReplicas\":2147483647}}"}`)
	f.Add(`{"issue":{"signalType":"crashloop_backoff","resourceKind":"StatefulSet"},"kubernetesContext":"{\"revisions\":[{\"number\":3,\"current\":true}],\"lastHealthyRevision\":2}","history":[{"action":"RollbackStatefulSet"}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		text := scrub.Default().Scrub(doc)
		for _, task := range []llm.Task{llm.TaskAnalyze, llm.TaskAgenticStep, llm.TaskSummarize} {
			resp, err := Provider{}.Complete(context.Background(), llm.Request{Task: task, Untrusted: text})
			if err != nil {
				continue
			}
			switch task {
			case llm.TaskAnalyze:
				_, err = llm.ParseAnalysis(resp.Text)
			case llm.TaskAgenticStep:
				_, err = llm.ParseAgenticDecision(resp.Text)
			case llm.TaskSummarize:
				_, err = llm.ParseSummary(resp.Text)
			}
			if err != nil {
				t.Fatalf("%s answer does not parse: %v\n%s", task, err, resp.Text)
			}
		}
	})
}

// TestAgenticAnswerWaitsForItsOwnRollout: after a step's action, a
// workload still rolling out is waited for (no action, not resolved, said
// so), not handed to a person, and a healthy one is resolved.
func TestAgenticAnswerWaitsForItsOwnRollout(t *testing.T) {
	ref := k8sctx.Ref{Kind: "Deployment", Namespace: "shop", Name: "web"}
	workload := func(generation, observed int64, updated, available int32) *k8sctx.Workload {
		return &k8sctx.Workload{Generation: generation, ObservedGeneration: observed, Desired: 2, Updated: updated, Available: available}
	}
	rolledBack := []Step{{Action: "RollbackDeployment"}}
	tests := map[string]struct {
		context      *k8sctx.Context
		history      []Step
		wantResolved bool
		wantWords    string
	}{
		"Healthy":             {context: &k8sctx.Context{Resource: ref, Found: true, Healthy: true, Workload: workload(3, 3, 2, 2)}, history: rolledBack, wantResolved: true, wantWords: "healthy after RollbackDeployment"},
		"NotObservedYet":      {context: &k8sctx.Context{Resource: ref, Found: true, Workload: workload(3, 2, 2, 2)}, history: rolledBack, wantWords: "still in progress"},
		"ReplicasNotUpdated":  {context: &k8sctx.Context{Resource: ref, Found: true, Workload: workload(3, 3, 1, 1)}, history: rolledBack, wantWords: "still in progress"},
		"RolledOutAndFailing": {context: &k8sctx.Context{Resource: ref, Found: true, Workload: workload(3, 3, 2, 2)}, history: rolledBack, wantWords: "needs a person"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := Input{Signal: "crashloop_backoff", Resource: ref, Context: tc.context}
			d := agenticAnswer(in, &Document{History: tc.history})
			if d.Resolved != tc.wantResolved || (!d.Resolved && d.NextAction != nil) || !strings.Contains(d.Reasoning+d.PostmortemSummary, tc.wantWords) {
				t.Errorf("decision = resolved %v, action %+v, reasoning %q; want resolved %v, no action, words %q", d.Resolved, d.NextAction, d.Reasoning, tc.wantResolved, tc.wantWords)
			}
		})
	}
}
