// Package grpcserver serves the watcher-bridge's gRPC API: the platform's
// WatcherService (IngestSignals, InvalidateDedup, WatchAnomalies) and, for
// tools written against a ChatCLI server, chatcli.v1 GetAlerts.
//
// The servers hold no detection logic of their own. IngestSignals converts
// and validates signals and hands them to the same signals.Sink every other
// source uses; InvalidateDedup delegates to the dedup pipeline through
// Invalidator; WatchAnomalies and GetAlerts read Anomalies from the manager's
// cache.
package grpcserver

import (
	"errors"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/chatcli/aiops/libs/signals"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

// Register registers the servers on s. A nil server is skipped, so a
// replica can serve only one of the two APIs.
func Register(s grpc.ServiceRegistrar, w *WatcherServer, c *ChatCLICompatServer) {
	if w != nil {
		s.RegisterService(watcherServiceDesc(), w)
	}
	if c != nil {
		chatcliv1.RegisterChatCLIServiceServer(s, c)
	}
}

// Informer is the part of a controller-runtime cache.Informer that
// WatchAnomalies needs; pass the result of the manager cache's
// GetInformer(ctx, &platformv1alpha1.Anomaly{}).
type Informer interface {
	AddEventHandler(handler toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error)
	RemoveEventHandler(handle toolscache.ResourceEventHandlerRegistration) error
}

// Defaults of WatcherOptions.
const (
	// DefaultSubscriberBuffer is how many Anomaly events may wait for one
	// WatchAnomalies client before it is disconnected as too slow.
	DefaultSubscriberBuffer = 256
	// DefaultMaxStreamsPerPeer bounds the WatchAnomalies streams one caller
	// (see grpcx.PeerIdentity) may hold open at once.
	DefaultMaxStreamsPerPeer = 16
)

// WatcherOptions tune a WatcherServer. The zero value uses the defaults.
type WatcherOptions struct {
	// SubscriberBuffer is the number of events buffered per WatchAnomalies
	// stream; zero means DefaultSubscriberBuffer.
	SubscriberBuffer int
	// MaxStreamsPerPeer bounds the open WatchAnomalies streams per caller;
	// zero means DefaultMaxStreamsPerPeer.
	MaxStreamsPerPeer int
	// MaxStreams bounds the open WatchAnomalies streams of the replica;
	// zero means DefaultMaxStreams.
	MaxStreams int
	// Logger receives the request handlers' logs. The zero Logger discards.
	Logger logr.Logger
}

// WatcherServer implements watcherv1.WatcherServiceServer.
type WatcherServer struct {
	watcherv1.UnimplementedWatcherServiceServer

	sink        signals.Sink
	invalidator Invalidator
	informer    Informer
	handle      toolscache.ResourceEventHandlerRegistration
	hub         *hub
	log         logr.Logger
	closeOnce   sync.Once
	closeErr    error
}

// NewWatcherServer returns a WatcherServer that stores ingested signals
// through sink, clears dedup keys through invalidator and streams the
// Anomalies informer reports as created. It adds one event handler to
// informer; Close removes it.
func NewWatcherServer(sink signals.Sink, invalidator Invalidator, informer Informer, opts WatcherOptions) (*WatcherServer, error) {
	if sink == nil || invalidator == nil || informer == nil {
		return nil, errors.New("watcher gRPC server needs a Sink, an Invalidator and an Anomaly informer")
	}
	if opts.SubscriberBuffer <= 0 {
		opts.SubscriberBuffer = DefaultSubscriberBuffer
	}
	if opts.MaxStreamsPerPeer <= 0 {
		opts.MaxStreamsPerPeer = DefaultMaxStreamsPerPeer
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = DefaultMaxStreams
	}
	w := &WatcherServer{
		sink:        sink,
		invalidator: invalidator,
		informer:    informer,
		hub:         newHub(opts.SubscriberBuffer, opts.MaxStreamsPerPeer, opts.MaxStreams),
		log:         opts.Logger.WithName("watcher-grpc"),
	}
	handle, err := informer.AddEventHandler(toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: w.hub.onAdd,
	})
	if err != nil {
		return nil, fmt.Errorf("add Anomaly event handler: %w", err)
	}
	w.handle = handle
	return w, nil
}

// Close ends every WatchAnomalies stream with Unavailable, refuses new ones
// and removes the event handler from the informer. Call it before the gRPC
// server's GracefulStop, which otherwise waits for the streams forever. A
// stream whose client has stopped reading ends only when the client reads
// again or its connection closes, so bound GracefulStop with a timeout and
// fall back to Stop. Close is idempotent.
func (w *WatcherServer) Close() error {
	w.closeOnce.Do(func() {
		w.hub.close()
		w.closeErr = w.informer.RemoveEventHandler(w.handle)
	})
	return w.closeErr
}

// Subscribers reports how many WatchAnomalies streams are subscribed: open
// and not cut off for falling behind.
func (w *WatcherServer) Subscribers() int { return w.hub.size() }

// Streams is the number of open WatchAnomalies streams that count against
// the caps: the subscribers, and the dropped ones whose handler has not
// returned yet.
func (w *WatcherServer) Streams() int { return w.hub.streams() }
