package aiinsight

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/llm"
	"github.com/chatcli/aiops/libs/scrub"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
	"github.com/chatcli/aiops/services/analyzer/internal/analysis"
	"github.com/chatcli/aiops/services/analyzer/internal/validate"
)

// benchFixture is the OOM fixture with 5 pods and 15 events.
func benchFixture(b *testing.B) *fixture {
	f := newFixture(b, platformv1alpha1.SignalOOMKill, "OOMKilled", "Back-off restarting failed container app; token=abcdefgh12345678")
	ctx := testContext(b)
	first := &corev1.Pod{}
	must(b, env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "web-h1-a"}, first))
	for i := range 4 {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: fmt.Sprintf("web-h1-%d", i), Labels: first.Labels, OwnerReferences: first.OwnerReferences},
			Spec:       corev1.PodSpec{NodeName: "fake-node", Containers: []corev1.Container{{Name: "app", Image: "web:1"}}, TerminationGracePeriodSeconds: ptr.To[int64](0)},
		}
		must(b, env.Client.Create(ctx, p))
		p.Status = first.Status
		must(b, env.Client.Status().Update(ctx, p))
	}
	for i := range 14 {
		must(b, env.Client.Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Namespace: f.ns, GenerateName: "web-"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: f.ns, Name: fmt.Sprintf("web-h1-%d", i%4)},
			Reason:         "BackOff", Message: fmt.Sprintf("Back-off %d restarting failed container app from 10.0.0.%d", i, i), Type: corev1.EventTypeWarning, LastTimestamp: metav1.Now(),
		}))
	}
	return f
}

func reportP99(b *testing.B, durations []time.Duration) {
	slices.Sort(durations)
	if len(durations) == 0 {
		return
	}
	p99 := durations[min(len(durations)-1, len(durations)*99/100)]
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}

// BenchmarkOverhead is the analysis without LLM time: the context of a
// Deployment with 5 pods and 15 events, render, scrub, prompt, BUILTIN,
// parse and validation. The target is p99 < 50 ms.
func BenchmarkOverhead(b *testing.B) {
	f := benchFixture(b)
	builder := &k8sctx.Builder{Reader: f.id.Client}
	svc := analysis.NewService(scrub.Default(), validate.Default{})
	checker := validate.Default{}
	ctx := testContext(b)
	var durations []time.Duration
	for b.Loop() {
		start := time.Now()
		c, err := builder.Build(ctx, k8sctx.Ref{Kind: "Deployment", Namespace: f.ns, Name: "web"})
		if err != nil || len(c.Pods) != 5 || len(c.Events) != 15 {
			b.Fatalf("context: %d pods, %d events, %v", len(c.Pods), len(c.Events), err)
		}
		rendered, err := c.Render(0)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := svc.AnalyzeIssue(ctx, &chatcliv1.AnalyzeIssueRequest{
			IssueName: "web", Namespace: f.ns, ResourceKind: "Deployment", ResourceName: "web", SignalType: "oom_kill",
			KubernetesContext: scrub.Default().Scrub(string(rendered)).String(),
		})
		if err != nil {
			b.Fatal(err)
		}
		var raw []llm.Action
		for _, a := range resp.GetSuggestedActions() {
			raw = append(raw, llm.Action{Action: a.GetAction(), Params: a.GetParams()})
		}
		if res := validate.Actions(ctx, checker, f.target, raw); len(res.Accepted) != 1 {
			b.Fatalf("accepted %v", res.Accepted)
		}
		durations = append(durations, time.Since(start))
	}
	reportP99(b, durations)
}

// BenchmarkInsightReady is an AIInsight created → Ready with BUILTIN over
// TLS loopback gRPC, one reconcile pass each. The target is p99 < 200 ms.
func BenchmarkInsightReady(b *testing.B) {
	f := benchFixture(b)
	r := f.reconciler(b, servePool(b))
	ctx := testContext(b)
	var durations []time.Duration
	i := 0
	for b.Loop() {
		i++
		start := time.Now()
		in := &platformv1alpha1.AIInsight{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: fmt.Sprintf("bench-%d", i)},
			Spec:       platformv1alpha1.AIInsightSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: f.issue.Name}, Attempt: 1},
		}
		must(b, env.Client.Create(ctx, in))
		if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(in)}); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
	}
	reportP99(b, durations)

}
