package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// TestAlertmanagerWebhookEndToEnd posts a captured Alertmanager v4 payload
// to a running watcher-bridge over HTTPS: firing alerts become Anomalies
// with source prometheus, the resolved one does not, and a request without
// the token changes nothing.
func TestAlertmanagerWebhookEndToEnd(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	fx := newFixture(t, "grpc-token-of-32-bytes-or-more-too")
	webhookTokenFile := filepath.Join(fx.dir, "webhook-token")
	g.Expect(os.WriteFile(webhookTokenFile, []byte("alertmanager-token-of-32-bytes-or-more"), 0o600)).To(Succeed())
	// The captured payload's alerts are about namespace shop; each run
	// moves them to a namespace of its own, so that a rerun starts clean.
	// Outside signals must be about a live object in scope: the
	// namespace is selected, and the Deployment the alerts name exists
	// (scaled to zero, so that it raises nothing of its own).
	selected := fmt.Sprintf("webhook-%d", time.Now().UnixNano())
	shop := env.NewNamespace(t, "shop", map[string]string{"chatcli.io/e2e": selected})
	checkout := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: shop},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "checkout"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:2.0"}}},
			},
		},
	}
	g.Expect(env.Client.Create(ctx, checkout)).To(Succeed())

	webhook := freeAddr(t)
	startWatcher(t, fx, "webhook", append(fx.args(),
		"--namespace-selector=chatcli.io/e2e="+selected,
		"--anomaly-namespace="+shop, "--watch-nodes=false", "--redis-url="+env.Redis.URL,
		// The test polls the webhook many times a second from one address.
		"--webhook-rate-limit-rps=1000", "--webhook-rate-limit-burst=1000",
		"--webhook-bind-address="+webhook, "--webhook-token-file="+webhookTokenFile)...)

	payload, err := os.ReadFile("internal/alertmanager/testdata/webhook-v4-checkout.json")
	g.Expect(err).NotTo(HaveOccurred())
	payload = bytes.ReplaceAll(payload, []byte(`"namespace": "shop"`), []byte(`"namespace": "`+shop+`"`))
	httpClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: fx.pki.CertPool(), MinVersion: tls.VersionTLS13},
	}}
	post := func(token string) (int, map[string]any) {
		req, err := http.NewRequest(http.MethodPost, "https://"+webhook+"/alertmanager", bytes.NewReader(payload))
		g.Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := httpClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		body := map[string]any{}
		g.Expect(json.NewDecoder(resp.Body).Decode(&body)).To(Succeed())
		return resp.StatusCode, body
	}
	anomalies := func() []platformv1alpha1.Anomaly {
		list := &platformv1alpha1.AnomalyList{}
		g.Expect(env.Client.List(ctx, list, client.InNamespace(shop))).To(Succeed())
		return list.Items
	}

	status, body := post("")
	g.Expect(status).To(Equal(http.StatusUnauthorized), "%v", body)
	status, body = post("wrong")
	g.Expect(status).To(Equal(http.StatusUnauthorized), "%v", body)
	status, body = post("grpc-token-of-32-bytes-or-more-too")
	g.Expect(status).To(Equal(http.StatusUnauthorized), "the gRPC token must not open the webhook: %v", body)
	g.Expect(anomalies()).To(BeEmpty())

	status, body = post("alertmanager-token-of-32-bytes-or-more")
	g.Expect(status).To(Equal(http.StatusOK), "%v", body)
	g.Expect(body).To(HaveKeyWithValue("created", BeNumerically("==", 2)))
	g.Expect(body).To(HaveKeyWithValue("resolved", BeNumerically("==", 1)))
	items := anomalies()
	g.Expect(items).To(HaveLen(2))
	for _, a := range items {
		g.Expect(a.Spec.Source).To(Equal(platformv1alpha1.SourcePrometheus))
		g.Expect(a.Spec.Resource.Name).To(Equal("checkout"))
		g.Expect(a.Spec.Resource.UID).To(Equal(checkout.UID), "the uid is looked up, not taken from the alert")
	}
	g.Expect([]platformv1alpha1.SignalType{items[0].Spec.SignalType, items[1].Spec.SignalType}).To(
		ConsistOf(platformv1alpha1.SignalErrorRate, platformv1alpha1.SignalLatency))

	// Alertmanager repeats a group until it resolves: no new Anomaly.
	status, body = post("alertmanager-token-of-32-bytes-or-more")
	g.Expect(status).To(Equal(http.StatusOK), "%v", body)
	g.Expect(body).To(HaveKeyWithValue("duplicate", BeNumerically("==", 2)))
	g.Expect(anomalies()).To(HaveLen(2))

	// The token's Secret is rotated in its volume: no restart needed.
	rotated := webhookTokenFile + ".new"
	g.Expect(os.WriteFile(rotated, []byte("rotated-token-of-32-bytes-or-more\n"), 0o600)).To(Succeed())
	g.Expect(os.Rename(rotated, webhookTokenFile)).To(Succeed())
	g.Eventually(func() int { code, _ := post("rotated-token-of-32-bytes-or-more"); return code }).WithTimeout(10 * time.Second).Should(Equal(http.StatusOK))
	status, body = post("alertmanager-token-of-32-bytes-or-more")
	g.Expect(status).To(Equal(http.StatusUnauthorized), "the old token after rotation: %v", body)
}

// TestTheWebhookNeedsATokenOfItsOwn: enabling the webhook without its own
// token file stops the start with a message that says why.
func TestTheWebhookNeedsATokenOfItsOwn(t *testing.T) {
	fx := newFixture(t, "grpc-token-of-32-bytes-or-more-too")
	// Should a regression let it start, the deadline fails the test rather
	// than hanging the package.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, fx.binary, append(fx.args(), "--anomaly-namespace=default",
		"--redis-url="+env.Redis.URL, "--webhook-bind-address="+freeAddr(t),
		"--grpc-bind-address="+freeAddr(t), "--health-probe-bind-address="+freeAddr(t), "--metrics-bind-address=0")...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("watcher-bridge started without --webhook-token-file:\n%s", out)
	}
	if !strings.Contains(string(out), "--webhook-token-file is required") {
		t.Errorf("the error does not say what is missing:\n%s", out)
	}
}
