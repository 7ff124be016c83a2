// Package ingest turns signals into Anomalies exactly once. Every source of
// the watcher-bridge hands its signals to one Creator, which attributes pod
// signals to their top owner, deduplicates across replicas with Redis, and
// creates Anomalies under deterministic names so that a retry, a second
// replica or a Redis outage can never produce a second Anomaly.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/redis/go-redis/v9"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/signals"
)

// DefaultDedupTTL is how long a seen signal stays deduplicated when neither
// the Instance nor the flags say otherwise.
const DefaultDedupTTL = 30 * time.Minute

// pendingTTL is how long a dedup claim lives before its Anomaly exists.
const pendingTTL = 30 * time.Second

// maxGenerations bounds the walk over an object's past incidents.
const maxGenerations = 1000

// Config holds the Creator's dependencies.
type Config struct {
	// Client creates Anomalies.
	Client client.Client
	// APIReader reads Anomalies, Issues and owners uncached: on a name
	// collision the decision must not rest on a stale cache.
	APIReader client.Reader
	// Redis deduplicates across replicas; nil runs on deterministic names
	// alone.
	Redis *redisx.Client
	// Owners looks up the owners of pods named by external sources; nil
	// uses APIReader.
	Owners OwnerLookup
	// TTL returns the dedup TTL for a resource (per Instance); nil uses
	// DefaultTTL.
	TTL        func(signals.Resource) time.Duration
	DefaultTTL time.Duration
	// FallbackNamespace holds the Anomalies of cluster-scoped resources.
	FallbackNamespace string
	Logger            logr.Logger
	Metrics           *Metrics
}

// Creator is the Sink of the watcher-bridge.
type Creator struct {
	cfg Config
	// generations remembers the current incident generation of recently
	// seen dedup keys, so recurrences skip the walk over ended ones.
	generations *lru.Cache
	// recent stands in for Redis while it is unreachable, so that a storm of
	// informer events does not become a storm of API calls.
	recentMu sync.Mutex
	recent   *lru.Cache
}

type recentEntry struct {
	result  signals.IngestResult
	expires time.Time
}

// degradedTTL is how long the local stand-in remembers a signal; short, so
// that an InvalidateDedup served by another replica is honoured soon.
const degradedTTL = time.Minute

