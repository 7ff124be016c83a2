package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/e2e/scenario"
)

// TestAnAlertmanagerAlertIsRemediatedByARunbook is scenario 9: an
// error_rate alert that Prometheus' Alertmanager posts to the
// watcher-bridge's webhook becomes an Issue, and the namespace's Runbook
// for it scales the Deployment out.
func TestAnAlertmanagerAlertIsRemediatedByARunbook(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const app = "storefront"
	ns := newNamespace(t, "alert")
	tracker := scenario.NewTracker(watchful, ns)
	go tracker.Run(ctx)
	tracker.Track(app)
	if err := env.Client.Create(ctx, scenario.Deployment(ns, app, scenario.HealthyImage, scenario.HealthyLimit, 2)); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := scenario.Available(ctx, env.Client, ns, app)
		return err == nil, nil
	}); err != nil {
		t.Fatalf("Deployment %s never became available", app)
	}
	// The team's runbook for errors under load, one per severity (the
	// Issue's severity comes from the signals' risk).
	if err := runbookPerSeverity(ctx, env.Client, ns, "errors", platformv1alpha1.SignalErrorRate, "Scale out under errors",
		platformv1alpha1.RunbookStep{Name: "scale out", Action: platformv1alpha1.ActionScaleDeployment, Params: platformv1alpha1.ActionParams{"replicas": "4"}}); err != nil {
		t.Fatal(err)
	}

	postAlert(ctx, t, ns, app)
	inc, ok := tracker.Wait(ctx, app, time.Minute, 0, func(i *scenario.Incident) bool { return i.Issue != nil })
	if !ok {
		t.Fatalf("no Issue for the alert: %s", describe(&inc))
	}
	if inc.Issue.Spec.SignalType != platformv1alpha1.SignalErrorRate || inc.Issue.Spec.Source != platformv1alpha1.SourcePrometheus {
		t.Errorf("Issue %s is %s from %s, want error_rate from prometheus (through Alertmanager)", inc.Issue.Name, inc.Issue.Spec.SignalType, inc.Issue.Spec.Source)
	}
	inc, ok = tracker.Wait(ctx, app, 2*time.Minute, 30*time.Second, func(i *scenario.Incident) bool { return i.State().IsTerminal() })
	if !ok || inc.State() != platformv1alpha1.IssueResolved {
		loopMissing(t, "the alert's Issue did not resolve: "+describe(&inc))
	}
	if !healedBy(&inc, platformv1alpha1.ActionScaleDeployment) {
		t.Errorf("no Completed plan scaled the Deployment: %s", describe(&inc))
	}
	d := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: app}, d); err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 4 {
		t.Errorf("Deployment %s has %d replicas, want the Runbook's 4", app, *d.Spec.Replicas)
	}
}

// postAlert posts one firing HighErrorRate alert, as Alertmanager's webhook
// receiver (payload version 4) sends it, with the webhook's own token.
func postAlert(ctx context.Context, t *testing.T, ns, deployment string) {
	t.Helper()
	alert := map[string]any{
		"status": "firing",
		"labels": map[string]string{
			"alertname": "HighErrorRate", "namespace": ns, "deployment": deployment, "severity": "warning", "job": deployment + "-metrics",
		},
		"annotations": map[string]string{
			"summary": "storefront is returning errors", "description": "6% of requests failed with 5xx over 5 minutes", "value": "0.06", "threshold": "0.05",
		},
		"startsAt": time.Now().UTC().Format(time.RFC3339Nano), "endsAt": "0001-01-01T00:00:00Z",
		"generatorURL": "http://prometheus:9090/graph", "fingerprint": "e2e" + strings.ReplaceAll(ns, "-", ""),
	}
	body, err := json.Marshal(map[string]any{
		"version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "truncatedAlerts": 0, "status": "firing", "receiver": "chatcli-aiops",
		"groupLabels": map[string]string{"alertname": "HighErrorRate"}, "commonLabels": alert["labels"], "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager:9093", "alerts": []any{alert},
	})
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(env.PKI.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	token, err := os.ReadFile(env.AlertmanagerTokenFile)
	if err != nil {
		t.Fatal(err)
	}
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("https://%s/alertmanager", env.Services["watcher-bridge"].WebhookAddr), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+string(token))
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("post the alert: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		t.Fatalf("the webhook answered %s: %s", resp.Status, msg.String())
	}
}
