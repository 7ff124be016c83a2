// Package watch runs the watcher-bridge's native detection: informers on the
// namespaces in scope, narrowed and slimmed to what the detectors read, a
// workqueue that evaluates each changed object once, attribution of pod
// findings to the top owner, and hand-off to the ingest Sink.
package watch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/chatcli/aiops/libs/collectors"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/signals"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// Config holds the Detector's dependencies and settings.
type Config struct {
	Kube kubernetes.Interface
	Sink signals.Sink
	// Detect holds the detectors' thresholds; the zero value uses
	// detect.DefaultConfig.
	Detect detect.Config
	// Workers evaluate objects in parallel; default 4.
	Workers int
	// WatchNodes adds the cluster-wide node detectors.
	WatchNodes bool
	Logger     logr.Logger
	Registerer prometheus.Registerer
	// Now is the clock; tests may fix it.
	Now func() time.Time
	// UsagePollInterval is how often PodMetrics are read for cpu_high and
	// memory_high, when the metrics API is served; zero turns it off.
	UsagePollInterval time.Duration
	// OwnerFallback looks up an owner the informers do not hold (an
	// owner of another kind, or one created a moment ago); nil stops the
	// attribution at the last owner found.
	OwnerFallback k8sctx.OwnerLookup
	// SecretNamespaces are the namespaces whose Secrets the watcher-bridge
	// may list (the chart grants a Role there): TLS Secrets and Helm
	// release Secrets are read only in those of them in scope. Empty turns
	// both sources off.
	SecretNamespaces []string
	// Metadata lists Helm's release Secrets as metadata only; nil turns
	// helm_release_failed off.
	Metadata metadata.Interface
	// Dynamic reads cert-manager Certificates and Argo CD Applications,
	// while they are served; nil turns both sources off.
	Dynamic dynamic.Interface
	// SourceCheckInterval is how often discovery is asked whether the
	// optional CRD sources are served; default 1m.
	SourceCheckInterval time.Duration
}

// Detector watches the workloads in scope and reports their faults. It is a
// leader-elected manager.Runnable: one replica watches, while every replica
// serves the ingest endpoints.
type Detector struct {
	cfg   Config
	queue workqueue.TypedRateLimitingInterface[objectKey]
	scope atomic.Pointer[Scope]

	mu         sync.Mutex
	namespaces map[string]*namespaceInformers
	nodes      cache.SharedIndexInformer
	classes    cache.SharedIndexInformer
	nodePods   cache.SharedIndexInformer
	started    bool

	// sources are the optional sources (sources.go), fixed at creation.
	sources []*sourceState

	restarts  *detect.RestartHistory
	unhealthy *detect.UnhealthySince
	usage     podUsage
	findings  *prometheus.CounterVec
	folded    *prometheus.CounterVec
	// sourceServed says whether an optional source's API is served.
	sourceServed *prometheus.GaugeVec
}

// NewDetector checks cfg and returns a Detector with an empty scope.
func NewDetector(cfg Config) (*Detector, error) {
	if cfg.Kube == nil || cfg.Sink == nil {
		return nil, errors.New("watch: Kube and Sink are required")
	}
	if cfg.Detect == (detect.Config{}) {
		cfg.Detect = detect.DefaultConfig()
	}
	if err := cfg.Detect.Validate(); err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SourceCheckInterval <= 0 {
		cfg.SourceCheckInterval = time.Minute
	}
	d := &Detector{
		cfg: cfg,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[objectKey](),
			workqueue.TypedRateLimitingQueueConfig[objectKey]{Name: "watcher_bridge_detection"}),
		namespaces: map[string]*namespaceInformers{},
		restarts:   detect.NewRestartHistory(0),
		unhealthy:  detect.NewUnhealthySince(0),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatcli_watcher_bridge_findings_total",
			Help: "Faults the native detectors found in scope, before dedup, by signal type.",
		}, []string{"signal_type"}),
		folded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatcli_watcher_bridge_symptoms_folded_total",
			Help: "Findings reported as evidence of their cause's Anomaly instead of one of their own, by signal type.",
		}, []string{"signal_type"}),
		sourceServed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "chatcli_watcher_bridge_source_served",
			Help: "1 when an optional detection source runs, 0 when it does not: podmetrics (metrics.k8s.io PodMetrics), certmanager (Certificates), argocd (Applications) while their APIs are served; tls_secrets and helm_releases when namespaces are granted.",
		}, []string{"source"}),
	}
	if cfg.Registerer != nil {
		var err error
		if d.findings, err = collectors.Register(cfg.Registerer, d.findings); err != nil {
			return nil, err
		}
		if d.folded, err = collectors.Register(cfg.Registerer, d.folded); err != nil {
			return nil, err
		}
		if d.sourceServed, err = collectors.Register(cfg.Registerer, d.sourceServed); err != nil {
			return nil, err
		}
		// A second Detector in one process (tests) keeps the first's gauge.
		_ = cfg.Registerer.Register(newWatchedObjects(d))
	}
	d.sources = d.newSources()
	empty := Scope{}
	d.scope.Store(&empty)
	return d, nil
}

// NeedLeaderElection is true: one replica watching is enough, and dedup
// covers the hand-over.
func (d *Detector) NeedLeaderElection() bool { return true }

