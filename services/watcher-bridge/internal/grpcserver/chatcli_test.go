package grpcserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/testing/protocmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/signals"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/chatcli"
)

func TestGetAlerts(t *testing.T) {
	g := newG(t)
	reader, _ := startCache(t)
	// The server's clock runs a year ahead, so the Anomalies other tests
	// create (detected now) are outside its window and only these count.
	base := time.Now().Add(365 * 24 * time.Hour).UTC().Truncate(time.Second)
	compat, err := NewChatCLICompatServer(reader, ChatCLICompatOptions{Now: func() time.Time { return base }})
	if err != nil {
		t.Fatalf("NewChatCLICompatServer: %v", err)
	}
	client := chatcliv1.NewChatCLIServiceClient(serve(t, nil, compat).dial(t))
	nsA, nsB := createNamespace(t, "alerts-a"), createNamespace(t, "alerts-b")

	anomaly := func(name, fallback string, typ platformv1alpha1.SignalType, sev platformv1alpha1.SignalSeverity, res platformv1alpha1.ResourceReference, age time.Duration) {
		createAnomaly(t, signals.Signal{
			Type: typ, Source: platformv1alpha1.SourceWatcher, Severity: sev, Resource: res,
			Description: fmt.Sprintf("%s on %s", typ, res.Name), DetectedAt: base.Add(-age),
		}, name, fallback)
	}
	deployment := func(ns, name string) platformv1alpha1.ResourceReference {
		return platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: name}
	}
	anomaly("restart-api", nsA, platformv1alpha1.SignalPodRestart, "high", deployment(nsA, "api"), 5*time.Minute)
	anomaly("oom-web", nsA, platformv1alpha1.SignalOOMKill, "critical", deployment(nsA, "web"), time.Minute)
	anomaly("errors-api", nsA, platformv1alpha1.SignalErrorRate, "warning", deployment(nsA, "api"), 10*time.Minute)
	anomaly("old-api", nsA, platformv1alpha1.SignalCrashLoopBackOff, "medium", deployment(nsA, "api"), 31*time.Minute)
	anomaly("notready-db", nsB, platformv1alpha1.SignalPodNotReady, "low",
		platformv1alpha1.ResourceReference{Kind: "StatefulSet", Namespace: nsB, Name: "db"}, 3*time.Minute)
	anomaly("node-1", nsB, platformv1alpha1.SignalNodeNotReady, "info", platformv1alpha1.ResourceReference{Kind: "Node", Name: "node-1"}, 4*time.Minute)
	anomaly("pull-api", nsB, platformv1alpha1.SignalImagePullError, "medium", deployment(nsB, "api"), 7*time.Minute)

	alert := func(typ, sev, object, ns, deploy, desc string, age time.Duration) *chatcliv1.WatcherAlert {
		return &chatcliv1.WatcherAlert{
			Type: typ, Severity: sev, Message: desc, Object: object, Namespace: ns,
			Deployment: deploy, TimestampUnix: base.Add(-age).Unix(),
		}
	}
	var (
		oomWeb      = alert("OOMKilled", "CRITICAL", "Deployment/web", nsA, "web", "oom_kill on web", time.Minute)
		notReadyDB  = alert("PodNotReady", "INFO", "StatefulSet/db", nsB, "", "pod_not_ready on db", 3*time.Minute)
		nodeDown    = alert("NodeNotReady", "INFO", "Node/node-1", "", "", "node_not_ready on node-1", 4*time.Minute)
		restartAPI  = alert("HighRestartCount", "CRITICAL", "Deployment/api", nsA, "api", "pod_restart on api", 5*time.Minute)
		pullAPI     = alert("ImagePullBackOff", "WARNING", "Deployment/api", nsB, "api", "image_pull_error on api", 7*time.Minute)
		errorRateAP = alert("error_rate", "WARNING", "Deployment/api", nsA, "api", "error_rate on api", 10*time.Minute)
	)
	cases := map[string]struct {
		reason string
		req    *chatcliv1.GetAlertsRequest
		want   []*chatcliv1.WatcherAlert
	}{
		"AllNamespaces": {
			reason: "newest first; the Anomaly detected 31 minutes ago is outside the default window",
			req:    &chatcliv1.GetAlertsRequest{},
			want:   []*chatcliv1.WatcherAlert{oomWeb, notReadyDB, nodeDown, restartAPI, pullAPI, errorRateAP},
		},
		"Namespace": {
			reason: "only the namespace's alerts",
			req:    &chatcliv1.GetAlertsRequest{Namespace: nsA},
			want:   []*chatcliv1.WatcherAlert{oomWeb, restartAPI, errorRateAP},
		},
		"NodeMatchesNoNamespace": {
			reason: "a Node's alert has no namespace, even though its Anomaly lives in one",
			req:    &chatcliv1.GetAlertsRequest{Namespace: nsB},
			want:   []*chatcliv1.WatcherAlert{notReadyDB, pullAPI},
		},
		"NamespaceAndDeployment": {
			reason: "both filters apply",
			req:    &chatcliv1.GetAlertsRequest{Namespace: nsA, Deployment: "api"},
			want:   []*chatcliv1.WatcherAlert{restartAPI, errorRateAP},
		},
		"DeploymentInEveryNamespace": {
			reason: "the deployment filter alone spans namespaces",
			req:    &chatcliv1.GetAlertsRequest{Deployment: "api"},
			want:   []*chatcliv1.WatcherAlert{restartAPI, pullAPI, errorRateAP},
		},
		"StatefulSetIsNoDeployment": {
			reason: "deployment matches Deployment resources only",
			req:    &chatcliv1.GetAlertsRequest{Namespace: nsB, Deployment: "db"},
			want:   nil,
		},
	}

	// The cache catches up with the creations first.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g.Eventually(func() int {
		resp, err := client.GetAlerts(ctx, &chatcliv1.GetAlertsRequest{})
		if err != nil {
			return -1
		}
		return len(resp.GetAlerts())
	}).Should(Equal(len(cases["AllNamespaces"].want)))

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp, err := client.GetAlerts(ctx, tc.req)
			if err != nil {
				t.Fatalf("GetAlerts: %v", err)
			}
			if diff := cmp.Diff(tc.want, resp.GetAlerts(), protocmp.Transform(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestSelectAlertsCapsAndOrders(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	items := make([]platformv1alpha1.Anomaly, 0, MaxAlerts+100)
	for i := range MaxAlerts + 100 {
		items = append(items, platformv1alpha1.Anomaly{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: fmt.Sprintf("a-%04d", i)},
			Spec: platformv1alpha1.AnomalySpec{
				SignalType: platformv1alpha1.SignalLatency, Severity: "medium",
				Resource:   platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "shop", Name: "api"},
				DetectedAt: metav1.NewTime(now.Add(-time.Duration(i/2) * time.Second)),
			},
		})
	}
	got := selectAlerts(items, &chatcliv1.GetAlertsRequest{}, now.Add(-time.Hour), MaxAlerts)
	if len(got) != MaxAlerts {
		t.Fatalf("got %d alerts, want the cap of %d", len(got), MaxAlerts)
	}
	for i := 1; i < len(got); i++ {
		if got[i].GetTimestampUnix() > got[i-1].GetTimestampUnix() {
			t.Fatalf("alert %d is newer than alert %d: not newest first", i, i-1)
		}
	}
	if oldest := got[len(got)-1].GetTimestampUnix(); oldest != now.Add(-(MaxAlerts/2-1)*time.Second).Unix() {
		t.Errorf("the cap dropped newer alerts: the oldest kept is at %d", oldest)
	}
}

