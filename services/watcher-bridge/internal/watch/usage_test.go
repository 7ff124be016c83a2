package watch

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"

	"github.com/chatcli/aiops/libs/signals"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// TestWithoutTheMetricsAPIUsageIsNotPolled runs the usage poll against the
// real API server, which serves no metrics.k8s.io (testenv has no
// metrics-server, and no aggregated API is stood in for it: the rule is
// tested on its own in detect and TestParsePodMetrics): the detector says
// so in its gauge, keeps running, and reports nothing.
func TestWithoutTheMetricsAPIUsageIsNotPolled(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	wb := env.AsService(t, "watcher-bridge", env.NewNamespace(t, "platform", nil))
	d, err := NewDetector(Config{
		Kube: kubernetes.NewForConfigOrDie(wb.Config), Sink: refuseAll{t}, UsagePollInterval: 100 * time.Millisecond, Logger: testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	d.SetScope(NewScope(nil, []string{env.NewNamespace(t, "usage", nil)}))
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// podmetrics, and the two Secret sources, off for want of a granted
	// namespace (no dynamic client: the CRD sources do not exist).
	g.Eventually(func() int { return testutil.CollectAndCount(d.sourceServed) }).WithTimeout(10 * time.Second).Should(Equal(3))
	for _, source := range []string{sourcePodMetrics, sourceTLSSecrets, sourceHelm} {
		g.Expect(testutil.ToFloat64(d.sourceServed.WithLabelValues(source))).To(BeZero(), source)
	}
	g.Consistently(func() int { return testutil.CollectAndCount(d.sourceServed) }).WithTimeout(500 * time.Millisecond).Should(Equal(3))
}

// refuseAll fails the test on any signal.
type refuseAll struct{ t *testing.T }

func (r refuseAll) Ingest(_ context.Context, batch []signals.Signal) ([]signals.IngestResult, error) {
	r.t.Errorf("unexpected signals: %+v", batch)
	return make([]signals.IngestResult, len(batch)), nil
}

func TestParsePodMetrics(t *testing.T) {
	data := `{"kind":"PodMetricsList","apiVersion":"metrics.k8s.io/v1beta1","items":[
	  {"metadata":{"name":"api-7d9c-abcde","namespace":"shop"},"timestamp":"2026-11-25T12:00:00Z","window":"15s",
	   "containers":[{"name":"app","usage":{"cpu":"480m","memory":"200Mi"}},{"name":"sidecar","usage":{"memory":"10Mi"}}]},
	  {"metadata":{"name":"idle","namespace":"shop"},"containers":[]},
	  {"metadata":{"namespace":"shop"},"containers":[{"name":"x","usage":{"cpu":"1"}}]}]}`
	got, err := parsePodMetrics([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]detect.ContainerUsage{"api-7d9c-abcde": {
		{Name: "app", CPU: resource.MustParse("480m"), Memory: resource.MustParse("200Mi")},
		{Name: "sidecar", Memory: resource.MustParse("10Mi")},
	}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
	for _, bad := range []string{`{"items":[{"containers":[{"usage":{"cpu":"lots"}}]}]}`, `[`, `{"items":"x"}`} {
		if _, err := parsePodMetrics([]byte(bad)); err == nil || !strings.Contains(err.Error(), "PodMetricsList") {
			t.Errorf("parsePodMetrics(%q) = %v, want a decode error", bad, err)
		}
	}
}

// FuzzParsePodMetrics: whatever an aggregated API answers, parsing never
// panics and keeps only named pods with containers.
func FuzzParsePodMetrics(f *testing.F) {
	f.Add(`{"items":[{"metadata":{"name":"a"},"containers":[{"name":"c","usage":{"cpu":"1","memory":"1Gi"}}]}]}`)
	f.Add(`{"items":[{"metadata":{"name":""},"containers":null}]}`)
	f.Add(`{"items":[{"metadata":{"name":"a"},"containers":[{"usage":{"cpu":"-1e400"}}]}]}`)
	f.Fuzz(func(t *testing.T, data string) {
		got, err := parsePodMetrics([]byte(data))
		if err != nil {
			return
		}
		for name, usage := range got {
			if name == "" || len(usage) == 0 {
				t.Errorf("kept pod %q with %d containers", name, len(usage))
			}
		}
	})
}

func TestPodUsageReplace(t *testing.T) {
	var u podUsage
	u.replace("shop", map[string][]detect.ContainerUsage{"a": {{Name: "app"}}, "b": {{Name: "app"}}})
	u.replace("other", map[string][]detect.ContainerUsage{"a": {{Name: "app"}}})
	if gone := u.replace("shop", map[string][]detect.ContainerUsage{"b": {{Name: "app"}}}); !cmp.Equal(gone, []string{"a"}) {
		t.Errorf("gone = %v, want [a]", gone)
	}
	if _, ok := u.get("other", "a"); !ok {
		t.Error("a poll of one namespace dropped another's usage")
	}
	u.markHot("shop/b", true)
	u.dropNamespace("shop")
	if _, ok := u.get("shop", "b"); ok || u.markHot("shop/b", false) {
		t.Error("a namespace that left the scope kept its usage")
	}
}
