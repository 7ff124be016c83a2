package chatcli

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

const restartSignal = string(platformv1alpha1.SignalPodRestart)

// TestPollsEveryReadyInstance is the upstream bug this package fixes: it
// polled only the first Ready Instance. Here both Ready Instances with the
// watcher on are polled, each with its own token, while an Instance that
// is not Ready and one whose watcher is off are not; deleting an Instance
// stops its loop.
func TestPollsEveryReadyInstance(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t)
	unknown := &chatcliv1.WatcherAlert{Type: "DiskFull", Object: "pod/x", Namespace: "shop"}
	srvA := startAlertServer(t, h.pki, "token-a-32-bytes-or-more-for-tests", restartAlert("api-a"), unknown)
	srvB := startAlertServer(t, h.pki, "token-b-32-bytes-or-more-for-tests", restartAlert("api-b"))
	srvNotReady := startAlertServer(t, h.pki, "token-c-32-bytes-or-more-for-tests", restartAlert("api-c"))
	srvOff := startAlertServer(t, h.pki, "token-d-32-bytes-or-more-for-tests", restartAlert("api-d"))

	h.instance("a", "token-a-32-bytes-or-more-for-tests", true, srvA.endpoint(), nil)
	h.instance("b", "token-b-32-bytes-or-more-for-tests", true, srvB.endpoint(), nil)
	h.instance("not-ready", "token-c-32-bytes-or-more-for-tests", false, srvNotReady.endpoint(), nil)
	h.instance("off", "token-d-32-bytes-or-more-for-tests", true, srvOff.endpoint(), func(i *platformv1alpha1.Instance) {
		i.Spec.Watcher.Enabled = false
	})

	g.Eventually(func(g Gomega) {
		g.Expect(h.sink.has(h.key("a"), restartSignal, "Deployment/shop/api-a")).To(BeTrue(), "signal from Instance a")
		g.Expect(h.sink.has(h.key("b"), restartSignal, "Deployment/shop/api-b")).To(BeTrue(), "signal from Instance b")
		g.Expect(srvA.count()).To(BeNumerically(">=", 5))
		g.Expect(srvB.count()).To(BeNumerically(">=", 5))
	}).WithTimeout(waitFor).WithPolling(pollEvery).Should(Succeed())

	g.Expect(h.poller.polled()).To(Equal([]string{h.key("a"), h.key("b")}))
	g.Expect(srvNotReady.count()).To(BeZero(), "the Instance that is not Ready was polled")
	g.Expect(srvOff.count()).To(BeZero(), "the Instance with the watcher off was polled")
	g.Expect(srvA.authorizations()).To(ConsistOf("Bearer token-a-32-bytes-or-more-for-tests"))
	g.Expect(srvB.authorizations()).To(ConsistOf("Bearer token-b-32-bytes-or-more-for-tests"))
	g.Expect(counterValue(t, h.poller.metrics.unmapped, h.key("a"))).To(BeNumerically(">=", 1), "the unknown alert was not counted")
	g.Expect(counterValue(t, h.poller.metrics.alerts, h.key("a"))).To(BeNumerically(">=", 2))
	g.Expect(h.polls("a", ResultOK)).To(BeNumerically(">=", 5), "an unmappable alert spoiled the poll")

	// Deleting a stops its loop; b goes on.
	if err := env.Client.Delete(context.Background(), &platformv1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "a"}}); err != nil {
		t.Fatalf("delete Instance a: %v", err)
	}
	g.Eventually(h.poller.polled).WithTimeout(waitFor).WithPolling(pollEvery).Should(Equal([]string{h.key("b")}))
	// Let b be polled once more, so a call a sent just before it stopped
	// has landed, then check a gets no further call while b gets three.
	afterStop := srvB.count()
	g.Eventually(srvB.count).WithTimeout(waitFor).WithPolling(pollEvery).Should(BeNumerically(">", afterStop))
	callsA, callsB := srvA.count(), srvB.count()
	g.Eventually(srvB.count).WithTimeout(waitFor).WithPolling(pollEvery).Should(BeNumerically(">=", callsB+3))
	g.Expect(srvA.count()).To(Equal(callsA), "the deleted Instance was still polled")
}

