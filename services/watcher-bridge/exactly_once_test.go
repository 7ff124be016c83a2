package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/signals"
	"github.com/chatcli/aiops/libs/testenv"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{}) }

// TestExactlyOnceAcrossProcesses runs two watcher-bridge processes that
// both watch the same namespace (no leader election, the worst case) and
// checks the issue's three promises: one fault gives one Anomaly, a restart
// gives none anew, and after the Issue ends and InvalidateDedup is called,
// a recurrence gives a new one.
func TestExactlyOnceAcrossProcesses(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	fx := newFixture(t, "exactly-once-token-of-32-bytes-or-more")

	ns := env.NewNamespace(t, "exactly-once", map[string]string{"aiops": "watched"})
	start := func(name string) *watcherProcess {
		return startWatcher(t, fx, name, append(fx.args(),
			"--namespace-selector=aiops=watched", "--anomaly-namespace="+ns, "--watch-nodes=false",
			"--redis-url="+env.Redis.URL)...)
	}
	a, b := start("a"), start("b")

	deploy := failingDeployment(t, ns, "checkout")
	anomalies := func() []platformv1alpha1.Anomaly {
		list := &platformv1alpha1.AnomalyList{}
		g.Expect(env.Client.List(ctx, list, client.InNamespace(ns))).To(Succeed())
		return list.Items
	}
	g.Eventually(anomalies).WithTimeout(30 * time.Second).Should(HaveLen(1))
	g.Consistently(anomalies).WithTimeout(2 * time.Second).Should(HaveLen(1))
	first := anomalies()[0]
	g.Expect(first.Spec.SignalType).To(Equal(platformv1alpha1.SignalDeployFailing))
	g.Expect(first.Spec.Resource.Name).To(Equal("checkout"))

	// Both processes restart, and Redis has lost the dedup key meanwhile
	// (it expired, or Redis restarted empty): the restarted process
	// re-lists the failing Deployment and reports it again, and the
	// report must land on the same Anomaly by its name alone.
	a.stop(t)
	b.stop(t)
	key := signals.Signal{Type: platformv1alpha1.SignalDeployFailing,
		Resource: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "checkout", UID: deploy.UID}}.DedupKey()
	redis, err := redisx.New(env.Redis.URL, redisx.Config{})
	g.Expect(err).NotTo(HaveOccurred())
	defer redis.Close()
	g.Expect(redis.Redis().Del(ctx, redisx.DedupKey(key)).Val()).To(BeNumerically("==", 1), "the test's dedup key is not the one in Redis")
	a, b = start("a2"), start("b2")
	touchStatus(t, deploy)
	for _, p := range []*watcherProcess{a, b} {
		g.Eventually(func() float64 { return p.signals(t, "duplicate") }).WithTimeout(30*time.Second).
			Should(BeNumerically(">=", 1), "a restarted process did not report the fault again")
	}
	g.Expect(anomalies()).To(HaveLen(1))

	// The correlator ends the incident: Issue Resolved, then InvalidateDedup.
	endIncident(t, ns, first.Name)
	cc, err := grpcx.Dial(a.grpcAddr, grpcx.ClientConfig{CAFile: fx.pki.CAFile, Token: "exactly-once-token-of-32-bytes-or-more"})
	g.Expect(err).NotTo(HaveOccurred())
	defer cc.Close()
	resp, err := watcherv1.NewWatcherServiceClient(cc).InvalidateDedup(ctx, &watcherv1.InvalidateDedupRequest{
		Resource: &commonv1.ResourceRef{Kind: "Deployment", Namespace: ns, Name: "checkout"},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.GetKeysCleared()).To(BeNumerically(">=", 1))

	touchStatus(t, deploy)
	g.Eventually(anomalies).WithTimeout(30 * time.Second).Should(HaveLen(2))
	g.Consistently(anomalies).WithTimeout(2 * time.Second).Should(HaveLen(2))
	b.stop(t)
	a.stop(t)
}

