package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

type throughput struct {
	newSignals, created, dupSignals int
	newTook, dupTook                time.Duration
}

func (t throughput) newRate() float64 { return float64(t.newSignals) / t.newTook.Seconds() }
func (t throughput) dupRate() float64 { return float64(t.dupSignals) / t.dupTook.Seconds() }

// measureThroughput sends every distinct fault once (each becomes an
// Anomaly), then a storm of repeats of them, which is what a flapping
// cluster or a chatty tool sends: each repeat is deduplicated in Redis.
func measureThroughput(ctx context.Context, r *rig, o options) (throughput, error) {
	const ns = "bench-ingest"
	if err := r.watchedNamespace(ctx, ns); err != nil {
		return throughput{}, err
	}
	client := watcherv1.NewWatcherServiceClient(r.grpc)
	// Outside signals must name objects that exist: the Deployments first.
	if err := parallel(o.clients, o.distinct, func(i int) error {
		_, err := r.kube.AppsV1().Deployments(ns).Create(ctx, deployment(fmt.Sprintf("api-%04d", i)), metav1.CreateOptions{})
		return err
	}); err != nil {
		return throughput{}, fmt.Errorf("create the Deployments the signals name: %w", err)
	}
	if err := awaitInCache(ctx, client, ns, fmt.Sprintf("api-%04d", o.distinct-1)); err != nil {
		return throughput{}, err
	}
	detected := timestamppb.Now()
	signal := func(i int) *watcherv1.Signal {
		return &watcherv1.Signal{
			SignalType: "error_rate", Source: "prometheus", Severity: "high",
			Resource:    &commonv1.ResourceRef{Kind: "Deployment", Namespace: ns, Name: fmt.Sprintf("api-%04d", i), Uid: fmt.Sprintf("uid-%04d", i)},
			Description: "HighErrorRate on api: 7% of requests fail", DetectedAt: detected, Value: "0.07", Threshold: "0.05",
		}
	}
	send := func(batch []*watcherv1.Signal) (int, error) {
		resp, err := client.IngestSignals(ctx, &watcherv1.IngestSignalsRequest{Signals: batch})
		if err != nil {
			return 0, err
		}
		created := 0
		for _, res := range resp.GetResults() {
			switch res.GetStatus() {
			case watcherv1.IngestStatus_INGEST_STATUS_CREATED:
				created++
			case watcherv1.IngestStatus_INGEST_STATUS_REJECTED:
				return 0, fmt.Errorf("signal rejected: %s", res.GetReason())
			}
		}
		return created, nil
	}

	t := throughput{newSignals: o.distinct}
	start := time.Now()
	for from := 0; from < o.distinct; from += o.batch {
		batch := make([]*watcherv1.Signal, 0, o.batch)
		for i := from; i < min(from+o.batch, o.distinct); i++ {
			batch = append(batch, signal(i))
		}
		n, err := send(batch)
		if err != nil {
			return t, err
		}
		t.created += n
	}
	t.newTook = time.Since(start)

	batches := o.signals / o.batch
	t.dupSignals = batches * o.batch
	start = time.Now()
	err := parallel(o.clients, batches, func(int) error {
		batch := make([]*watcherv1.Signal, o.batch)
		for i := range batch {
			batch[i] = signal(rand.IntN(o.distinct))
		}
		n, err := send(batch)
		if err == nil && n > 0 {
			err = fmt.Errorf("%d repeats created Anomalies", n)
		}
		return err
	})
	t.dupTook = time.Since(start)
	return t, err
}

// awaitInCache waits until the watcher-bridge admits a signal about the
// last Deployment created (its cache holds them all by then: one watch
// delivers them in order). The probe is of a type the measurement does not
// send, so it is not counted.
func awaitInCache(ctx context.Context, client watcherv1.WatcherServiceClient, ns, name string) error {
	probe := &watcherv1.Signal{
		SignalType: "pod_not_ready", Source: "prometheus", Severity: "low",
		Resource:    &commonv1.ResourceRef{Kind: "Deployment", Namespace: ns, Name: name},
		Description: "bench probe", DetectedAt: timestamppb.Now(),
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.IngestSignals(ctx, &watcherv1.IngestSignalsRequest{Signals: []*watcherv1.Signal{probe}})
		if err != nil {
			return err
		}
		if res := resp.GetResults(); len(res) == 1 && res[0].GetStatus() != watcherv1.IngestStatus_INGEST_STATUS_REJECTED {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the watcher-bridge did not see Deployment %s/%s within 30 s", ns, name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