// TestFollowsInstanceChanges starts a loop when an Instance becomes Ready,
// restarts it on a new endpoint, and stops it when the watcher is turned
// off.
func TestFollowsInstanceChanges(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t)
	srv1 := startAlertServer(t, h.pki, "token-x-32-bytes-or-more-for-tests", restartAlert("api-1"))
	srv2 := startAlertServer(t, h.pki, "token-x-32-bytes-or-more-for-tests", restartAlert("api-2"))
	inst := h.instance("x", "token-x-32-bytes-or-more-for-tests", false, srv1.endpoint(), nil)

	h.setStatus(inst, true, srv1.endpoint())
	g.Eventually(srv1.count).WithTimeout(waitFor).WithPolling(pollEvery).Should(BeNumerically(">=", 2))

	h.setStatus(inst, true, srv2.endpoint())
	g.Eventually(func() bool {
		return h.sink.has(h.key("x"), restartSignal, "Deployment/shop/api-2")
	}).WithTimeout(waitFor).WithPolling(pollEvery).Should(BeTrue(), "the new endpoint was not polled")
	after := srv2.count()
	g.Eventually(srv2.count).WithTimeout(waitFor).WithPolling(pollEvery).Should(BeNumerically(">", after))
	calls1, calls2 := srv1.count(), srv2.count()
	g.Eventually(srv2.count).WithTimeout(waitFor).WithPolling(pollEvery).Should(BeNumerically(">=", calls2+3))
	g.Expect(srv1.count()).To(Equal(calls1), "the old endpoint was still polled")

	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: h.ns, Name: "x"}, inst); err != nil {
		t.Fatal(err)
	}
	inst.Spec.Watcher.Enabled = false
	if err := env.Client.Update(context.Background(), inst); err != nil {
		t.Fatalf("turn the watcher off: %v", err)
	}
	g.Eventually(h.poller.polled).WithTimeout(waitFor).WithPolling(pollEvery).Should(BeEmpty())
}

// TestWrongTokenIsUnauthenticated: a wrong token in the Secret is refused
// by the server and counted as an error, without touching the other
// Instance's loop; once the Secret is fixed, the loop reconnects with the
// new token.
func TestWrongTokenIsUnauthenticated(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t)
	srvGood := startAlertServer(t, h.pki, "token-good-32-bytes-or-more-for-tests", restartAlert("api-good"))
	srvBad := startAlertServer(t, h.pki, "token-bad-32-bytes-or-more-for-tests", restartAlert("api-bad"))
	h.instance("good", "token-good-32-bytes-or-more-for-tests", true, srvGood.endpoint(), nil)
	h.instance("bad", "not-the-token", true, srvBad.endpoint(), nil)

	g.Eventually(func(g Gomega) {
		g.Expect(h.polls("bad", ResultRPCError)).To(BeNumerically(">", reconnectAfter), "Unauthenticated polls")
		g.Expect(h.sink.has(h.key("good"), restartSignal, "Deployment/shop/api-good")).To(BeTrue())
	}).WithTimeout(waitFor).WithPolling(pollEvery).Should(Succeed())
	g.Expect(srvBad.count()).To(BeZero(), "a call with the wrong token got through")
	g.Expect(h.sink.has(h.key("bad"), restartSignal, "Deployment/shop/api-bad")).To(BeFalse())
	g.Expect(h.polls("bad", ResultOK)).To(BeZero())
	good := srvGood.count()
	g.Eventually(srvGood.count).WithTimeout(waitFor).WithPolling(pollEvery).Should(BeNumerically(">=", good+3),
		"the failing Instance stopped the other loop")

	// Fix the token: after repeated failures the loop dials again and
	// reads the Secret anew.
	var s corev1.Secret
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: h.ns, Name: "bad-token"}, &s); err != nil {
		t.Fatal(err)
	}
	s.Data["token"] = []byte("token-bad-32-bytes-or-more-for-tests")
	if err := env.Client.Update(context.Background(), &s); err != nil {
		t.Fatalf("fix token Secret: %v", err)
	}
	g.Eventually(func() bool {
		return h.sink.has(h.key("bad"), restartSignal, "Deployment/shop/api-bad")
	}).WithTimeout(waitFor).WithPolling(pollEvery).Should(BeTrue(), "the fixed token was not picked up")
	g.Expect(srvBad.authorizations()).To(ConsistOf("Bearer token-bad-32-bytes-or-more-for-tests"))
}

// TestRefusesInstanceWithoutTLS: the platform never sends a token in clear
// text, so Instances without TLS are refused and counted, never dialled.
func TestRefusesInstanceWithoutTLS(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t)
	srvNoTLS := startAlertServer(t, h.pki, "token-n-32-bytes-or-more-for-tests", restartAlert("api-n"))
	srvTLSOff := startAlertServer(t, h.pki, "token-o-32-bytes-or-more-for-tests", restartAlert("api-o"))
	h.instance("no-tls", "token-n-32-bytes-or-more-for-tests", true, srvNoTLS.endpoint(), func(i *platformv1alpha1.Instance) {
		i.Spec.Server.TLS = nil
	})
	h.instance("tls-off", "token-o-32-bytes-or-more-for-tests", true, srvTLSOff.endpoint(), func(i *platformv1alpha1.Instance) {
		i.Spec.Server.TLS.Enabled = false
	})

	g.Eventually(func(g Gomega) {
		g.Expect(h.polls("no-tls", ResultRefused)).To(BeNumerically(">=", 3))
		g.Expect(h.polls("tls-off", ResultRefused)).To(BeNumerically(">=", 3))
	}).WithTimeout(waitFor).WithPolling(pollEvery).Should(Succeed())
	g.Expect(srvNoTLS.count()).To(BeZero())
	g.Expect(srvTLSOff.count()).To(BeZero())
	g.Expect(srvNoTLS.authorizations()).To(BeEmpty())
}