type watcherProcess struct {
	cmd      *exec.Cmd
	grpcAddr string
	probe    string
	metrics  string
	log      string
	done     chan struct{}
	// scraper reads /metrics over HTTPS, trusting the gRPC certificate the
	// endpoint reuses.
	scraper *http.Client
}

func startWatcher(t *testing.T, fx fixture, name string, args ...string) *watcherProcess {
	t.Helper()
	probe := freeAddr(t)
	p := &watcherProcess{grpcAddr: freeAddr(t), probe: probe, metrics: freeAddr(t), log: filepath.Join(fx.dir, name+".log"), done: make(chan struct{}),
		scraper: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: fx.pki.CertPool()}}}}
	logFile, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(fx.binary, append(args, "--grpc-bind-address="+p.grpcAddr,
		"--health-probe-bind-address="+probe, "--metrics-bind-address="+p.metrics)...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); logFile.Close(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			// The process's own account is the only way to tell why.
			data, _ := os.ReadFile(p.log)
			if len(data) > 16<<10 {
				data = data[len(data)-16<<10:]
			}
			t.Logf("watcher-bridge %s log (tail):\n%s", name, data)
		}
	})
	NewWithT(t).Eventually(func() int {
		resp, err := http.Get("http://" + probe + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}).WithTimeout(30*time.Second).Should(Equal(http.StatusOK), "watcher-bridge %s not ready", name)
	return p
}

// signals is how many signals the process has answered with status, by
// its metrics.
func (p *watcherProcess) signals(t *testing.T, status string) float64 {
	t.Helper()
	return p.metric(t, "chatcli_watcher_bridge_signals_total", `status="`+status+`"`)
}

// metric sums the samples of the named metric whose labels contain
// labelPart, scraping as a reader the API server allows; 0 when the
// endpoint does not answer.
func (p *watcherProcess) metric(t *testing.T, name, labelPart string) float64 {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://"+p.metrics+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.Tokens[testenv.MetricsReaderUser])
	resp, err := p.scraper.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	total := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		sample := strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ")
		if !sample || !strings.Contains(line, labelPart) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		total += v
	}
	return total
}

func (p *watcherProcess) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		data, _ := os.ReadFile(p.log)
		t.Fatalf("watcher-bridge did not stop; log:\n%s", data)
	}
}

func failingDeployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:2.0-broken"}}},
			},
		},
	}
	if err := env.Client.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	touchStatus(t, d)
	return d
}

// touches numbers the status writes of touchStatus.
var touches atomic.Int64

// touchStatus writes the deployment controller's "progress deadline
// exceeded" status, so that watchers see a change. The message carries a
// count: timestamps have whole seconds, and an update within the same
// second would be identical, which the API server drops without an event.
func touchStatus(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	now := metav1.Now()
	message := fmt.Sprintf("ReplicaSet %q has timed out progressing (write %d).", d.Name, touches.Add(1))
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: 2, UpdatedReplicas: 2, UnavailableReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable", LastUpdateTime: now, LastTransitionTime: now},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: message, LastUpdateTime: now, LastTransitionTime: now},
		},
	}
	if err := env.Client.Status().Update(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// endIncident correlates the Anomaly into an Issue and resolves it, as the
// correlator does.
func endIncident(t *testing.T, ns, anomalyName string) {
	t.Helper()
	ctx := context.Background()
	issue := &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-deploy-failing", Namespace: ns},
		Spec: platformv1alpha1.IssueSpec{
			Severity: platformv1alpha1.SeverityHigh, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalDeployFailing,
			Resource: platformv1alpha1.ResourceReference{Kind: "Deployment", Name: "checkout", Namespace: ns},
		},
	}
	if err := env.Client.Create(ctx, issue); err != nil {
		t.Fatal(err)
	}
	issue.Status.State = platformv1alpha1.IssueResolved
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

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