// Start runs the workers until ctx ends.
func (d *Detector) Start(ctx context.Context) error {
	d.mu.Lock()
	d.started = true
	if d.cfg.WatchNodes {
		d.startNodes(ctx)
		d.startNodePods(ctx)
	}
	d.startStorageClasses(ctx)
	for ns, inf := range d.namespaces {
		if inf.stop == nil {
			d.startNamespace(ns, inf)
		}
	}
	d.syncSourcesLocked()
	d.mu.Unlock()
	d.logSecretSources()

	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Go(func() { wait.UntilWithContext(ctx, d.work, time.Second) })
	}
	if d.cfg.UsagePollInterval > 0 {
		wg.Go(func() { d.pollUsage(ctx) })
	}
	wg.Go(func() { d.watchSources(ctx) })
	<-ctx.Done()
	d.queue.ShutDown()
	wg.Wait()
	d.mu.Lock()
	d.started = false
	stopping := d.namespaces
	d.namespaces = map[string]*namespaceInformers{}
	stoppingSources := d.syncSourcesLocked()
	d.mu.Unlock()
	for _, inf := range stopping {
		inf.shutdown()
	}
	d.stopSources(stoppingSources)
	return nil
}

// SetScope narrows the watches to a new scope: namespaces that entered get
// informers, namespaces that left lose theirs.
func (d *Detector) SetScope(s Scope) {
	d.scope.Store(&s)
	want := map[string]bool{}
	for _, ns := range s.Namespaces() {
		want[ns] = true
	}
	var leaving []*namespaceInformers
	var leavingSources []*sourceInformer
	defer func() {
		// Stopping informers waits for their goroutines; not under the lock,
		// which the workers and /metrics need.
		for _, inf := range leaving {
			inf.shutdown()
		}
		d.stopSources(leavingSources)
	}()
	d.mu.Lock()
	defer d.mu.Unlock()
	for ns, inf := range d.namespaces {
		if !want[ns] {
			d.forget(inf)
			d.usage.dropNamespace(ns)
			leaving = append(leaving, inf)
			delete(d.namespaces, ns)
			d.cfg.Logger.Info("Stopped watching namespace", "namespace", ns)
			continue
		}
		// The new scope may cover objects whose faults the old one dropped,
		// and a standing fault may never change its object again.
		if d.started {
			d.requeue(inf)
			d.requeueSourcesLocked(ns)
		}
	}
	if d.nodes != nil {
		for _, name := range d.nodes.GetStore().ListKeys() {
			d.queue.Add(objectKey{kind: kindNode, name: name})
		}
	}
	for ns := range want {
		if _, ok := d.namespaces[ns]; ok {
			continue
		}
		inf := d.newNamespaceInformers(ns)
		d.namespaces[ns] = inf
		if d.started {
			d.startNamespace(ns, inf)
		}
	}
	leavingSources = d.syncSourcesLocked()
}

// forget drops the detectors' memory of a namespace's objects, so that a
// return to scope starts from fresh baselines rather than counting what
// happened while nobody watched.
func (d *Detector) forget(inf *namespaceInformers) {
	for _, kind := range []string{kindPod, kindStatefulSet, kindDaemonSet, kindPVC, kindIngress} {
		for _, obj := range inf.byKind[kind].GetStore().List() {
			if m, ok := metaOf(obj); ok {
				d.restarts.Forget(m.uid)
				d.unhealthy.Forget(m.uid)
			}
			if rec, ok := obj.(*podRecord); ok {
				detect.ForgetUsage(d.unhealthy, rec.pod())
			}
		}
	}
}

// requeue evaluates every cached object of a namespace again.
func (d *Detector) requeue(inf *namespaceInformers) {
	for kind, informer := range inf.byKind {
		if notEvaluated(kind) {
			continue
		}
		for _, key := range informer.GetStore().ListKeys() {
			if ns, name, err := cache.SplitMetaNamespaceKey(key); err == nil {
				d.queue.Add(objectKey{kind: kind, namespace: ns, name: name})
			}
		}
	}
}

// Scope is the scope in force.
func (d *Detector) Scope() Scope { return *d.scope.Load() }

// WaitForSync blocks until every informer in scope has listed its objects,
// or ctx ends.
func (d *Detector) WaitForSync(ctx context.Context) bool {
	d.mu.Lock()
	var synced []cache.InformerSynced
	for _, inf := range d.namespaces {
		synced = append(synced, inf.hasSynced...)
	}
	if d.nodes != nil {
		synced = append(synced, d.nodes.HasSynced)
	}
	if d.classes != nil {
		synced = append(synced, d.classes.HasSynced)
	}
	if d.nodePods != nil {
		synced = append(synced, d.nodePods.HasSynced)
	}
	synced = append(synced, d.sourcesSyncedLocked()...)
	d.mu.Unlock()
	return cache.WaitForCacheSync(ctx.Done(), synced...)
}

func (d *Detector) startNamespace(ns string, inf *namespaceInformers) {
	inf.stop = make(chan struct{})
	inf.factory.Start(inf.stop)
	d.cfg.Logger.Info("Started watching namespace", "namespace", ns)
}

// startStorageClasses caches the StorageClasses, few and small, so that a
// claim's binding mode can be read without an API call.
func (d *Detector) startStorageClasses(ctx context.Context) {
	factory := informers.NewSharedInformerFactoryWithOptions(d.cfg.Kube, 0)
	d.classes = factory.Storage().V1().StorageClasses().Informer()
	factory.Start(ctx.Done())
}

func (d *Detector) startNodes(ctx context.Context) {
	factory := informers.NewSharedInformerFactoryWithOptions(d.cfg.Kube, 0, informers.WithTransform(slim))
	d.nodes = factory.Core().V1().Nodes().Informer()
	d.handle(d.nodes, kindNode)
	factory.Start(ctx.Done())
}