func TestAlertMapping(t *testing.T) {
	types := map[platformv1alpha1.SignalType]string{
		platformv1alpha1.SignalPodRestart:         "HighRestartCount",
		platformv1alpha1.SignalOOMKill:            "OOMKilled",
		platformv1alpha1.SignalPodNotReady:        "PodNotReady",
		platformv1alpha1.SignalDeployFailing:      "DeploymentFailing",
		platformv1alpha1.SignalJobFailed:          "JobFailed",
		platformv1alpha1.SignalCronJobMissed:      "CronJobMissed",
		platformv1alpha1.SignalNodeNotReady:       "NodeNotReady",
		platformv1alpha1.SignalDiskPressure:       "DiskPressure",
		platformv1alpha1.SignalPIDPressure:        "PIDPressure",
		platformv1alpha1.SignalNetworkUnavailable: "NetworkUnavailable",
		platformv1alpha1.SignalCrashLoopBackOff:   "CrashLoopBackOff",
		platformv1alpha1.SignalImagePullError:     "ImagePullBackOff",
	}
	for _, typ := range platformv1alpha1.SignalTypes {
		want, ok := types[typ]
		if !ok {
			want = string(typ)
		}
		if got := chatcli.AlertType(typ); got != want {
			t.Errorf("AlertType(%s) = %q, want %q", typ, got, want)
		}
	}

	severities := map[platformv1alpha1.SignalSeverity]string{
		"critical": "CRITICAL", "high": "CRITICAL",
		"medium": "WARNING", "warning": "WARNING",
		"low": "INFO", "info": "INFO",
	}
	for _, sev := range platformv1alpha1.SignalSeverities {
		if got := alertSeverity(sev); got != severities[sev] {
			t.Errorf("alertSeverity(%s) = %q, want %q", sev, got, severities[sev])
		}
	}
}
