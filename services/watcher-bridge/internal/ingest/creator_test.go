package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/signals"
	"github.com/chatcli/aiops/libs/testenv"
)

func newRedis(t *testing.T, url string) *redisx.Client {
	t.Helper()
	r, err := redisx.New(url, redisx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// redisURL is the shared Redis, or one that has been stopped.
func redisURL(t *testing.T, down bool) string {
	t.Helper()
	if !down {
		return env.Redis.URL
	}
	private, err := testenv.StartLocalRedis(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	private.Stop()
	return private.URL
}

// asWatcherBridge is a client that acts as the watcher-bridge's
// ServiceAccount under its generated role, so that a missing permission
// fails the test.
func asWatcherBridge(t *testing.T) client.Client {
	t.Helper()
	return env.AsService(t, "watcher-bridge", env.NewNamespace(t, "platform", nil)).Client
}

// allScope watches everything, for tests about other things than scope.
type allScope struct{}

func (allScope) Covers(platformv1alpha1.ResourceReference) bool { return true }
func (allScope) CoversNamespace(string) bool                    { return true }

func everywhere(context.Context) (Scope, error) { return allScope{}, nil }

func newCreator(t *testing.T, r *redisx.Client) *Creator {
	t.Helper()
	wb := asWatcherBridge(t)
	c, err := NewCreator(Config{
		Client: wb, APIReader: wb, Redis: r,
		FallbackNamespace: "default", Scope: everywhere, Logger: testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func restartSignal(ns string) signals.Signal {
	return signals.Signal{
		Type: platformv1alpha1.SignalPodRestart, Source: platformv1alpha1.SourceWatcher,
		Severity:    platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityMedium),
		Resource:    platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "api-gateway", UID: "uid-1"},
		Description: "HighRestartCount on api-gateway: container app restarted 8 times",
		DetectedAt:  time.Now().UTC().Truncate(time.Second),
		Value:       "8", Threshold: "3",
	}
}

func anomalies(t *testing.T, ns string) []platformv1alpha1.Anomaly {
	t.Helper()
	list := &platformv1alpha1.AnomalyList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func ingest(t *testing.T, c *Creator, batch ...signals.Signal) []signals.IngestResult {
	t.Helper()
	res, err := c.Ingest(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCreatesTheAnomalyOnceAndReportsDuplicates(t *testing.T) {
	ns := env.NewNamespace(t, "ingest", nil)
	c := newCreator(t, newRedis(t, env.Redis.URL))
	first := ingest(t, c, restartSignal(ns))[0]
	if first.Status != signals.IngestCreated {
		t.Fatalf("first sighting: %+v, want created", first)
	}
	second := ingest(t, c, restartSignal(ns))[0]
	if second.Status != signals.IngestDuplicate || second.AnomalyName != first.AnomalyName {
		t.Fatalf("second sighting: %+v, want duplicate of %s", second, first.AnomalyName)
	}
	items := anomalies(t, ns)
	if len(items) != 1 {
		t.Fatalf("%d Anomalies, want 1", len(items))
	}
	// The resource index must live as long as the dedup key, or
	// InvalidateDedup would miss it once the short claim TTL has passed.
	r := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "api-gateway"}
	// Read the index first: its TTL only falls while we read the key's.
	indexTTL := c.cfg.Redis.Redis().PTTL(context.Background(), redisx.DedupIndexKey(r)).Val()
	keyTTL := c.cfg.Redis.Redis().PTTL(context.Background(), redisx.DedupKey(restartSignal(ns).DedupKey())).Val()
	if keyTTL < 29*time.Minute || indexTTL < keyTTL {
		t.Errorf("dedup key TTL %s, index TTL %s: want about 30m, index at least as long", keyTTL, indexTTL)
	}
	got := items[0].Spec
	if got.SignalType != platformv1alpha1.SignalPodRestart || got.Resource.Name != "api-gateway" || got.Value != "8" ||
		got.Description != "HighRestartCount on api-gateway: container app restarted 8 times" {
		t.Errorf("Anomaly spec = %+v", got)
	}
}

// TestTwoProcessesSeeingTheSameFaultCreateOneAnomaly runs two Creators,
// each with its own Redis connection pool and memory, as two watcher-bridge
// replicas would, racing on the same fault.
func TestTwoProcessesSeeingTheSameFaultCreateOneAnomaly(t *testing.T) {
	ns := env.NewNamespace(t, "ingest", nil)
	replicas := []*Creator{newCreator(t, newRedis(t, env.Redis.URL)), newCreator(t, newRedis(t, env.Redis.URL))}
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := replicas[i%2].Ingest(context.Background(), []signals.Signal{restartSignal(ns)})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if res[0].Status == signals.IngestCreated {
				created++
			}
		}()
	}
	wg.Wait()
	if n := len(anomalies(t, ns)); n != 1 || created != 1 {
		t.Fatalf("%d Anomalies and %d created results, want 1 and 1", n, created)
	}
}

func TestARestartCreatesNothingAnew(t *testing.T) {
	ns := env.NewNamespace(t, "ingest", nil)
	redis := newRedis(t, env.Redis.URL)
	ingest(t, newCreator(t, redis), restartSignal(ns))

	// A fresh process with the same Redis.
	if res := ingest(t, newCreator(t, redis), restartSignal(ns))[0]; res.Status != signals.IngestDuplicate {
		t.Fatalf("after restart: %+v, want duplicate", res)
	}
	// A fresh process after Redis lost its data: the deterministic name
	// still finds the open incident.
	if err := redis.Redis().FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if res := ingest(t, newCreator(t, redis), restartSignal(ns))[0]; res.Status != signals.IngestDuplicate {
		t.Fatalf("after Redis lost its data: %+v, want duplicate", res)
	}
	if n := len(anomalies(t, ns)); n != 1 {
		t.Fatalf("%d Anomalies, want 1", n)
	}
}

// TestRecurrenceAfterTheIssueEndsIsANewAnomaly ends the incident the way the
// correlator does (Issue Resolved, then InvalidateDedup) and checks that the
// fault coming back is a new Anomaly, itself deduplicated.
func TestRecurrenceAfterTheIssueEndsIsANewAnomaly(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "ingest", nil)
	c := newCreator(t, newRedis(t, env.Redis.URL))
	first := ingest(t, c, restartSignal(ns))[0]

	// Before the Issue ends, InvalidateDedup alone does not split the incident.
	if _, err := c.InvalidateDedup(ctx, restartSignal(ns).Resource); err != nil {
		t.Fatal(err)
	}
	if res := ingest(t, c, restartSignal(ns))[0]; res.Status != signals.IngestDuplicate {
		t.Fatalf("while the incident is open: %+v, want duplicate", res)
	}

	endIncident(t, ns, first.AnomalyName)
	cleared, err := c.InvalidateDedup(ctx, restartSignal(ns).Resource)
	if err != nil || cleared != 1 {
		t.Fatalf("InvalidateDedup cleared %d keys (%v), want 1", cleared, err)
	}
	// A fresh process, so that the recurrence is found on the API server,
	// not in this Creator's memory.
	c2 := newCreator(t, newRedis(t, env.Redis.URL))
	second := ingest(t, c2, restartSignal(ns))[0]
	if second.Status != signals.IngestCreated || second.AnomalyName == first.AnomalyName {
		t.Fatalf("recurrence: %+v, want a new Anomaly", second)
	}
	if res := ingest(t, c2, restartSignal(ns))[0]; res.Status != signals.IngestDuplicate || res.AnomalyName != second.AnomalyName {
		t.Fatalf("recurrence seen again: %+v, want duplicate of %s", res, second.AnomalyName)
	}
	if n := len(anomalies(t, ns)); n != 2 {
		t.Fatalf("%d Anomalies, want 2", n)
	}
}

// endIncident correlates the Anomaly into an Issue and resolves it.
func endIncident(t *testing.T, ns, anomalyName string) {
	t.Helper()
	correlate(t, ns, anomalyName, platformv1alpha1.IssueResolved)
}

// correlate puts the Anomaly into an Issue in the given state.
func correlate(t *testing.T, ns, anomalyName string, state platformv1alpha1.IssueState) {
	t.Helper()
	ctx := context.Background()
	issue := &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Name: "issue-" + anomalyName, Namespace: ns},
		Spec: platformv1alpha1.IssueSpec{
			Severity: platformv1alpha1.SeverityMedium, Source: platformv1alpha1.SourceWatcher,
			SignalType: platformv1alpha1.SignalPodRestart,
			Resource:   platformv1alpha1.ResourceReference{Kind: "Deployment", Name: "api-gateway", Namespace: ns},
		},
	}
	if err := env.Client.Create(ctx, issue); err != nil {
		t.Fatal(err)
	}
	issue.Status.State = state
	if err := env.Client.Status().Update(ctx, issue); err != nil {
		t.Fatal(err)
	}
	anomaly := &platformv1alpha1.Anomaly{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: anomalyName}, anomaly); err != nil {
		t.Fatal(err)
	}
	anomaly.Status.Correlated = true
	anomaly.Status.IssueRef = &platformv1alpha1.LocalObjectReference{Name: issue.Name}
	if err := env.Client.Status().Update(ctx, anomaly); err != nil {
		t.Fatal(err)
	}
}

