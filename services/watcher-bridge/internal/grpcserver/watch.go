package grpcserver

import (
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/util/validation"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

// WatchAnomalies streams one event per Anomaly created after the
// subscription started, optionally only those in one namespace.
//
// What "created after" means: the stream carries the informer's add events
// that arrive once the subscription is registered, never the informer's
// initial list. The server sends the response headers as soon as the
// subscription is registered, so a client that waits for them (Header())
// and then lists Anomalies misses none. Anomalies that appear through a
// relist after a broken watch are new to the informer and are sent. Updates
// are not sent: the spec of an Anomaly never changes, and the message has no
// event type to tell an update from a creation.
//
// Each stream has a bounded buffer. A client that falls so far behind that
// the buffer fills is cut off with ResourceExhausted ("client too slow")
// and should reconnect, then list to catch up; it never slows other
// subscribers down or grows the server's memory. A client that has stopped
// reading altogether sees the status once it reads again; until then, or
// until its connection closes, its handler waits in a Send held by HTTP/2
// flow control, having already left the fan-out.
//
// Errors: InvalidArgument for a malformed namespace; ResourceExhausted when
// the caller has too many open streams or reads too slowly; Unavailable when
// the server is shutting down; Canceled when the client cancels.
func (w *WatcherServer) WatchAnomalies(req *watcherv1.WatchAnomaliesRequest, stream grpc.ServerStreamingServer[watcherv1.WatchAnomaliesResponse]) error {
	namespace := req.GetNamespace()
	if namespace != "" {
		if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
			return status.Errorf(codes.InvalidArgument, "namespace %q is not a valid namespace: %s", namespace, strings.Join(errs, "; "))
		}
	}
	ctx := stream.Context()
	peer := grpcx.PeerIdentity(ctx)
	sub, err := w.hub.subscribe(namespace, peer)
	if err != nil {
		return err
	}
	defer w.hub.unsubscribe(sub)
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}

	// One goroutine does every Send, as gRPC requires. While a Send is
	// blocked on flow control, events pile up in the buffer; once the hub
	// cuts the subscriber off, the loop ends at the next check.
	for {
		select {
		case <-sub.dropped:
			w.log.V(1).Info("Disconnected slow WatchAnomalies client", "peer", peer, "buffer", cap(sub.events))
			return status.Errorf(codes.ResourceExhausted,
				"client too slow: %d anomaly events were waiting; reconnect and list Anomalies to catch up", cap(sub.events))
		case <-w.hub.done:
			return status.Error(codes.Unavailable, "server is shutting down; reconnect")
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		default:
		}
		select {
		// The three closings are handled by the checks above, next round.
		case <-sub.dropped:
		case <-w.hub.done:
		case <-ctx.Done():
		case ev := <-sub.events:
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}

// subscriber is one open WatchAnomalies stream.
type subscriber struct {
	namespace string
	peer      string
	events    chan *watcherv1.WatchAnomaliesResponse
	// dropped is closed when the hub cuts the subscriber off because its
	// buffer was full.
	dropped chan struct{}
}

// hub fans the informer's add events out to the subscribers. publish never
// blocks: a subscriber whose buffer is full is dropped.
//
// The stream counts are kept apart from the set publish fans out to: a
// dropped subscriber leaves the set at once, but its handler may still be
// blocked in Send, so it counts against the caps until the handler returns
// and unsubscribes.
type hub struct {
	buffer     int
	maxPerPeer int
	maxTotal   int
	done       chan struct{}

	mu      sync.Mutex
	closed  bool
	subs    map[*subscriber]struct{}
	perPeer map[string]int
	total   int
}

// DefaultMaxStreams caps the WatchAnomalies streams of one replica, so that
// many callers, each within its own cap, cannot add up past what the
// server can feed.
const DefaultMaxStreams = 1024

func newHub(buffer, maxPerPeer, maxTotal int) *hub {
	return &hub{
		buffer:     buffer,
		maxPerPeer: maxPerPeer,
		maxTotal:   maxTotal,
		done:       make(chan struct{}),
		subs:       map[*subscriber]struct{}{},
		perPeer:    map[string]int{},
	}
}

func (h *hub) subscribe(namespace, peer string) (*subscriber, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, status.Error(codes.Unavailable, "server is shutting down; reconnect")
	}
	if h.perPeer[peer] >= h.maxPerPeer {
		return nil, status.Errorf(codes.ResourceExhausted, "too many open WatchAnomalies streams: the limit is %d per caller", h.maxPerPeer)
	}
	if h.total >= h.maxTotal {
		return nil, status.Errorf(codes.ResourceExhausted, "too many open WatchAnomalies streams on this replica: the limit is %d", h.maxTotal)
	}
	s := &subscriber{
		namespace: namespace,
		peer:      peer,
		events:    make(chan *watcherv1.WatchAnomaliesResponse, h.buffer),
		dropped:   make(chan struct{}),
	}
	h.subs[s] = struct{}{}
	h.perPeer[s.peer]++
	h.total++
	return s, nil
}

