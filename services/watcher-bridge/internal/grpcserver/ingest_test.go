package grpcserver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/signals"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

var detected = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// wireSignal is a valid signal about Deployment shop/name; mutate breaks it.
func wireSignal(name string, mutate func(*watcherv1.Signal)) *watcherv1.Signal {
	s := &watcherv1.Signal{
		SignalType:  "oom_kill",
		Source:      "prometheus",
		Severity:    "critical",
		Resource:    &commonv1.ResourceRef{Kind: "Deployment", Name: name, Namespace: "shop", Uid: "uid-" + name},
		Description: "OOMKilled on " + name,
		DetectedAt:  timestamppb.New(detected),
		Value:       "3",
		Threshold:   "1",
		Labels:      map[string]string{"alertname": "KubeOOM"},
	}
	if mutate != nil {
		mutate(s)
	}
	return s
}

func ingestClient(t *testing.T, sink signals.Sink) watcherv1.WatcherServiceClient {
	t.Helper()
	_, informer := startCache(t)
	w := newWatcher(t, sink, nopInvalidator{}, informer, WatcherOptions{})
	return watcherv1.NewWatcherServiceClient(serve(t, w, nil).dial(t))
}

func TestIngestSignalsMixedBatch(t *testing.T) {
	sink := &recordingSink{}
	client := ingestClient(t, sink)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	node := wireSignal("node-1", func(s *watcherv1.Signal) {
		s.SignalType, s.Source, s.Severity = "node_not_ready", "watcher", "warning"
		s.Resource = &commonv1.ResourceRef{Kind: "Node", Name: "node-1", Uid: "uid-node-1"}
		s.Labels = map[string]string{"condition": "Ready"}
	})
	req := &watcherv1.IngestSignalsRequest{Signals: []*watcherv1.Signal{
		wireSignal("api", nil),
		wireSignal("api", func(s *watcherv1.Signal) { s.SignalType = "disk_full" }),
		wireSignal("api", func(s *watcherv1.Signal) { s.Resource.Name = "" }),
		wireSignal("api", func(s *watcherv1.Signal) { s.Resource.Namespace = "" }),
		wireSignal("api", func(s *watcherv1.Signal) { s.DetectedAt = nil }),
		wireSignal("api", func(s *watcherv1.Signal) { s.Source = "" }),
		wireSignal("api", func(s *watcherv1.Signal) { s.Severity, s.Source = "", "pager" }),
		wireSignal("api", func(s *watcherv1.Signal) { s.Resource = nil }),
		node,
	}}
	resp, err := client.IngestSignals(ctx, req)
	if err != nil {
		t.Fatalf("IngestSignals: %v", err)
	}

	rejected := func(reason string) *watcherv1.IngestResult {
		return &watcherv1.IngestResult{Status: watcherv1.IngestStatus_INGEST_STATUS_REJECTED, Reason: "InvalidArgument: " + reason}
	}
	apiSignal := signals.Signal{
		Type: platformv1alpha1.SignalOOMKill, Source: platformv1alpha1.SourcePrometheus,
		Severity:    platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityCritical),
		Resource:    platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "shop", Name: "api", UID: "uid-api"},
		Description: "OOMKilled on api", DetectedAt: detected, Value: "3", Threshold: "1",
		Labels: map[string]string{"alertname": "KubeOOM"},
	}
	nodeSignal := signals.Signal{
		Type: platformv1alpha1.SignalNodeNotReady, Source: platformv1alpha1.SourceWatcher,
		Severity:    platformv1alpha1.SignalSeverityWarning,
		Resource:    platformv1alpha1.ResourceReference{Kind: "Node", Name: "node-1", UID: "uid-node-1"},
		Description: "OOMKilled on node-1", DetectedAt: detected, Value: "3", Threshold: "1",
		Labels: map[string]string{"condition": "Ready"},
	}
	want := &watcherv1.IngestSignalsResponse{Results: []*watcherv1.IngestResult{
		{Status: watcherv1.IngestStatus_INGEST_STATUS_CREATED, AnomalyName: apiSignal.AnomalyName(0), AnomalyNamespace: "shop"},
		rejected(`unknown signal type "disk_full"`),
		rejected("resource kind and name are required"),
		rejected("resource namespace is required for kind Deployment"),
		rejected("detected_at is required"),
		rejected("source is required"),
		rejected(`severity is required; unknown source "pager"`),
		rejected("resource kind and name are required"),
		{Status: watcherv1.IngestStatus_INGEST_STATUS_CREATED, AnomalyName: nodeSignal.AnomalyName(0), AnomalyNamespace: "chatcli-system"},
	}}
	if diff := cmp.Diff(want, resp, protocmp.Transform()); diff != "" {
		t.Errorf("results are one per signal, in request order, with reasons (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]signals.Signal{{apiSignal, nodeSignal}}, sink.recorded()); diff != "" {
		t.Errorf("the Sink gets exactly the valid signals, in one batch (-want +got):\n%s", diff)
	}

	// A retried signal comes back as a duplicate naming the same Anomaly.
	resp, err = client.IngestSignals(ctx, &watcherv1.IngestSignalsRequest{Signals: []*watcherv1.Signal{wireSignal("api", nil)}})
	if err != nil {
		t.Fatalf("IngestSignals (retry): %v", err)
	}
	wantRetry := &watcherv1.IngestSignalsResponse{Results: []*watcherv1.IngestResult{
		{Status: watcherv1.IngestStatus_INGEST_STATUS_DUPLICATE, AnomalyName: apiSignal.AnomalyName(0), AnomalyNamespace: "shop"},
	}}
	if diff := cmp.Diff(wantRetry, resp, protocmp.Transform()); diff != "" {
		t.Errorf("retry (-want +got):\n%s", diff)
	}
}