func TestRedisDownCreationGoesOnWithoutDuplicates(t *testing.T) {
	ns := env.NewNamespace(t, "ingest", nil)
	private, err := testenv.StartLocalRedis(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	redis := newRedis(t, private.URL)
	private.Stop()

	c := newCreator(t, redis)
	before := testutil.ToFloat64(c.cfg.Metrics.RedisUnavailable)
	if res := ingest(t, c, restartSignal(ns))[0]; res.Status != signals.IngestCreated {
		t.Fatalf("with Redis down: %+v, want created", res)
	}
	// Another replica, also without Redis and without this one's memory.
	if res := ingest(t, newCreator(t, redis), restartSignal(ns))[0]; res.Status != signals.IngestDuplicate {
		t.Fatalf("second replica with Redis down: %+v, want duplicate", res)
	}
	if n := len(anomalies(t, ns)); n != 1 {
		t.Fatalf("%d Anomalies, want 1", n)
	}
	if got := testutil.ToFloat64(c.cfg.Metrics.RedisUnavailable) - before; got < 1 {
		t.Errorf("redis_unavailable_total rose by %v, want at least 1", got)
	}
}

func TestPodSignalsNameTheTopOwner(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "ingest", nil)
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "checkout"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:1.0"}}},
			},
		},
	}
	if err := env.Client.Create(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-7d9c", Namespace: ns, OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "Deployment", Name: deploy.Name, UID: deploy.UID, Controller: ptr.To(true)},
		}},
		Spec: appsv1.ReplicaSetSpec{Selector: deploy.Spec.Selector, Template: deploy.Spec.Template},
	}
	if err := env.Client.Create(ctx, rs); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-7d9c-abcde", Namespace: ns, OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)},
		}},
		Spec: deploy.Spec.Template.Spec,
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}

	s := restartSignal(ns)
	s.Resource = platformv1alpha1.ResourceReference{Kind: "Pod", Namespace: ns, Name: pod.Name}
	res := ingest(t, newCreator(t, newRedis(t, env.Redis.URL)), s)[0]
	if res.Status != signals.IngestCreated {
		t.Fatalf("%+v, want created", res)
	}
	got := anomalies(t, ns)[0].Spec.Resource
	if got.Kind != "Deployment" || got.Name != "checkout" || got.Namespace != ns {
		t.Fatalf("Anomaly resource = %+v, want Deployment %s/checkout", got, ns)
	}
}

