package builtin

import (
	"context"
	"testing"

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
