package grpcserver

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/signals"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

// crashSignal is a crashloop signal about Deployment namespace/name,
// detected now.
func crashSignal(namespace, name string) signals.Signal {
	return signals.Signal{
		Type:        platformv1alpha1.SignalCrashLoopBackOff,
		Source:      platformv1alpha1.SourceWatcher,
		Severity:    platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityHigh),
		Resource:    platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: namespace, Name: name, UID: types.UID("uid-" + name)},
		Description: "CrashLoopBackOff on " + name,
		DetectedAt:  time.Now().UTC().Truncate(time.Second),
		Value:       "5",
		Threshold:   "3",
	}
}

// watch opens a WatchAnomalies stream and waits for its headers, which the
// server sends once the subscription is registered.
func watch(t *testing.T, ctx context.Context, conn *grpc.ClientConn, namespace string) grpc.ServerStreamingClient[watcherv1.WatchAnomaliesResponse] {
	t.Helper()
	stream, err := watcherv1.NewWatcherServiceClient(conn).WatchAnomalies(ctx, &watcherv1.WatchAnomaliesRequest{Namespace: namespace})
	if err != nil {
		t.Fatalf("WatchAnomalies: %v", err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatalf("WatchAnomalies headers: %v", err)
	}
	return stream
}

// receiver reads a stream in the background until it ends.
type receiver struct {
	mu   sync.Mutex
	got  []*watcherv1.Anomaly
	err  error
	done bool
}

func receive(stream grpc.ServerStreamingClient[watcherv1.WatchAnomaliesResponse]) *receiver {
	r := &receiver{}
	go func() {
		for {
			ev, err := stream.Recv()
			r.mu.Lock()
			if err != nil {
				r.err, r.done = err, true
				r.mu.Unlock()
				return
			}
			r.got = append(r.got, ev.GetAnomaly())
			r.mu.Unlock()
		}
	}()
	return r
}

// names lists "namespace/name" of what arrived so far.
func (r *receiver) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.got))
	for _, a := range r.got {
		out = append(out, a.GetNamespace()+"/"+a.GetName())
	}
	return out
}

func (r *receiver) count() int { return len(r.names()) }

// ended returns the stream's final status code, or OK while it is open.
func (r *receiver) ended() codes.Code {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		return codes.OK
	}
	return status.Code(r.err)
}

func TestWatchAnomaliesNamespaceFilter(t *testing.T) {
	g := newG(t)
	_, informer := startCache(t)
	w := newWatcher(t, nopSink{}, nopInvalidator{}, informer, WatcherOptions{})
	conn := serve(t, w, nil).dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nsA, nsB := createNamespace(t, "watch-a"), createNamespace(t, "watch-b")

	// An Anomaly the unfiltered stream has seen exists before the filtered
	// stream starts, so the filtered stream must not get it.
	all := receive(watch(t, ctx, conn, ""))
	createAnomaly(t, crashSignal(nsA, "before"), "before", nsA)
	g.Eventually(all.names).Should(Equal([]string{nsA + "/before"}))

	filtered := receive(watch(t, ctx, conn, nsA))
	createAnomaly(t, crashSignal(nsB, "b1"), "b1", nsB)
	a1 := createAnomaly(t, crashSignal(nsA, "a1"), "a1", nsA)
	createAnomaly(t, crashSignal(nsB, "b2"), "b2", nsB)
	createAnomaly(t, crashSignal(nsA, "a2"), "a2", nsA)

	// Events arrive in creation order, so a leaked b1 or before would come
	// first and the lists would never be equal.
	g.Eventually(filtered.names).Should(Equal([]string{nsA + "/a1", nsA + "/a2"}))
	g.Eventually(all.names).Should(Equal([]string{nsA + "/before", nsB + "/b1", nsA + "/a1", nsB + "/b2", nsA + "/a2"}))

	sig := crashSignal(nsA, "a1")
	want := &watcherv1.Anomaly{
		Name: "a1", Namespace: nsA,
		Signal: &watcherv1.Signal{
			SignalType: "crashloop_backoff", Source: "watcher", Severity: "high",
			Resource:    &commonv1.ResourceRef{Kind: "Deployment", Name: "a1", Namespace: nsA},
			Description: "CrashLoopBackOff on a1", DetectedAt: timestamppb.New(a1.Spec.DetectedAt.Time),
			Value: "5", Threshold: "3",
		},
		DedupKey:  sig.DedupKey()[:63],
		CreatedAt: timestamppb.New(a1.CreationTimestamp.Time),
	}
	filtered.mu.Lock()
	got := filtered.got[0]
	filtered.mu.Unlock()
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("streamed Anomaly (-want +got):\n%s", diff)
	}
}