func TestBadSignalsAreRejectedOneByOne(t *testing.T) {
	ns := env.NewNamespace(t, "ingest", nil)
	unknown := restartSignal(ns)
	unknown.Type = "disk_full"
	noName := restartSignal(ns)
	noName.Resource.Name = ""
	noNamespace := restartSignal(ns)
	noNamespace.Resource.Namespace = ""
	groupKind := restartSignal(ns)
	groupKind.Resource.Kind = "apps/v1/Deployment"
	res := ingest(t, newCreator(t, newRedis(t, env.Redis.URL)), unknown, noName, restartSignal(ns), noNamespace, groupKind)
	want := []signals.IngestStatus{signals.IngestRejected, signals.IngestRejected, signals.IngestCreated, signals.IngestRejected, signals.IngestRejected}
	for i, w := range want {
		if res[i].Status != w {
			t.Errorf("signal %d: %+v, want %s", i, res[i], w)
		}
		if w == signals.IngestRejected && res[i].Reason == "" {
			t.Errorf("signal %d rejected without a reason", i)
		}
	}
	if n := len(anomalies(t, ns)); n != 1 {
		t.Fatalf("%d Anomalies, want 1", n)
	}
}

// failingCreates makes the API server refuse the first Anomaly create, as
// when it goes away in the middle of work.
type failingCreates struct {
	client.Client
	failures int
}

