package grpcserver

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/ingest"
	wbwatch "github.com/chatcli/aiops/services/watcher-bridge/internal/watch"
)

// outsideClient serves IngestSignals from a real Creator, as the
// watcher-bridge does, whose scope is the namespace shop.
func outsideClient(t *testing.T) watcherv1.WatcherServiceClient {
	t.Helper()
	wb := env.AsService(t, "watcher-bridge", env.NewNamespace(t, "platform", nil))
	creator, err := ingest.NewCreator(ingest.Config{
		Client: wb.Client, APIReader: wb.Client, FallbackNamespace: "default", Logger: logr.Discard(),
		Scope: func(context.Context) (ingest.Scope, error) { return wbwatch.NewScope(nil, []string{"shop"}), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	_, informer := startCache(t)
	w := newWatcher(t, creator.External("grpc"), creator, informer, WatcherOptions{})
	return watcherv1.NewWatcherServiceClient(serve(t, w, nil).dial(t))
}

func TestIngestSignalsRefusesWhatIsOutOfScopeOrMissing(t *testing.T) {
	watcher := outsideClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resource := func(kind, ns, name string) func(*watcherv1.Signal) {
		return func(s *watcherv1.Signal) {
			s.Resource = &commonv1.ResourceRef{Kind: kind, Namespace: ns, Name: name, Uid: "made-up"}
		}
	}
	resp, err := watcher.IngestSignals(ctx, &watcherv1.IngestSignalsRequest{Signals: []*watcherv1.Signal{
		wireSignal("x", resource("ConfigMap", "kube-system", "kubeadm-config")),
		wireSignal("x", resource("Deployment", "kube-system", "coredns")),
		wireSignal("x", resource("Deployment", "shop", "no-such-deployment")),
	}})
	if err != nil {
		t.Fatalf("IngestSignals: %v", err)
	}
	rejected := func(reason string) *watcherv1.IngestResult {
		return &watcherv1.IngestResult{Status: watcherv1.IngestStatus_INGEST_STATUS_REJECTED, Reason: reason}
	}
	want := []*watcherv1.IngestResult{
		rejected("KindNotAllowed: kind ConfigMap is not one the platform watches"),
		rejected("OutOfScope: the resource is not watched by any Instance or selected namespace"),
		rejected("NotFound: the resource, or an owner it belongs to, does not exist or is being deleted"),
	}
	if diff := cmp.Diff(want, resp.GetResults(), protocmp.Transform()); diff != "" {
		t.Errorf("each signal is refused with a code and a short message (-want +got):\n%s", diff)
	}
	for _, ns := range []string{"kube-system", "shop", "default"} {
		list := &platformv1alpha1.AnomalyList{}
		if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, a := range list.Items {
			if a.Spec.Resource.Kind == "ConfigMap" || a.Spec.Resource.Name == "coredns" || a.Spec.Resource.Name == "no-such-deployment" {
				t.Errorf("Anomaly %s/%s was created for a refused signal", ns, a.Name)
			}
		}
	}
}

// rawCodec sends bytes as they are, as a client in a language whose
// protobuf library does not check UTF-8 would.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	return proto.Unmarshal(data, v.(proto.Message))
}
func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

func TestIngestSignalsRejectsAnInvalidUTF8SignalAlone(t *testing.T) {
	sink := &recordingSink{}
	_, informer := startCache(t)
	w := newWatcher(t, sink, nopInvalidator{}, informer, WatcherOptions{})
	conn := serve(t, w, nil).dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	good, err := proto.Marshal(wireSignal("api", nil))
	if err != nil {
		t.Fatal(err)
	}
	// The bad signal is the good one with a description that is not UTF-8.
	bad, err := proto.Marshal(wireSignal("api", func(s *watcherv1.Signal) { s.Description = "PLACEHOLDER" }))
	if err != nil {
		t.Fatal(err)
	}
	// Of the same length, so that the field's length prefix still holds.
	bad = bytes.Replace(bad, []byte("PLACEHOLDER"), []byte("bad\xff\xfetext12"), 1)
	var body []byte
	for _, s := range [][]byte{good, bad} {
		body = protowire.AppendTag(body, 1, protowire.BytesType)
		body = protowire.AppendBytes(body, s)
	}
	resp := &watcherv1.IngestSignalsResponse{}
	if err := conn.Invoke(ctx, watcherv1.WatcherService_IngestSignals_FullMethodName, body, resp, grpc.ForceCodec(rawCodec{})); err != nil {
		t.Fatalf("IngestSignals failed as a whole: %v", err)
	}
	want := []*watcherv1.IngestResult{
		{Status: watcherv1.IngestStatus_INGEST_STATUS_CREATED, AnomalyName: resp.GetResults()[0].GetAnomalyName(), AnomalyNamespace: "shop"},
		{Status: watcherv1.IngestStatus_INGEST_STATUS_REJECTED, Reason: "InvalidArgument: the signal is not a valid Signal message: a string in it is not UTF-8"},
	}
	if diff := cmp.Diff(want, resp.GetResults(), protocmp.Transform()); diff != "" {
		t.Errorf("the good signal is stored, the bad one rejected alone (-want +got):\n%s", diff)
	}
	if got := sink.recorded(); len(got) != 1 || len(got[0]) != 1 {
		t.Errorf("the Sink got %v, want one batch of the good signal", got)
	}
}
