package ingest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/ptr"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/signals"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/watch"
)

// outsideCreator is a Creator whose scope is the given namespaces, as
// --namespace-selector would pick them, with an Anomaly budget.
func outsideCreator(t *testing.T, budget int64, namespaces ...string) *Creator {
	t.Helper()
	wb := asWatcherBridge(t)
	c, err := NewCreator(Config{
		Client: wb, APIReader: wb, Cache: wb, Redis: newRedis(t, env.Redis.URL),
		FallbackNamespace: "default", Logger: testr.New(t),
		Scope:  func(context.Context) (Scope, error) { return watch.NewScope(nil, namespaces), nil },
		Budget: Budget{Limit: budget, Window: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createDeployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: name + ":1.0"}}},
			},
		},
	}
	if err := env.Client.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	return d
}

// alert is what Alertmanager or an IngestSignals caller sends about a
// Deployment: a name, maybe a made-up uid.
func alert(ns, kind, name string) signals.Signal {
	s := restartSignal(ns)
	s.Source = platformv1alpha1.SourcePrometheus
	s.Resource = platformv1alpha1.ResourceReference{Kind: kind, Namespace: ns, Name: name}
	return s
}

func TestOutsideSignalsAreKeptToLiveObjectsInScope(t *testing.T) {
	ns := env.NewNamespace(t, "outside", nil)
	unwatched := env.NewNamespace(t, "unwatched", nil)
	createDeployment(t, ns, "api")
	createDeployment(t, unwatched, "api")
	c := outsideCreator(t, 0, ns)
	tests := map[string]struct {
		reason string
		signal signals.Signal
		want   signals.RejectCode
	}{
		"ConfigMap":          {reason: "an Anomaly is never about a ConfigMap, wherever it is", signal: alert(ns, "ConfigMap", "settings"), want: signals.RejectKindNotAllowed},
		"SecretInKubeSystem": {reason: "a Secret is a kind the platform watches (TLS expiry), but not in kube-system", signal: alert("kube-system", "Secret", "bootstrap-token-abcdef"), want: signals.RejectOutOfScope},
		"NoSuchSecret":       {reason: "a Secret in scope that cannot be read is not told apart from one that does not exist", signal: alert(ns, "Secret", "invented-tls"), want: signals.RejectNotFound},
		"Namespace":          {reason: "nor about a Namespace", signal: alert("kube-system", "Namespace", "kube-system"), want: signals.RejectKindNotAllowed},
		"NamespaceOutside":   {reason: "a live Deployment outside the scope", signal: alert(unwatched, "Deployment", "api"), want: signals.RejectOutOfScope},
		"KubeSystem":         {reason: "kube-system is not watched", signal: alert("kube-system", "Deployment", "coredns"), want: signals.RejectOutOfScope},
		"NoSuchDeployment":   {reason: "a name made up by a token holder", signal: alert(ns, "Deployment", "invented-1"), want: signals.RejectNotFound},
		"NoSuchPod":          {reason: "a pod that does not exist has no owner to name", signal: alert(ns, "Pod", "api-7d9c-x2k4p"), want: signals.RejectNotFound},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := ingest2(t, c.External("grpc"), tc.signal)
			if res.Status != signals.IngestRejected || res.Code != tc.want {
				t.Errorf("%s: %+v, want rejected with %s", tc.reason, res, tc.want)
			}
		})
	}
	for _, namespace := range []string{ns, unwatched, "kube-system"} {
		if n := len(anomalies(t, namespace)); n != 0 {
			t.Errorf("%d Anomalies in %s, want none", n, namespace)
		}
	}
}