func (f *failingCreates) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if f.failures > 0 {
		f.failures--
		return errors.New("connection refused")
	}
	return f.Client.Create(ctx, obj, opts...)
}

func TestAnAPIFailureLosesNothing(t *testing.T) {
	ns := env.NewNamespace(t, "ingest", nil)
	wb := asWatcherBridge(t)
	c, err := NewCreator(Config{
		Client: &failingCreates{Client: wb, failures: 1}, APIReader: wb,
		Redis: newRedis(t, env.Redis.URL), FallbackNamespace: "default", Scope: everywhere,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ingest(context.Background(), []signals.Signal{restartSignal(ns)}); err == nil {
		t.Fatal("Ingest hid the API failure")
	}
	// The caller retries: the dedup claim must not hide the signal.
	if res := ingest(t, c, restartSignal(ns))[0]; res.Status != signals.IngestCreated {
		t.Fatalf("retry: %+v, want created", res)
	}
}

func TestClusterScopedSignalsUseTheFallbackNamespace(t *testing.T) {
	node := restartSignal("")
	node.Type = platformv1alpha1.SignalNodeNotReady
	// Native detection names the Node it read, with its uid.
	node.Resource = platformv1alpha1.ResourceReference{Kind: "Node", Name: fmt.Sprintf("worker-%d", time.Now().UnixNano()), UID: "uid-node"}
	res := ingest(t, newCreator(t, newRedis(t, env.Redis.URL)), node)[0]
	if res.Status != signals.IngestCreated || res.AnomalyNamespace != "default" {
		t.Fatalf("%+v, want created in default", res)
	}
}

// TestAPendingClaimIsNotTakenForAnAnomaly plants the claim of a process
// that died before creating its Anomaly: the signal must still be created.
func TestAPendingClaimIsNotTakenForAnAnomaly(t *testing.T) {
	ns := env.NewNamespace(t, "ingest", nil)
	redis := newRedis(t, env.Redis.URL)
	s := restartSignal(ns)
	r := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "api-gateway"}
	if _, err := redis.DedupResource(context.Background(), r, s.DedupKey(), pendingPrefix+"crashed", pendingTTL); err != nil {
		t.Fatal(err)
	}
	if res := ingest(t, newCreator(t, redis), s)[0]; res.Status != signals.IngestCreated {
		t.Fatalf("%+v, want created despite the dead claim", res)
	}
}

func TestAnEscalatedIncidentStaysOpen(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "ingest", nil)
	c := newCreator(t, newRedis(t, env.Redis.URL))
	first := ingest(t, c, restartSignal(ns))[0]
	correlate(t, ns, first.AnomalyName, platformv1alpha1.IssueEscalated)
	if _, err := c.InvalidateDedup(ctx, restartSignal(ns).Resource); err != nil {
		t.Fatal(err)
	}
	if res := ingest(t, newCreator(t, newRedis(t, env.Redis.URL)), restartSignal(ns))[0]; res.Status != signals.IngestDuplicate {
		t.Fatalf("%+v, want a duplicate of the escalated incident", res)
	}
}

