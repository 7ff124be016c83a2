package main

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/testenv"
)

// TestRedisOutageShowsInReadinessWhileCreationGoesOn takes Redis away from
// a running watcher-bridge: /readyz reports it, a probe that excludes the
// Redis check keeps the pod in rotation, and a new fault still becomes an
// Anomaly. When Redis returns, so does readiness.
func TestRedisOutageShowsInReadinessWhileCreationGoesOn(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	fx := newFixture(t, "outage")
	redis, err := testenv.StartLocalRedis(ctx, "", t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(redis.Stop)

	ns := env.NewNamespace(t, "redis-outage", map[string]string{"aiops-outage": "watched"})
	w := startWatcher(t, fx.binary, fx.dir, "outage", append(fx.args(),
		"--namespace-selector=aiops-outage=watched", "--anomaly-namespace="+ns, "--watch-nodes=false",
		"--redis-url="+redis.URL)...)

	probe := func(path string) func() (int, string) {
		return func() (int, string) {
			resp, err := http.Get("http://" + w.probe + path)
			if err != nil {
				return 0, err.Error()
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
	}
	status := func(path string) func() int {
		return func() int { code, _ := probe(path)(); return code }
	}

	redis.Stop()
	g.Eventually(status("/readyz")).WithTimeout(20 * time.Second).Should(Equal(http.StatusInternalServerError))
	_, body := probe("/readyz?verbose")()
	g.Expect(body).To(ContainSubstring("[-]redis"))
	g.Expect(status("/readyz?exclude=redis")()).To(Equal(http.StatusOK))

	failingDeployment(t, ns, "checkout")
	g.Eventually(func() []platformv1alpha1.Anomaly {
		list := &platformv1alpha1.AnomalyList{}
		g.Expect(env.Client.List(ctx, list, client.InNamespace(ns))).To(Succeed())
		return list.Items
	}).WithTimeout(30*time.Second).Should(HaveLen(1), "no Anomaly while Redis is down")

	g.Expect(redis.Start(ctx)).To(Succeed())
	g.Eventually(status("/readyz")).WithTimeout(30 * time.Second).Should(Equal(http.StatusOK))
	w.stop(t)
}
