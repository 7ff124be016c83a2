package issue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/testenv"
	"github.com/chatcli/aiops/services/correlator/internal/reconcilers/anomaly"
)

// BenchmarkAnomalyToIssue runs the correlator's two reconcilers in one
// manager, as the service does (with Redis), against a burst of 1,000
// Anomalies on 100 Deployments (ten each, the OOM triple among them, in
// random order), and measures per Anomaly the time from its create to its
// status naming the Issue it joined (the Issue exists by then). Target:
// p99 < 300 ms and exactly 100 Issues, each with signalType oom_kill.
//
// Then it plays the analyzer and the remediator for every Issue until all
// are Resolved with their dedup keys released, and prints the writes the
// correlator made per incident, from the API server's own
// apiserver_request_total: everything written to Issues, Anomalies,
// AIInsight creates and Events (nothing else in the benchmark writes
// those; its own Anomaly creates and AIInsight status writes are left
// out). Target: one Issue status write per transition.
//
//	go test -run '^$' -bench AnomalyToIssue -benchtime 1x ./services/correlator/internal/reconcilers/issue/
func BenchmarkAnomalyToIssue(b *testing.B) {
	const (
		resources   = 100
		perResource = 10
	)
	ctx := context.Background()
	redisServer, err := testenv.StartLocalRedis(ctx, "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(redisServer.Stop)
	redis, err := redisx.New(redisServer.URL, redisx.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = redis.Close() })
	p := startPeers(b)
	startReconcilerWith(b, &Reconciler{Redis: redis}, p, func(mgr ctrl.Manager) error {
		return (&anomaly.Reconciler{
			Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Redis: redis, Now: time.Now, Workers: 8,
		}).SetupWithManager(mgr)
	})
	ns := env.NewNamespace(b, "bench", nil)
	burst := benchBurst(ns, resources, perResource)

	// An informer (it watches again when the API server drops a watcher
	// that falls behind in the burst) starts before the first create, so no
	// status is missed.
	var mu sync.Mutex
	created := map[string]time.Time{}
	correlated := map[string]time.Time{}
	allCorrelated := make(chan struct{})
	seen := func(obj any) {
		a, ok := obj.(*platformv1alpha1.Anomaly)
		if !ok || !a.Status.Correlated || a.Status.IssueRef == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, done := correlated[a.Name]; !done {
			correlated[a.Name] = time.Now()
			if len(correlated) == len(burst) {
				close(allCorrelated)
			}
		}
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if err := watchAnomalies(watchCtx, ns, toolscache.ResourceEventHandlerFuncs{
		AddFunc: seen, UpdateFunc: func(_, obj any) { seen(obj) },
	}); err != nil {
		b.Fatal(err)
	}
	before, err := apiWrites(ctx)
	if err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	burstStart := time.Now()
	group, gctx := errgroup.WithContext(ctx)
	group.SetLimit(32)
	for _, a := range burst {
		group.Go(func() error {
			at := time.Now()
			if err := env.Client.Create(gctx, a); err != nil {
				return fmt.Errorf("create Anomaly %s: %w", a.Name, err)
			}
			mu.Lock()
			created[a.Name] = at
			mu.Unlock()
			return nil
		})
	}
	if err := group.Wait(); err != nil {
		b.Fatal(err)
	}
	burstTook := time.Since(burstStart)
	select {
	case <-allCorrelated:
	case <-time.After(30 * time.Second):
		mu.Lock()
		stored := &platformv1alpha1.AnomalyList{}
		_ = env.Client.List(ctx, stored, client.InNamespace(ns))
		n := 0
		for _, a := range stored.Items {
			if a.Status.Correlated {
				n++
			}
		}
		b.Fatalf("%d of %d Anomalies seen correlated after 30 s (%d of %d stored say so)", len(correlated), len(burst), n, len(stored.Items))
	}
	b.StopTimer()

	mu.Lock()
	latencies := make([]time.Duration, 0, len(burst))
	for name, at := range created {
		latencies = append(latencies, correlated[name].Sub(at))
	}
	mu.Unlock()
	slices.Sort(latencies)
	quantile := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }

	issues := &platformv1alpha1.IssueList{}
	if err := env.Client.List(ctx, issues, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	oom := 0
	for _, i := range issues.Items {
		if i.Spec.SignalType == platformv1alpha1.SignalOOMKill {
			oom++
		}
	}

	if err := resolveAll(ctx, ns, resources); err != nil {
		b.Fatal(err)
	}
	after, err := apiWrites(ctx)
	if err != nil {
		b.Fatal(err)
	}
	writes := after.minus(before)

	fmt.Printf("\ncorrelator: %d Anomalies on %d Deployments, created 32 at a time in %s\n", len(burst), resources, burstTook.Round(time.Millisecond))
	fmt.Printf("  Anomaly created -> correlated to its Issue: p50 %s  p99 %s  max %s  (target p99 < 300ms)\n",
		quantile(0.50).Round(time.Millisecond), quantile(0.99).Round(time.Millisecond), latencies[len(latencies)-1].Round(time.Millisecond))
	fmt.Printf("  Issues: %d (target %d), signalType oom_kill: %d\n", len(issues.Items), resources, oom)
	fmt.Printf("  API writes per incident, Detected -> Analyzing -> Remediating -> Resolved (3 transitions) and dedup released:\n")
	for _, row := range writes.rows() {
		fmt.Printf("    %-28s %-6s %6.2f\n", row.resource, row.verb, float64(row.count)/resources)
	}
	fmt.Printf("    %-35s %6.2f  (%d Anomalies each)\n", "total", float64(writes.total())/resources, perResource)
	b.ReportMetric(quantile(0.50).Seconds()*1000, "p50-ms")
	b.ReportMetric(quantile(0.99).Seconds()*1000, "p99-ms")
	b.ReportMetric(float64(len(issues.Items)), "issues")
	b.ReportMetric(float64(writes.of("issues", "status"))/resources, "issue-status-writes/incident")
}

// benchBurst is perResource Anomalies on each of resources Deployments: the
// OOM triple, then other signal types, shuffled across resources.
func benchBurst(ns string, resources, perResource int) []*platformv1alpha1.Anomaly {
	types := []platformv1alpha1.SignalType{
		platformv1alpha1.SignalPodRestart, platformv1alpha1.SignalCrashLoopBackOff, platformv1alpha1.SignalOOMKill,
		platformv1alpha1.SignalPodNotReady, platformv1alpha1.SignalErrorRate, platformv1alpha1.SignalDeployFailing,
	}
	var out []*platformv1alpha1.Anomaly
	for r := range resources {
		res := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: fmt.Sprintf("svc-%03d", r)}
		for i := range perResource {
			typ := types[i%len(types)]
			out = append(out, &platformv1alpha1.Anomaly{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d-%s", res.Name, i, strings.ReplaceAll(string(typ), "_", "-")),
					Labels: map[string]string{platformv1alpha1.LabelResourceKind: "Deployment"}},
				Spec: platformv1alpha1.AnomalySpec{
					SignalType: typ, Source: platformv1alpha1.SourceWatcher, Resource: res,
					Severity: platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityHigh), DetectedAt: metav1.Now(),
				},
			})
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// resolveAll plays the analyzer (each attempt's AIInsight Ready) and the
// remediator's execution (each plan Completed) until every Issue of ns is
// Resolved with its dedup keys released.
func resolveAll(ctx context.Context, ns string, want int) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		issues := &platformv1alpha1.IssueList{}
		if err := env.Client.List(ctx, issues, client.InNamespace(ns)); err != nil {
			return false, err
		}
		done := 0
		for i := range issues.Items {
			issue := &issues.Items[i]
			if issue.Status.State == platformv1alpha1.IssueResolved {
				if c := findCondition(issue.Status.Conditions, platformv1alpha1.IssueDedupReleasedCondition); c != nil && c.Status == metav1.ConditionTrue {
					done++
				}
				continue
			}
			if err := playPeers(ctx, issue); err != nil {
				return false, err
			}
		}
		return done == want && len(issues.Items) == want, nil
	})
}