// TestExternalAndNativeSignalsShareDedupKeys sends the same fault once as
// the detectors do (with the workload's UID) and once as Alertmanager does
// (by name only): it must be one Anomaly.
func TestExternalAndNativeSignalsShareDedupKeys(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "ingest", nil)
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api-gateway", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "api:1.0"}}},
			},
		},
	}
	if err := env.Client.Create(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	c := newCreator(t, newRedis(t, env.Redis.URL))
	native := restartSignal(ns)
	native.Resource.UID = deploy.UID
	external := restartSignal(ns)
	external.Resource.UID = ""
	if res := ingest(t, c, native)[0]; res.Status != signals.IngestCreated {
		t.Fatalf("native: %+v, want created", res)
	}
	if res := ingest(t, newCreator(t, newRedis(t, env.Redis.URL)), external)[0]; res.Status != signals.IngestDuplicate {
		t.Fatalf("external: %+v, want duplicate", res)
	}
}

// TestAFreshProcessResumesAtTheLatestIncident deletes the Anomaly of an
// ended incident (retention) while the next one is open: a process with no
// memory must find the open one, not recreate the deleted name.
func TestAFreshProcessResumesAtTheLatestIncident(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "ingest", nil)
	redis := newRedis(t, env.Redis.URL)
	c := newCreator(t, redis)
	first := ingest(t, c, restartSignal(ns))[0]
	endIncident(t, ns, first.AnomalyName)
	if _, err := c.InvalidateDedup(ctx, restartSignal(ns).Resource); err != nil {
		t.Fatal(err)
	}
	second := ingest(t, c, restartSignal(ns))[0]
	if err := env.Client.Delete(ctx, &platformv1alpha1.Anomaly{ObjectMeta: metav1.ObjectMeta{Name: first.AnomalyName, Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := redis.Redis().Del(ctx, redisx.DedupKey(restartSignal(ns).DedupKey())).Err(); err != nil {
		t.Fatal(err)
	}
	wb := asWatcherBridge(t)
	fresh, err := NewCreator(Config{Client: wb, APIReader: wb, Cache: wb, Redis: redis, FallbackNamespace: "default", Scope: everywhere})
	if err != nil {
		t.Fatal(err)
	}
	if res := ingest(t, fresh, restartSignal(ns))[0]; res.Status != signals.IngestDuplicate || res.AnomalyName != second.AnomalyName {
		t.Fatalf("%+v, want a duplicate of the open %s", res, second.AnomalyName)
	}
	if n := len(anomalies(t, ns)); n != 1 {
		t.Fatalf("%d Anomalies, want 1", n)
	}
}

// TestCopiesOfAFaultInOneBatchCreateOneAnomaly sends a burst in which two
// faults repeat, interleaved with a bad signal: the batch is worked on
// concurrently, so the copies race each other like two replicas would.
func TestCopiesOfAFaultInOneBatchCreateOneAnomaly(t *testing.T) {
	tests := map[string]struct {
		redisDown bool
	}{
		"RedisUp":   {},
		"RedisDown": {redisDown: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ns := env.NewNamespace(t, "ingest", nil)
			c := newCreator(t, newRedis(t, redisURL(t, tc.redisDown)))

			gateway, checkout := restartSignal(ns), restartSignal(ns)
			checkout.Resource.Name, checkout.Resource.UID = "checkout", "uid-2"
			bad := restartSignal(ns)
			bad.Type = "vibes"
			var batch []signals.Signal
			for range 20 {
				batch = append(batch, gateway, checkout)
			}
			batch = append(batch, bad)

			results := ingest(t, c, batch...)
			created := map[string]string{}
			for i, res := range results[:len(results)-1] {
				resource := batch[i].Resource.Name
				switch res.Status {
				case signals.IngestCreated:
					if prev, dup := created[resource]; dup {
						t.Errorf("signal %d created %s, but %s was already created for %s", i, res.AnomalyName, prev, resource)
					}
					created[resource] = res.AnomalyName
				case signals.IngestDuplicate:
				default:
					t.Errorf("signal %d on %s: %+v, want created or duplicate", i, resource, res)
				}
			}
			for i, res := range results[:len(results)-1] {
				if want := created[batch[i].Resource.Name]; res.AnomalyName != want {
					t.Errorf("signal %d on %s names %s, want %s", i, batch[i].Resource.Name, res.AnomalyName, want)
				}
			}
			if last := results[len(results)-1]; last.Status != signals.IngestRejected {
				t.Errorf("the bad signal: %+v, want rejected", last)
			}
			if len(created) != 2 {
				t.Errorf("created %v, want one Anomaly for each of the two faults", created)
			}
			if n := len(anomalies(t, ns)); n != 2 {
				t.Errorf("%d Anomalies, want 2", n)
			}
		})
	}
}

// TestASignalTheAPIServerRefusesIsRejectedAlone sends a signal about a
// namespace that does not exist beside a good one: the refusal is that
// signal's answer, not the batch's, so that no sender retries the batch
// forever. With Redis down the refusal must not be remembered as a
// duplicate either.
func TestASignalTheAPIServerRefusesIsRejectedAlone(t *testing.T) {
	tests := map[string]struct {
		redisDown bool
	}{
		"RedisUp":   {},
		"RedisDown": {redisDown: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ns := env.NewNamespace(t, "ingest", nil)
			c := newCreator(t, newRedis(t, redisURL(t, tc.redisDown)))
			nowhere := restartSignal("no-such-namespace")
			for attempt := range 2 {
				res := ingest(t, c, nowhere, restartSignal(ns))
				// The API server's text (which names the service account
				// and what exists) stays in the log.
				if res[0].Status != signals.IngestRejected || res[0].Code != signals.RejectRefused || strings.Contains(res[0].Reason, "no-such-namespace") {
					t.Errorf("attempt %d: signal for a missing namespace: %+v, want rejected as Refused, without the API server's words", attempt, res[0])
				}
				want := signals.IngestCreated
				if attempt > 0 {
					want = signals.IngestDuplicate
				}
				if res[1].Status != want {
					t.Errorf("attempt %d: good signal: %+v, want %s", attempt, res[1], want)
				}
			}
		})
	}
}