// NewCreator checks cfg and returns a Creator.
func NewCreator(cfg Config) (*Creator, error) {
	if cfg.Client == nil || cfg.APIReader == nil {
		return nil, errors.New("ingest: Client and APIReader are required")
	}
	if cfg.FallbackNamespace == "" {
		return nil, errors.New("ingest: FallbackNamespace is required for cluster-scoped resources")
	}
	if cfg.DefaultTTL <= 0 {
		cfg.DefaultTTL = DefaultDedupTTL
	}
	if cfg.Owners == nil {
		cfg.Owners = ReaderLookup(cfg.APIReader)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return &Creator{cfg: cfg, generations: lru.New(100_000), recent: lru.New(100_000)}, nil
}

// Ingest implements signals.Sink.
func (c *Creator) Ingest(ctx context.Context, batch []signals.Signal) ([]signals.IngestResult, error) {
	results := make([]signals.IngestResult, len(batch))
	for i, s := range batch {
		start := time.Now()
		res, err := c.ingestOne(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("ingest signal %d (%s on %s): %w", i, s.Type, s.Resource, err)
		}
		results[i] = res
		c.cfg.Metrics.observe(s, res, time.Since(start))
	}
	return results, nil
}

func (c *Creator) ingestOne(ctx context.Context, s signals.Signal) (signals.IngestResult, error) {
	if err := s.Validate(); err != nil {
		return rejected(err.Error()), nil
	}
	s, err := c.attribute(ctx, s)
	if err != nil {
		return signals.IngestResult{}, err
	}
	key := s.DedupKey()
	generation := c.generation(key)
	name := s.AnomalyName(generation)

	redisUp := false
	if c.cfg.Redis != nil {
		// The key is claimed for a short while only, and gets its full TTL once
		// the Anomaly exists: a crash or an API error between the two must not
		// leave a claim that hides the signal for the whole TTL.
		res, err := c.cfg.Redis.DedupResource(ctx, redisResource(s.Resource), key, name, pendingTTL)
		switch {
		case err == nil && !res.New:
			return duplicate(res.Existing, c.namespaceOf(s)), nil
		case err == nil:
			redisUp = true
		case errors.Is(err, redisx.ErrUnavailable):
			c.cfg.Metrics.RedisUnavailable.Inc()
			c.cfg.Logger.V(1).Info("Redis unavailable; relying on deterministic names", "error", err.Error())
		default:
			return signals.IngestResult{}, fmt.Errorf("dedup: %w", err)
		}
	}
	if !redisUp {
		if res, ok := c.recentResult(key); ok {
			return res, nil
		}
	}

	res, gen, err := c.createOrFind(ctx, s, generation)
	if err != nil {
		if redisUp {
			_ = c.cfg.Redis.Redis().Del(ctx, redisx.DedupKey(key)).Err()
		}
		return signals.IngestResult{}, err
	}
	c.generations.Add(key, gen)
	if redisUp && res.Status != signals.IngestRejected {
		// Best effort: should this fail, the claim expires after pendingTTL
		// and the next sighting finds the Anomaly by its name.
		_ = c.cfg.Redis.Redis().SetArgs(ctx, redisx.DedupKey(key), res.AnomalyName, redis.SetArgs{Mode: "XX", TTL: c.ttl(s.Resource)}).Err()
	}
	if !redisUp {
		c.remember(key, signals.IngestResult{Status: signals.IngestDuplicate, AnomalyName: res.AnomalyName, AnomalyNamespace: res.AnomalyNamespace})
	}
	return res, nil
}

// createOrFind creates the Anomaly of the first generation whose name is
// free, or reports the open incident the signal duplicates. A name that
// exists belongs to an open incident unless its Anomaly was correlated
// into an Issue that has since ended: then the problem has recurred, and
// the next generation's name is used.
func (c *Creator) createOrFind(ctx context.Context, s signals.Signal, generation int) (signals.IngestResult, int, error) {
	namespace := c.namespaceOf(s)
	retries := 0
	for g := generation; g < generation+maxGenerations; g++ {
		anomaly := s.Anomaly(s.AnomalyName(g), c.cfg.FallbackNamespace, g)
		err := c.cfg.Client.Create(ctx, anomaly)
		switch {
		case err == nil:
			return signals.IngestResult{Status: signals.IngestCreated, AnomalyName: anomaly.Name, AnomalyNamespace: namespace}, g, nil
		case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
			return rejected(err.Error()), g, nil
		case !apierrors.IsAlreadyExists(err):
			return signals.IngestResult{}, g, fmt.Errorf("create Anomaly %s/%s: %w", namespace, anomaly.Name, err)
		}
		state, err := c.incidentState(ctx, namespace, anomaly.Name)
		switch {
		case err != nil:
			return signals.IngestResult{}, g, err
		case state == incidentOpen:
			return duplicate(anomaly.Name, namespace), g, nil
		case state == anomalyGone && retries < 3:
			// Deleted between our create and our read: the name is free.
			retries++
			g--
		}
	}
	return signals.IngestResult{}, generation, fmt.Errorf("more than %d ended incidents for %s", maxGenerations, s.Resource)
}

type incident int

const (
	incidentOpen incident = iota
	incidentEnded
	anomalyGone
)

// incidentState tells whether an existing Anomaly still stands for an open
// incident: it does until it is correlated into an Issue that then ends.
func (c *Creator) incidentState(ctx context.Context, namespace, name string) (incident, error) {
	existing := &platformv1alpha1.Anomaly{}
	if err := c.cfg.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, existing); err != nil {
		if apierrors.IsNotFound(err) {
			return anomalyGone, nil
		}
		return incidentOpen, fmt.Errorf("get Anomaly %s/%s: %w", namespace, name, err)
	}
	if existing.Status.IssueRef == nil {
		return incidentOpen, nil
	}
	issue := &platformv1alpha1.Issue{}
	err := c.cfg.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: existing.Status.IssueRef.Name}, issue)
	switch {
	case apierrors.IsNotFound(err):
		return incidentEnded, nil
	case err != nil:
		return incidentOpen, fmt.Errorf("get Issue %s/%s: %w", namespace, existing.Status.IssueRef.Name, err)
	case issue.Status.State.IsTerminal():
		return incidentEnded, nil
	}
	return incidentOpen, nil
}