func TestIngestSignalsAllRejectedSkipsSink(t *testing.T) {
	sink := &recordingSink{}
	client := ingestClient(t, sink)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := client.IngestSignals(ctx, &watcherv1.IngestSignalsRequest{Signals: []*watcherv1.Signal{
		wireSignal("api", func(s *watcherv1.Signal) { s.SignalType = "" }),
	}})
	if err != nil {
		t.Fatalf("IngestSignals: %v", err)
	}
	want := []*watcherv1.IngestResult{{Status: watcherv1.IngestStatus_INGEST_STATUS_REJECTED, Reason: "InvalidArgument: signal_type is required"}}
	if diff := cmp.Diff(want, resp.GetResults(), protocmp.Transform()); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if got := sink.recorded(); len(got) != 0 {
		t.Errorf("the Sink was called with %d batches for a batch without a valid signal", len(got))
	}
}

func TestIngestSignalsBatchErrors(t *testing.T) {
	batch := func(n int) []*watcherv1.Signal {
		out := make([]*watcherv1.Signal, n)
		for i := range out {
			out[i] = wireSignal("api", nil)
		}
		return out
	}
	cases := map[string]struct {
		reason      string
		sinkErr     error
		signals     []*watcherv1.Signal
		wantCode    codes.Code
		wantMessage string
		wantBatches int
	}{
		"Empty": {
			reason: "an empty batch is a caller bug", signals: nil,
			wantCode: codes.InvalidArgument, wantMessage: "signals is empty",
		},
		"Oversize": {
			reason: "the limit is named so the caller knows how to split", signals: batch(MaxIngestBatch + 1),
			wantCode: codes.InvalidArgument, wantMessage: "limit of 1000",
		},
		"AtLimit": {
			reason: "a batch of exactly the limit is accepted", signals: batch(MaxIngestBatch),
			wantCode: codes.OK, wantBatches: 1,
		},
		"SinkUnavailable": {
			reason: "the caller retries the whole batch", sinkErr: errors.New("connect: connection refused"), signals: batch(2),
			wantCode: codes.Unavailable, wantMessage: "safe to retry", wantBatches: 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sink := &recordingSink{err: tc.sinkErr}
			client := ingestClient(t, sink)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := client.IngestSignals(ctx, &watcherv1.IngestSignalsRequest{Signals: tc.signals})
			st := status.Convert(err)
			if st.Code() != tc.wantCode || !strings.Contains(st.Message(), tc.wantMessage) {
				t.Fatalf("%s: got %v %q, want %v containing %q", tc.reason, st.Code(), st.Message(), tc.wantCode, tc.wantMessage)
			}
			if err == nil && len(resp.GetResults()) != len(tc.signals) {
				t.Errorf("%s: %d results for %d signals", tc.reason, len(resp.GetResults()), len(tc.signals))
			}
			if got := len(sink.recorded()); got != tc.wantBatches {
				t.Errorf("%s: the Sink got %d batches, want %d", tc.reason, got, tc.wantBatches)
			}
		})
	}
}
