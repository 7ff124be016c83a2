package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/testenv"
)

// TestRedisOutageKeepsReadinessWhileCreationGoesOn takes Redis away from a
// running watcher-bridge. Its Redis policy is degraded-but-ready: the
// outage shows in chatcli_watcher_bridge_redis_up, /readyz stays green so
// the pod stays in rotation, and a new fault still becomes an Anomaly.
func TestRedisOutageKeepsReadinessWhileCreationGoesOn(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	fx := newFixture(t, "outage-token-of-32-bytes-or-more")
	redis, err := testenv.StartLocalRedis(ctx, "", t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(redis.Stop)

	ns := env.NewNamespace(t, "redis-outage", map[string]string{"aiops-outage": "watched"})
	w := startWatcher(t, fx, "outage", append(fx.args(),
		"--namespace-selector=aiops-outage=watched", "--anomaly-namespace="+ns, "--watch-nodes=false",
		"--redis-url="+redis.URL)...)

	readyz := func() int {
		resp, err := http.Get("http://" + w.probe + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	redisUp := func() float64 { return w.metric(t, "chatcli_watcher_bridge_redis_up", "") }

	g.Eventually(redisUp).WithTimeout(20 * time.Second).Should(Equal(1.0))
	redis.Stop()
	g.Eventually(redisUp).WithTimeout(20 * time.Second).Should(Equal(0.0))
	g.Expect(readyz()).To(Equal(http.StatusOK), "a degraded service stays ready without Redis")

	failingDeployment(t, ns, "checkout")
	g.Eventually(func() []platformv1alpha1.Anomaly {
		list := &platformv1alpha1.AnomalyList{}
		g.Expect(env.Client.List(ctx, list, client.InNamespace(ns))).To(Succeed())
		return list.Items
	}).WithTimeout(30*time.Second).Should(HaveLen(1), "no Anomaly while Redis is down")

	g.Expect(readyz()).To(Equal(http.StatusOK))

	g.Expect(redis.Start(ctx)).To(Succeed())
	g.Eventually(redisUp).WithTimeout(30 * time.Second).Should(Equal(1.0))
	w.stop(t)
}