// unsubscribe is called once per subscriber, when its handler returns: only
// then does the stream stop counting against the caps.
func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(s)
	h.total--
	if h.perPeer[s.peer]--; h.perPeer[s.peer] <= 0 {
		delete(h.perPeer, s.peer)
	}
}

// removeLocked takes s out of the fan-out set; it reports whether s was in.
func (h *hub) removeLocked(s *subscriber) bool {
	if _, ok := h.subs[s]; !ok {
		return false
	}
	delete(h.subs, s)
	return true
}

// streams is how many streams count against the caps.
func (h *hub) streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

func (h *hub) size() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// onAdd is the informer's add handler. Objects of the initial list existed
// before any subscription and are skipped.
func (h *hub) onAdd(obj any, isInInitialList bool) {
	a, ok := obj.(*platformv1alpha1.Anomaly)
	if !ok || isInInitialList {
		return
	}
	h.publish(a)
}

// publish offers a to every subscriber whose filter matches. The message is
// built once and shared; gRPC only reads it.
func (h *hub) publish(a *platformv1alpha1.Anomaly) {
	var ev *watcherv1.WatchAnomaliesResponse
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.namespace != "" && s.namespace != a.Namespace {
			continue
		}
		if ev == nil {
			ev = &watcherv1.WatchAnomaliesResponse{Anomaly: anomalyToProto(a)}
		}
		select {
		case s.events <- ev:
		default:
			if h.removeLocked(s) {
				close(s.dropped)
			}
		}
	}
}

// anomalyToProto converts an Anomaly for the stream. The resource UID and
// the signal's labels are not kept on the Anomaly, so they stay empty;
// dedup_key is the dedup-key label, the key's first 63 hex characters.
func anomalyToProto(a *platformv1alpha1.Anomaly) *watcherv1.Anomaly {
	spec := &a.Spec
	sig := &watcherv1.Signal{
		SignalType: string(spec.SignalType),
		Source:     string(spec.Source),
		Severity:   string(spec.Severity),
		Resource: &commonv1.ResourceRef{
			Kind:      spec.Resource.Kind,
			Name:      spec.Resource.Name,
			Namespace: spec.Resource.Namespace,
		},
		Description: spec.Description,
		Value:       spec.Value,
		Threshold:   spec.Threshold,
	}
	if !spec.DetectedAt.IsZero() {
		sig.DetectedAt = timestamppb.New(spec.DetectedAt.Time)
	}
	out := &watcherv1.Anomaly{
		Name:      a.Name,
		Namespace: a.Namespace,
		Signal:    sig,
		DedupKey:  a.Labels[platformv1alpha1.LabelDedupKey],
	}
	if !a.CreationTimestamp.IsZero() {
		out.CreatedAt = timestamppb.New(a.CreationTimestamp.Time)
	}
	return out
}