// playPeers decides the AIInsight and ends the plan an Issue waits for, if
// they exist and are undecided.
func playPeers(ctx context.Context, issue *platformv1alpha1.Issue) error {
	insight := &platformv1alpha1.AIInsight{}
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: InsightName(issue.Name, 1)}, insight)
	if err == nil && len(insight.Status.Conditions) == 0 {
		insight.Status.Conditions = []metav1.Condition{{
			Type: platformv1alpha1.AIInsightReadyCondition, Status: metav1.ConditionTrue, Reason: platformv1alpha1.AIInsightAnalysisCompletedReason,
			Message: "bench", LastTransitionTime: metav1.Now(), ObservedGeneration: insight.Generation,
		}}
		insight.Status.Analysis, insight.Status.Provider, insight.Status.Confidence = "out of memory", platformv1alpha1.ProviderBuiltin, ptr.To(0.9)
		if err := client.IgnoreNotFound(env.Client.Status().Update(ctx, insight)); err != nil && !apierrors.IsConflict(err) {
			return err
		}
	}
	plan := &platformv1alpha1.RemediationPlan{}
	err = env.Client.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: issue.Name + "-plan-1"}, plan)
	if err == nil && plan.Status.State == "" {
		now := metav1.Now()
		plan.Status.State, plan.Status.Result, plan.Status.CompletedAt = platformv1alpha1.PlanCompleted, "bench", &now
		if err := client.IgnoreNotFound(env.Client.Status().Update(ctx, plan)); err != nil && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

// watchAnomalies runs an informer on the Anomalies of ns until ctx ends.
func watchAnomalies(ctx context.Context, ns string, handler toolscache.ResourceEventHandler) error {
	c, err := cache.New(env.Config, cache.Options{Scheme: env.Scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		return err
	}
	informer, err := c.GetInformer(ctx, &platformv1alpha1.Anomaly{})
	if err != nil {
		return err
	}
	if _, err := informer.AddEventHandler(handler); err != nil {
		return err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return errors.New("the Anomaly informer did not sync")
	}
	return nil
}

// requestCounts are apiserver_request_total's write counts, by resource
// (with subresource) and verb.
type requestCounts map[[2]string]int

// correlatorWrite says whether a (resource, verb) pair is one only the correlator
// writes in the benchmark.
func correlatorWrite(resource, verb string) bool {
	switch resource {
	case "issues", "issues/status", "anomalies/status", "events":
		return true
	case "anomalies":
		return verb != "POST" // the benchmark creates them
	case "aiinsights":
		return verb == "POST" // the benchmark writes their status
	}
	return false
}

// apiWrites reads the API server's /metrics as the metrics reader.
func apiWrites(ctx context.Context) (requestCounts, error) {
	config := rest.AnonymousClientConfig(env.Config)
	config.BearerToken = env.Tokens[testenv.MetricsReaderUser]
	httpClient, err := rest.HTTPClientFor(config)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.Config.Host+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get the API server's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get the API server's metrics: %s", resp.Status)
	}
	counts := requestCounts{}
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		labels := map[string]string{}
		for _, kv := range strings.Split(line[len("apiserver_request_total{"):end], ",") {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = strings.Trim(v, `"`)
		}
		verb, resource := labels["verb"], labels["resource"]
		if sub := labels["subresource"]; sub != "" {
			resource += "/" + sub
		}
		switch verb {
		case "POST", "PUT", "PATCH", "DELETE", "APPLY":
		default:
			continue
		}
		if !correlatorWrite(resource, verb) {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", line, err)
		}
		counts[[2]string{resource, verb}] += int(n)
	}
	return counts, scanner.Err()
}

func (c requestCounts) minus(before requestCounts) requestCounts {
	out := requestCounts{}
	for k, v := range c {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

type writeRow struct {
	resource, verb string
	count          int
}

func (c requestCounts) rows() []writeRow {
	var out []writeRow
	for k, v := range c {
		out = append(out, writeRow{k[0], k[1], v})
	}
	slices.SortFunc(out, func(a, b writeRow) int { return strings.Compare(a.resource+a.verb, b.resource+b.verb) })
	return out
}

func (c requestCounts) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

func (c requestCounts) of(resource, sub string) int {
	n := 0
	for k, v := range c {
		if k[0] == resource+"/"+sub {
			n += v
		}
	}
	return n
}
