package e2e

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/e2e/scenario"
	"github.com/chatcli/aiops/libs/grpcx"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

// seedWatchNamespace holds scenario 12's Instance. It is one of the
// chart's rbac.instanceNamespaces (the watcher-bridge reads the Instance's
// TLS and token Secrets there) but not the instance-operator's: the test
// plays the operator and publishes the server's loopback endpoint, since
// the cluster DNS name the operator publishes resolves nowhere locally.
const seedWatchNamespace = "seed-watch"

// seedServer is a ChatCLI server's watcher as the seed has it: chatcli.v1
// GetAlerts over TLS with a bearer token, answering with its alerts.
type seedServer struct {
	chatcliv1.UnimplementedChatCLIServiceServer
	alerts []*chatcliv1.WatcherAlert
}

func (s *seedServer) GetAlerts(context.Context, *chatcliv1.GetAlertsRequest) (*chatcliv1.GetAlertsResponse, error) {
	return &chatcliv1.GetAlertsResponse{Alerts: s.alerts}, nil
}

// TestAnInstancesWatcherAlertsBecomeAnomalies is scenario 12: an Instance
// whose watcher is enabled is backed by a server speaking chatcli.v1
// GetAlerts; the watcher-bridge polls it with the Instance's TLS and token
// Secrets, and its alert becomes an Anomaly, then an Issue, of the
// Deployment it names.
func TestAnInstancesWatcherAlertsBecomeAnomalies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const ns, app, token = seedWatchNamespace, "orders", "seed-watcher-token-of-at-least-32-bytes"
	const message = "container app of orders restarted 9 times in 10 minutes (seed watcher)"
	tracker := scenario.NewTracker(watchful, ns)
	go tracker.Run(ctx)
	tracker.Track(app)
	if err := env.Client.Create(ctx, scenario.Deployment(ns, app, scenario.HealthyImage, scenario.HealthyLimit, 1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanApps(ns) })

	leaf, err := env.PKI.IssueServer("seed-chatcli")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcx.NewServer(grpcx.ServerConfig{CertFile: leaf.CertFile, KeyFile: leaf.KeyFile, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	chatcliv1.RegisterChatCLIServiceServer(srv, &seedServer{alerts: []*chatcliv1.WatcherAlert{{
		Type: "HighRestartCount", Severity: "high", Message: message, Object: "pod/" + app + "-7d9f-x2",
		Namespace: ns, Deployment: app, TimestampUnix: time.Now().Unix(),
	}}})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const inst = "seed"
	labels := map[string]string{platformv1alpha1.LabelInstance: inst}
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: inst + "-tls", Labels: labels},
			Data: map[string][]byte{"ca.crt": read(env.PKI.CAFile), "tls.crt": read(leaf.CertFile), "tls.key": read(leaf.KeyFile)}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: inst + "-token", Labels: labels},
			Data: map[string][]byte{"token": []byte(token)}},
	} {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	instance := &platformv1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: inst},
		Spec: platformv1alpha1.InstanceSpec{
			Provider: platformv1alpha1.ProviderBuiltin,
			Server: platformv1alpha1.ServerSpec{
				TLS:   &platformv1alpha1.TLSSpec{Enabled: true, SecretName: inst + "-tls"},
				Token: &platformv1alpha1.TokenSecretReference{Name: inst + "-token"},
			},
			Watcher: &platformv1alpha1.WatcherSpec{Enabled: true, Interval: "1s"},
		},
	}
	if err := env.Client.Create(ctx, instance); err != nil {
		t.Fatal(err)
	}
	// The instance-operator's part: Ready, and where the server listens.
	meta.SetStatusCondition(&instance.Status.Conditions, metav1.Condition{Type: platformv1alpha1.InstanceReadyCondition,
		Status: metav1.ConditionTrue, Reason: platformv1alpha1.InstanceAvailableReason, Message: "played by the e2e test"})
	instance.Status.Ready, instance.Status.Endpoint = true, "dns:///"+lis.Addr().String()
	if err := env.Client.Status().Update(ctx, instance); err != nil {
		t.Fatal(err)
	}

	var anomaly *platformv1alpha1.Anomaly
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list := &platformv1alpha1.AnomalyList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false, nil
		}
		for i := range list.Items {
			if a := &list.Items[i]; strings.Contains(a.Spec.Description, message) {
				anomaly = a
			}
		}
		return anomaly != nil, nil
	})
	if err != nil {
		t.Fatalf("no Anomaly from the Instance's alert within a minute; watcher-bridge log:\n%s", env.Services["watcher-bridge"].Process.LogTail(4000))
	}
	if anomaly.Spec.SignalType != platformv1alpha1.SignalPodRestart || anomaly.Spec.Source != platformv1alpha1.SourceWatcher ||
		anomaly.Spec.Resource.Kind != "Deployment" || anomaly.Spec.Resource.Name != app {
		t.Errorf("Anomaly %s is %s from %s about %s, want pod_restart from watcher about Deployment %s", anomaly.Name,
			anomaly.Spec.SignalType, anomaly.Spec.Source, anomaly.Spec.Resource.String(), app)
	}
	inc, ok := tracker.Wait(ctx, app, time.Minute, 0, func(i *scenario.Incident) bool { return i.Issue != nil })
	if !ok {
		t.Fatalf("the alert's Anomaly opened no Issue: %s", describe(&inc))
	}
	t.Logf("GetAlerts → Anomaly %s → Issue %s (%s)", anomaly.Name, inc.Issue.Name, inc.State())
}
