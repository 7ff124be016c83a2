package chatcli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/signals"
)

// syncRetry is how long the Poller waits before listing Instances again
// after the list failed.
const syncRetry = time.Second

// Config holds the Poller's dependencies.
type Config struct {
	// Cache reads and watches Instances: the manager's cache
	// (mgr.GetCache()). The Poller asks it for an Instance informer only.
	// Required.
	Cache cache.Cache
	// APIReader reads the TLS and token Secrets, uncached
	// (mgr.GetAPIReader()), so no cluster-wide Secret cache is started.
	// Required.
	APIReader client.Reader
	// Sink stores the signals. Required.
	Sink signals.Sink
	// Logger is the Poller's logger, named by the caller; the zero Logger
	// discards.
	Logger logr.Logger
	// Registerer receives the metrics; nil means controller-runtime's
	// registry. Collectors already registered there are reused.
	Registerer prometheus.Registerer
	// DefaultInterval is used when an Instance sets no interval or a bad
	// one; zero means DefaultInterval (30 s).
	DefaultInterval time.Duration
	// Dial builds a gRPC client; nil means grpcx.Dial, which sets TLS 1.3,
	// the bearer token, keepalive and round_robin.
	Dial func(target string, cfg grpcx.ClientConfig) (*grpc.ClientConn, error)
}

// Poller polls chatcli.v1 GetAlerts on every Ready Instance whose watcher
// is enabled, one goroutine per Instance, and hands the alerts to the Sink
// as signals with source watcher.
//
// It is level-triggered: every Instance event (add, update, delete) only
// wakes it up, and it then lists all Instances from the cache and brings
// the running loops in line: it starts a loop for each eligible Instance
// that has none, restarts a loop whose target (endpoint, interval, TLS
// Secret, token reference, UID) changed, and stops the loops of Instances
// that are gone or no longer eligible. Bursts of events coalesce into one
// pass. Instances are few, so a full list per pass is cheap.
//
// The Poller never writes an Instance: their status belongs to the
// instance-operator. Problems are reported in logs and metrics.
//
// It is a manager.Runnable that needs leader election: only the leader
// polls, so N replicas do not multiply the load on the ChatCLI servers.
type Poller struct {
	cfg     Config
	log     logr.Logger
	metrics *metrics
	now     func() time.Time
	wake    chan struct{}
	started atomic.Bool

	mu    sync.Mutex
	loops map[types.NamespacedName]*running
}

// running is a loop goroutine and the means to stop it.
type running struct {
	target target
	cancel context.CancelFunc
	done   chan struct{}
}

var (
	_ manager.Runnable               = (*Poller)(nil)
	_ manager.LeaderElectionRunnable = (*Poller)(nil)
)

// New checks cfg, fills in its defaults and registers the metrics.
func New(cfg Config) (*Poller, error) {
	var missing []error
	if cfg.Cache == nil {
		missing = append(missing, errors.New("config: Cache is required"))
	}
	if cfg.APIReader == nil {
		missing = append(missing, errors.New("config: APIReader is required"))
	}
	if cfg.Sink == nil {
		missing = append(missing, errors.New("config: Sink is required"))
	}
	if err := errors.Join(missing...); err != nil {
		return nil, fmt.Errorf("configure GetAlerts poller: %w", err)
	}
	if cfg.DefaultInterval <= 0 {
		cfg.DefaultInterval = DefaultInterval
	}
	if cfg.Dial == nil {
		cfg.Dial = grpcx.Dial
	}
	if cfg.Registerer == nil {
		cfg.Registerer = crmetrics.Registry
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Poller{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: m,
		now:     time.Now,
		wake:    make(chan struct{}, 1),
		loops:   make(map[types.NamespacedName]*running),
	}, nil
}

// SetupWithManager adds the Poller to mgr, which runs it while it leads.
func (p *Poller) SetupWithManager(mgr manager.Manager) error {
	return mgr.Add(p)
}

// NeedLeaderElection is true: only the leader polls.
func (p *Poller) NeedLeaderElection() bool { return true }

// Start polls until ctx ends, then stops every loop and waits for them.
// It returns an error only when the Instance informer cannot be had.
func (p *Poller) Start(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("GetAlerts poller already started")
	}
	informer, err := p.cfg.Cache.GetInformer(ctx, &platformv1alpha1.Instance{})
	if err != nil {
		return fmt.Errorf("get Instance informer: %w", err)
	}
	wake := func(any) { p.trigger() }
	reg, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    wake,
		UpdateFunc: func(_, obj any) { wake(obj) },
		DeleteFunc: wake,
	})
	if err != nil {
		return fmt.Errorf("watch Instances: %w", err)
	}
	defer func() { _ = informer.RemoveEventHandler(reg) }()
	defer p.stopAll()

	p.trigger()
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		case <-retry:
		}
		retry = nil
		if err := p.sync(ctx); err != nil {
			p.log.Error(err, "Failed to list Instances; retrying")
			retry = time.After(syncRetry)
		}
	}
}

// trigger asks for a sync pass without blocking; pending asks coalesce.
func (p *Poller) trigger() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// sync brings the running loops in line with the Instances in the cache.
func (p *Poller) sync(ctx context.Context) error {
	var list platformv1alpha1.InstanceList
	if err := p.cfg.Cache.List(ctx, &list); err != nil {
		return fmt.Errorf("list Instances: %w", err)
	}
	want := make(map[types.NamespacedName]target)
	for i := range list.Items {
		if eligible(&list.Items[i]) {
			t := targetOf(&list.Items[i])
			want[t.key] = t
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	restarted := make(map[types.NamespacedName]bool)
	for key, r := range p.loops {
		t, ok := want[key]
		if ok && t == r.target {
			continue
		}
		r.stop()
		delete(p.loops, key)
		if ok {
			restarted[key] = true
			continue
		}
		p.metrics.forget(key.String())
		p.log.Info("Stopped polling Instance", "instance", key.String())
	}
	for key, t := range want {
		if _, ok := p.loops[key]; ok {
			continue
		}
		p.loops[key] = p.start(ctx, t)
		if !t.tls {
			continue // the loop logs its refusal
		}
		msg := "Started polling Instance"
		if restarted[key] {
			msg = "Restarted polling Instance after it changed"
		}
		p.log.Info(msg, "instance", key.String(), "endpoint", t.endpoint, "interval", t.interval)
	}
	return nil
}

// start runs a loop for t in its own goroutine.
func (p *Poller) start(ctx context.Context, t target) *running {
	ctx, cancel := context.WithCancel(ctx)
	r := &running{target: t, cancel: cancel, done: make(chan struct{})}
	l := &loop{p: p, t: t, label: t.key.String(), log: p.log.WithValues("instance", t.key.String())}
	go func() {
		defer close(r.done)
		l.run(ctx)
	}()
	return r
}

// stop cancels the loop and waits until it has returned.
func (r *running) stop() {
	r.cancel()
	<-r.done
}

// stopAll stops every loop and waits for them.
func (p *Poller) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.loops {
		r.cancel()
	}
	for key, r := range p.loops {
		<-r.done
		delete(p.loops, key)
	}
}

// polled returns the Instances that have a running loop, sorted.
func (p *Poller) polled() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]string, 0, len(p.loops))
	for key := range p.loops {
		keys = append(keys, key.String())
	}
	sort.Strings(keys)
	return keys
}