// attribute moves a pod signal to the pod's top owner.
func (c *Creator) attribute(ctx context.Context, s signals.Signal) (signals.Signal, error) {
	if s.Resource.Kind != "Pod" {
		return s, nil
	}
	pod, err := c.cfg.Owners(ctx, metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: s.Resource.Name}, s.Resource.Namespace)
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("look up pod %s/%s: %w", s.Resource.Namespace, s.Resource.Name, err)
	}
	if s.Resource.UID == "" {
		s.Resource.UID = pod.UID
	}
	owner, err := TopOwner(ctx, s.Resource, pod.OwnerReferences, c.cfg.Owners)
	if err != nil {
		return s, err
	}
	s.Resource = owner
	return s, nil
}

// InvalidateDedup forgets the signals of a resource, called when its Issue
// ends so that a recurrence becomes a new Anomaly.
func (c *Creator) InvalidateDedup(ctx context.Context, r signals.Resource) (int, error) {
	c.recentMu.Lock()
	c.recent.Clear()
	c.recentMu.Unlock()
	if c.cfg.Redis == nil {
		return 0, nil
	}
	n, err := c.cfg.Redis.InvalidateDedup(ctx, redisResource(r))
	if err != nil {
		return 0, fmt.Errorf("invalidate dedup of %s: %w", r, err)
	}
	return n, nil
}

func (c *Creator) generation(key string) int {
	if g, ok := c.generations.Get(key); ok {
		return g.(int)
	}
	return 0
}

func (c *Creator) recentResult(key string) (signals.IngestResult, bool) {
	c.recentMu.Lock()
	defer c.recentMu.Unlock()
	v, ok := c.recent.Get(key)
	if !ok {
		return signals.IngestResult{}, false
	}
	entry := v.(recentEntry)
	if time.Now().After(entry.expires) {
		c.recent.Remove(key)
		return signals.IngestResult{}, false
	}
	return entry.result, true
}

func (c *Creator) remember(key string, res signals.IngestResult) {
	c.recentMu.Lock()
	defer c.recentMu.Unlock()
	c.recent.Add(key, recentEntry{result: res, expires: time.Now().Add(degradedTTL)})
}

func (c *Creator) ttl(r signals.Resource) time.Duration {
	if c.cfg.TTL != nil {
		if ttl := c.cfg.TTL(r); ttl > 0 {
			return ttl
		}
	}
	return c.cfg.DefaultTTL
}

func (c *Creator) namespaceOf(s signals.Signal) string {
	if s.Resource.Namespace != "" {
		return s.Resource.Namespace
	}
	return c.cfg.FallbackNamespace
}

func redisResource(r signals.Resource) redisx.Resource {
	return redisx.Resource{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
}

func rejected(reason string) signals.IngestResult {
	return signals.IngestResult{Status: signals.IngestRejected, Reason: reason}
}

func duplicate(name, namespace string) signals.IngestResult {
	return signals.IngestResult{Status: signals.IngestDuplicate, AnomalyName: name, AnomalyNamespace: namespace}
}