// TestSinkErrorIsRetried: a Sink failure is counted and the same alerts
// are handed over again at the next tick.
func TestSinkErrorIsRetried(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t)
	h.sink.fail.Store(true)
	srv := startAlertServer(t, h.pki, "token-s-32-bytes-or-more-for-tests", restartAlert("api-s"))
	h.instance("s", "token-s-32-bytes-or-more-for-tests", true, srv.endpoint(), nil)

	g.Eventually(func() float64 { return h.polls("s", ResultSinkError) }).
		WithTimeout(waitFor).WithPolling(pollEvery).Should(BeNumerically(">=", 2))
	h.sink.fail.Store(false)
	g.Eventually(func() bool {
		return h.sink.has(h.key("s"), restartSignal, "Deployment/shop/api-s")
	}).WithTimeout(waitFor).WithPolling(pollEvery).Should(BeTrue())
}

// TestAServerSpeaksOnlyForItsInstance checks that a tenant's ChatCLI server
// cannot inject Anomalies elsewhere: alerts about a namespace its Instance
// neither lives in nor watches, or about a cluster-scoped object, are
// dropped and counted; and that one poll ingests at most maxAlertsPerPoll.
func TestAServerSpeaksOnlyForItsInstance(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t)
	elsewhere := restartAlert("payments")
	elsewhere.Namespace = "other-tenant"
	node := &chatcliv1.WatcherAlert{Type: "NodeNotReady", Severity: "critical", Object: "node/worker-1", TimestampUnix: time.Now().Unix()}
	flood := []*chatcliv1.WatcherAlert{restartAlert("api-own"), elsewhere, node}
	for i := range maxAlertsPerPoll {
		flood = append(flood, restartAlert(fmt.Sprintf("api-%03d", i)))
	}
	srv := startAlertServer(t, h.pki, "token-s-32-bytes-or-more-for-tests", flood...)
	h.instance("s", "token-s-32-bytes-or-more-for-tests", true, srv.endpoint(), nil)

	g.Eventually(func(g Gomega) {
		g.Expect(h.sink.has(h.key("s"), restartSignal, "Deployment/shop/api-own")).To(BeTrue())
		g.Expect(counterValue(t, h.poller.metrics.dropped, h.key("s"), DropOutOfScope)).To(BeNumerically(">=", 2))
		g.Expect(counterValue(t, h.poller.metrics.dropped, h.key("s"), DropTooMany)).To(BeNumerically(">=", 3))
	}).WithTimeout(waitFor).WithPolling(pollEvery).Should(Succeed())
	g.Expect(h.sink.has(h.key("s"), restartSignal, "Deployment/other-tenant/payments")).To(BeFalse(), "an alert about another tenant's namespace was ingested")
	g.Expect(h.sink.has(h.key("s"), string(platformv1alpha1.SignalNodeNotReady), "Node//worker-1")).To(BeFalse(), "a tenant's server spoke for a node")
	g.Expect(h.sink.has(h.key("s"), restartSignal, fmt.Sprintf("Deployment/shop/api-%03d", maxAlertsPerPoll-1))).To(BeFalse(), "alerts past the cap were ingested")
}

// TestSecretsTheInstanceDoesNotOwnAreNotRead is the confused deputy: an
// Instance that names someone else's Secret as its token gets nothing read
// and nothing sent.
func TestSecretsTheInstanceDoesNotOwnAreNotRead(t *testing.T) {
	g := NewWithT(t)
	h := newHarness(t)
	srv := startAlertServer(t, h.pki, "token-z-32-bytes-or-more-for-tests", restartAlert("api-z"))
	h.secret("database-password", "", map[string][]byte{"token": []byte("hunter2-hunter2-hunter2-hunter2-x")})
	h.instance("z", "token-z-32-bytes-or-more-for-tests", true, srv.endpoint(), func(i *platformv1alpha1.Instance) {
		i.Spec.Server.Token = &platformv1alpha1.TokenSecretReference{Name: "database-password", Key: "token"}
	})
	g.Eventually(func() float64 { return h.polls("z", ResultConfigError) }).WithTimeout(waitFor).WithPolling(pollEvery).Should(BeNumerically(">=", 1))
	g.Expect(srv.count()).To(BeZero(), "the server was called with a Secret the Instance may not use")
	g.Expect(srv.authorizations()).To(BeEmpty())
}