func TestWatchAnomaliesCutsOffSlowSubscriber(t *testing.T) {
	g := newG(t)
	_, informer := startCache(t)
	const buffer = 4
	w := newWatcher(t, nopSink{}, nopInvalidator{}, informer, WatcherOptions{SubscriberBuffer: buffer})
	srv := serve(t, w, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := createNamespace(t, "watch-slow")

	normal := receive(watch(t, ctx, srv.dial(t), ns))
	// The slow client never reads. Static 64 KiB flow-control windows keep
	// gRPC from growing them, so the server's sends to it block soon and
	// its buffer fills.
	slow := watch(t, ctx, srv.dial(t, grpc.WithStaticStreamWindowSize(64<<10), grpc.WithStaticConnWindowSize(64<<10)), ns)
	g.Expect(w.Subscribers()).To(Equal(2))

	// Large Anomalies fill the slow client's windows quickly. The normal
	// subscriber has each event before the next Anomaly is created, so it
	// never lags by more than one.
	created := 0
	for w.Subscribers() == 2 {
		if created == 300 {
			t.Fatalf("the slow subscriber was not cut off after %d Anomalies", created)
		}
		s := crashSignal(ns, fmt.Sprintf("api-%03d", created))
		s.Description = strings.Repeat("x", 4000)
		createAnomaly(t, s, s.Resource.Name, ns)
		created++
		g.Eventually(normal.count).Should(Equal(created))
	}

	t.Logf("the slow subscriber was cut off after %d Anomalies", created)

	// The normal subscriber is still served after the cut.
	createAnomaly(t, crashSignal(ns, "after-cut"), "after-cut", ns)
	created++
	g.Eventually(normal.count).Should(Equal(created))
	g.Expect(normal.ended()).To(Equal(codes.OK))
	g.Expect(w.Subscribers()).To(Equal(1))
	// The cut stream's handler is still blocked sending to the slow
	// client, so it still counts against the caps.
	g.Expect(w.Streams()).To(Equal(2))

	// Reading now, the slow client gets what was in flight, then the status.
	received := 0
	var err error
	for {
		if _, err = slow.Recv(); err != nil {
			break
		}
		received++
	}
	st := status.Convert(err)
	g.Expect(st.Code()).To(Equal(codes.ResourceExhausted), "status %v", st)
	g.Expect(st.Message()).To(ContainSubstring("client too slow"))
	g.Expect(received).To(BeNumerically("<", created))
	g.Eventually(w.Streams).Should(Equal(1), "the cut stream's handler returned, and it no longer counts")
}

// TestWatchAnomaliesCapsTheReplica checks the replica-wide cap on streams,
// which many callers within their own caps cannot pass.
func TestWatchAnomaliesCapsTheReplica(t *testing.T) {
	g := newG(t)
	_, informer := startCache(t)
	w := newWatcher(t, nopSink{}, nopInvalidator{}, informer, WatcherOptions{MaxStreamsPerPeer: 5, MaxStreams: 2})
	conn := serve(t, w, nil).dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	receive(watch(t, ctx, conn, ""))
	receive(watch(t, ctx, conn, ""))
	g.Eventually(w.Streams).Should(Equal(2))
	stream, err := watcherv1.NewWatcherServiceClient(conn).WatchAnomalies(ctx, &watcherv1.WatchAnomaliesRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	st := status.Convert(err)
	g.Expect(st.Code()).To(Equal(codes.ResourceExhausted))
	g.Expect(st.Message()).To(ContainSubstring("on this replica"))
}

func TestWatchAnomaliesLifecycle(t *testing.T) {
	g := newG(t)
	_, informer := startCache(t)
	w := newWatcher(t, nopSink{}, nopInvalidator{}, informer, WatcherOptions{MaxStreamsPerPeer: 2})
	conn := serve(t, w, nil).dial(t)
	client := watcherv1.NewWatcherServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	recvCode := func(req *watcherv1.WatchAnomaliesRequest) codes.Code {
		stream, err := client.WatchAnomalies(ctx, req)
		if err != nil {
			return status.Code(err)
		}
		_, err = stream.Recv()
		return status.Code(err)
	}
	g.Expect(recvCode(&watcherv1.WatchAnomaliesRequest{Namespace: "Not_A_Namespace"})).To(Equal(codes.InvalidArgument))

	// A client that cancels is unsubscribed.
	cancelCtx, cancelStream := context.WithCancel(ctx)
	canceled := receive(watch(t, cancelCtx, conn, ""))
	g.Expect(w.Subscribers()).To(Equal(1))
	cancelStream()
	g.Eventually(w.Subscribers).Should(Equal(0))
	g.Eventually(canceled.ended).Should(Equal(codes.Canceled))

	// Each caller may hold MaxStreamsPerPeer streams.
	first := receive(watch(t, ctx, conn, ""))
	second := receive(watch(t, ctx, conn, ""))
	g.Expect(recvCode(&watcherv1.WatchAnomaliesRequest{})).To(Equal(codes.ResourceExhausted))

	// Shutdown ends every stream with Unavailable and refuses new ones.
	g.Expect(w.Close()).To(Succeed())
	g.Eventually(first.ended).Should(Equal(codes.Unavailable))
	g.Eventually(second.ended).Should(Equal(codes.Unavailable))
	g.Expect(recvCode(&watcherv1.WatchAnomaliesRequest{})).To(Equal(codes.Unavailable))
	g.Expect(w.Subscribers()).To(Equal(0))
}