func ingest2(t *testing.T, sink signals.Sink, s signals.Signal) signals.IngestResult {
	t.Helper()
	res, err := sink.Ingest(context.Background(), []signals.Signal{s})
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

func TestCallerUIDsAreIgnored(t *testing.T) {
	ns := env.NewNamespace(t, "outside", nil)
	d := createDeployment(t, ns, "api")
	c := outsideCreator(t, 0, ns)
	for i := range 5 {
		s := alert(ns, "Deployment", "api")
		s.Resource.UID = types.UID(fmt.Sprintf("random-%d-%d", i, time.Now().UnixNano()))
		if res := ingest2(t, c.External("grpc"), s); res.Status == signals.IngestRejected {
			t.Fatalf("signal %d: %+v", i, res)
		}
	}
	items := anomalies(t, ns)
	if len(items) != 1 {
		t.Fatalf("%d Anomalies for one Deployment sent with random uids, want 1", len(items))
	}
	if items[0].Spec.Resource.UID != d.UID {
		t.Errorf("spec.resource.uid = %q, want the Deployment's %q", items[0].Spec.Resource.UID, d.UID)
	}
}

func TestTheBudgetBoundsWhatASourceCreates(t *testing.T) {
	ns := env.NewNamespace(t, "outside", nil)
	createDeployment(t, ns, "api")
	c := outsideCreator(t, 2, ns)
	signalTypes := []platformv1alpha1.SignalType{platformv1alpha1.SignalPodRestart, platformv1alpha1.SignalOOMKill, platformv1alpha1.SignalErrorRate}
	var results []signals.IngestResult
	for _, typ := range signalTypes {
		s := alert(ns, "Deployment", "api")
		s.Type = typ
		results = append(results, ingest2(t, c.External("alertmanager"), s))
	}
	if results[0].Status != signals.IngestCreated || results[1].Status != signals.IngestCreated {
		t.Fatalf("within the budget: %+v", results[:2])
	}
	if results[2].Code != signals.RejectBudgetExhausted {
		t.Fatalf("past the budget: %+v, want BudgetExhausted", results[2])
	}
	// A repeat of a paid signal is a duplicate, and another source has a
	// budget of its own.
	if res := ingest2(t, c.External("alertmanager"), alert(ns, "Deployment", "api")); res.Status != signals.IngestDuplicate {
		t.Errorf("repeat: %+v, want duplicate", res)
	}
	third := alert(ns, "Deployment", "api")
	third.Type = signalTypes[2]
	if res := ingest2(t, c.External("grpc"), third); res.Status != signals.IngestCreated {
		t.Errorf("another source: %+v, want created", res)
	}
	if n := len(anomalies(t, ns)); n != 3 {
		t.Errorf("%d Anomalies, want 3", n)
	}
}

// TestARecreatedDeploymentGetsItsOwnAnomaly deletes a faulted Deployment
// and creates it again under the same name: outside signals must land on
// the new object, not on the old one's Anomaly, as soon as the delete is
// seen.
func TestARecreatedDeploymentGetsItsOwnAnomaly(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := env.NewNamespace(t, "outside", nil)
	old := createDeployment(t, ns, "api")
	c := outsideCreator(t, 0, ns)
	wb := env.AsService(t, "watcher-bridge", env.NewNamespace(t, "platform", nil))
	deletions := NewDeletionWatch(metadata.NewForConfigOrDie(wb.Config), c, testr.New(t))
	done := make(chan struct{})
	go func() { defer close(done); _ = deletions.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	g.Eventually(deletions.synced).WithTimeout(30 * time.Second).Should(BeClosed())

	first := ingest2(t, c.External("grpc"), alert(ns, "Deployment", "api"))
	g.Expect(first.Status).To(Equal(signals.IngestCreated))
	g.Expect(env.Client.Delete(ctx, old)).To(Succeed())
	recreated := createDeployment(t, ns, "api")

	g.Eventually(func() signals.IngestResult {
		return ingest2(t, c.External("grpc"), alert(ns, "Deployment", "api"))
	}).WithTimeout(30 * time.Second).Should(HaveField("Status", signals.IngestCreated))
	var uids []types.UID
	for _, a := range anomalies(t, ns) {
		uids = append(uids, a.Spec.Resource.UID)
	}
	g.Expect(uids).To(ConsistOf(old.UID, recreated.UID))
}

// TestADeletedAnomalyOfALiveFaultIsRecreated deletes the Anomaly that a
// confirmed dedup claim names: the next sighting must not be taken for a
// duplicate of an Anomaly that is gone.
func TestADeletedAnomalyOfALiveFaultIsRecreated(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "ingest", nil)
	c := newCreator(t, newRedis(t, env.Redis.URL))
	c.cfg.Cache = asWatcherBridge(t)
	first := ingest(t, c, restartSignal(ns))[0]
	if first.Status != signals.IngestCreated {
		t.Fatalf("first: %+v", first)
	}
	if err := env.Client.Delete(ctx, &platformv1alpha1.Anomaly{ObjectMeta: metav1.ObjectMeta{Name: first.AnomalyName, Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	if again := ingest(t, c, restartSignal(ns))[0]; again.Status != signals.IngestCreated {
		t.Fatalf("after the Anomaly was deleted: %+v, want created", again)
	}
	if n := len(anomalies(t, ns)); n != 1 {
		t.Fatalf("%d Anomalies, want 1", n)
	}
	if res := ingest(t, c, restartSignal(ns))[0]; res.Status != signals.IngestDuplicate {
		t.Fatalf("a repeat: %+v, want duplicate", res)
	}
}