// TestAReplicaThatFellBehindDoesNotReopenADeletedGeneration: replica A
// last saw generation 0; replica B has since moved the problem to
// generation 1, and generation 0's Anomaly has been deleted. A must find
// the open generation 1, not take the free name of generation 0.
func TestAReplicaThatFellBehindDoesNotReopenADeletedGeneration(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "ingest", nil)
	redis := newRedis(t, env.Redis.URL)
	replica := func() *Creator {
		wb := asWatcherBridge(t)
		c, err := NewCreator(Config{Client: wb, APIReader: wb, Cache: wb, Redis: redis, FallbackNamespace: "default", Scope: everywhere})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := replica(), replica()
	first := ingest(t, a, restartSignal(ns))[0]
	endIncident(t, ns, first.AnomalyName)
	if _, err := b.InvalidateDedup(ctx, restartSignal(ns).Resource); err != nil {
		t.Fatal(err)
	}
	second := ingest(t, b, restartSignal(ns))[0]
	if second.Status != signals.IngestCreated || second.AnomalyName == first.AnomalyName {
		t.Fatalf("recurrence on replica B: %+v, want a new Anomaly", second)
	}
	if err := env.Client.Delete(ctx, &platformv1alpha1.Anomaly{ObjectMeta: metav1.ObjectMeta{Name: first.AnomalyName, Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := redis.Redis().Del(ctx, redisx.DedupKey(restartSignal(ns).DedupKey())).Err(); err != nil {
		t.Fatal(err)
	}
	if res := ingest(t, a, restartSignal(ns))[0]; res.Status != signals.IngestDuplicate || res.AnomalyName != second.AnomalyName {
		t.Fatalf("replica A: %+v, want a duplicate of the open %s", res, second.AnomalyName)
	}
	if n := len(anomalies(t, ns)); n != 1 {
		t.Fatalf("%d Anomalies, want 1", n)
	}
}
