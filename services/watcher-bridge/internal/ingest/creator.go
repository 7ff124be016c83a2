// Package ingest turns signals into Anomalies exactly once. Every source of
// the watcher-bridge hands its signals to one Creator, which attributes pod
// signals to their top owner, deduplicates across replicas with Redis, and
// creates Anomalies under deterministic names so that a retry, a second
// replica or a Redis outage can never produce a second Anomaly.
package ingest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
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
	// Cache lists Anomalies by dedup key to find where a problem's
	// incidents stand after a restart; nil starts every walk at 0.
	Cache client.Reader
	// Owners looks up the owners of pods named by external sources; nil
	// uses APIReader.
	Owners k8sctx.OwnerLookup
	// TTL returns the dedup TTL for a resource (per Instance); nil uses
	// DefaultTTL.
	TTL        func(platformv1alpha1.ResourceReference) time.Duration
	DefaultTTL time.Duration
	// FallbackNamespace holds the Anomalies of cluster-scoped resources.
	FallbackNamespace string
	Logger            logr.Logger
	Metrics           *Metrics
	// Concurrency bounds how many signals of one batch are worked on at
	// once; 0 uses DefaultConcurrency.
	Concurrency int
}

// DefaultConcurrency lets a burst (a node going down takes many pods with
// it) overlap its API round trips without flooding the API server.
const DefaultConcurrency = 16

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
	// attributions caches what resources named by external sources
	// resolve to (UID, top owner), so that their signals share dedup keys
	// with native detection without an API call each.
	attributions *lru.Cache
	// redisDownUntil is when to try Redis again after it failed.
	redisDownUntil atomic.Int64
}

type recentEntry struct {
	result  signals.IngestResult
	expires time.Time
}

// degradedTTL is how long the local stand-in remembers a signal; short, so
// that an InvalidateDedup served by another replica is honoured soon.
const degradedTTL = 15 * time.Second

// redisRetryAfter is how long Redis is skipped after it failed to answer.
const redisRetryAfter = 5 * time.Second

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
		cfg.Owners = k8sctx.ReaderLookup(cfg.APIReader)
	}
	if cfg.Metrics == nil {
		cfg.Metrics, _ = NewMetrics(nil)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	return &Creator{cfg: cfg, generations: lru.New(100_000), recent: lru.New(100_000), attributions: lru.New(10_000)}, nil
}

// Ingest implements signals.Sink. The signals of a batch are worked on
// concurrently; copies of one fault within a batch settle like copies from
// two replicas do, on the Redis claim and the deterministic name. An error
// fails the whole batch: what was created is found again by name when the
// caller retries it.
func (c *Creator) Ingest(ctx context.Context, batch []signals.Signal) ([]signals.IngestResult, error) {
	results := make([]signals.IngestResult, len(batch))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.Concurrency)
	for i, s := range batch {
		g.Go(func() error {
			start := time.Now()
			res, err := c.ingestOne(gctx, s)
			if err != nil {
				return fmt.Errorf("ingest signal %d (%s on %s): %w", i, s.Type, s.Resource, err)
			}
			results[i] = res
			c.cfg.Metrics.observe(s, res, time.Since(start))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
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
	res := redisResource(s.Resource)

	claim, redisUp, existing, err := c.claim(ctx, res, key)
	if err != nil {
		return signals.IngestResult{}, err
	}
	if existing != "" {
		return duplicate(existing, c.namespaceOf(s)), nil
	}
	if !redisUp {
		if res, ok := c.recentResult(key); ok {
			return res, nil
		}
	}

	result, gen, err := c.createOrFind(ctx, s, c.startGeneration(ctx, c.namespaceOf(s), key))
	if err != nil {
		if claim != "" {
			c.release(ctx, key, claim)
		}
		return signals.IngestResult{}, err
	}
	c.generations.Add(key, gen)
	switch {
	case claim != "" && result.Status == signals.IngestRejected:
		c.release(ctx, key, claim)
	case claim != "":
		// Should this fail, the claim expires after pendingTTL and the next
		// sighting finds the Anomaly by its name.
		_, _ = c.cfg.Redis.ConfirmDedup(ctx, res, key, result.AnomalyName, c.ttl(s.Resource))
	case !redisUp && result.Status != signals.IngestRejected:
		c.remember(key, signals.IngestResult{Status: signals.IngestDuplicate, AnomalyName: result.AnomalyName, AnomalyNamespace: result.AnomalyNamespace})
	}
	return result, nil
}

// pendingPrefix marks a claim whose Anomaly does not exist yet.
const pendingPrefix = "~pending:"

// claim takes the dedup key in Redis. It returns the claim's value when
// this call made it, the confirmed Anomaly name when the signal is a
// duplicate, and whether Redis answered. A pending claim of someone else
// (or our own, replayed after a lost reply) is not trusted as a duplicate:
// its Anomaly may never come, so the caller goes on and the deterministic
// names settle it.
func (c *Creator) claim(ctx context.Context, res platformv1alpha1.ResourceReference, key string) (claim string, redisUp bool, existing string, err error) {
	if c.cfg.Redis == nil {
		return "", false, "", nil
	}
	if time.Now().UnixNano() < c.redisDownUntil.Load() {
		c.cfg.Metrics.RedisUnavailable.Inc()
		return "", false, "", nil
	}
	claim = pendingPrefix + rand.Text()
	r, err := c.cfg.Redis.DedupResource(ctx, res, key, claim, pendingTTL)
	switch {
	case err == nil && r.New:
		return claim, true, "", nil
	case err == nil && strings.HasPrefix(r.Existing, pendingPrefix):
		return "", true, "", nil
	case err == nil:
		return "", true, r.Existing, nil
	case ctx.Err() != nil:
		return "", false, "", fmt.Errorf("dedup: %w", ctx.Err())
	case errors.Is(err, redisx.ErrUnavailable):
		// Skip Redis for a while rather than pay a dial timeout per signal.
		c.redisDownUntil.Store(time.Now().Add(redisRetryAfter).UnixNano())
		c.cfg.Metrics.RedisUnavailable.Inc()
		return "", false, "", nil
	default:
		return "", false, "", fmt.Errorf("dedup: %w", err)
	}
}

// release drops our claim even when the caller's context has ended (a
// shutdown or a client deadline), so that it cannot hide the signal.
func (c *Creator) release(ctx context.Context, key, claim string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = c.cfg.Redis.ReleaseDedup(ctx, key, claim)
}

// startGeneration is where the walk over a problem's incidents begins: the
// higher of the generation last seen here and the highest one among the
// Anomalies in the cache. Another replica may have moved on since this one
// last looked, and an older generation's Anomaly may have been deleted:
// starting below the latest would take that free name for a second
// Anomaly of an open incident.
func (c *Creator) startGeneration(ctx context.Context, namespace, key string) int {
	highest := 0
	if g, ok := c.generations.Get(key); ok {
		highest = g.(int)
	}
	if c.cfg.Cache == nil {
		return highest
	}
	list := &platformv1alpha1.AnomalyList{}
	if err := c.cfg.Cache.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{platformv1alpha1.LabelDedupKey: key[:63]}); err != nil {
		return highest
	}
	for _, a := range list.Items {
		if g, err := strconv.Atoi(a.Labels[platformv1alpha1.LabelGeneration]); err == nil && g > highest {
			highest = g
		}
	}
	return highest
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
		case refusedForGood(err):
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

// refusedForGood tells a create that no retry can fix (a bad object, a
// namespace that does not exist or is being deleted, a refusal) from one
// that may pass later. The first rejects the one signal; the second fails
// the batch so that its sender retries it.
func refusedForGood(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsNotFound(err) ||
		apierrors.IsForbidden(err) || apierrors.IsRequestEntityTooLargeError(err)
}

type incident int

const (
	incidentOpen incident = iota
	incidentEnded
	anomalyGone
)

// incidentState tells whether an existing Anomaly still stands for an open
// incident: it does until it is correlated into an Issue that is then
// resolved (or deleted).
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
	case issue.Status.State == platformv1alpha1.IssueResolved:
		return incidentEnded, nil
	}
	// Escalated incidents stay open: people own them now, and a fault that
	// persists must not start a new round of analysis and remediation.
	return incidentOpen, nil
}

// attribute moves a pod signal to the pod's top owner and fills in the
// UID that external sources do not know, so that the same fault has the
// same dedup key whichever source reports it. A signal that already carries
// a UID comes from the detectors, which attributed it themselves. Lookups
// are cached briefly: external sources repeat the same names in storms.
func (c *Creator) attribute(ctx context.Context, s signals.Signal) (signals.Signal, error) {
	if s.Resource.UID != "" && !ownedKinds[s.Resource.Kind] {
		return s, nil
	}
	apiVersion, known := k8sctx.APIVersion(s.Resource.Kind)
	if !known {
		return s, nil
	}
	key := s.Resource.String()
	if v, ok := c.attributions.Get(key); ok && time.Now().Before(v.(attribution).expires) {
		s.Resource = v.(attribution).resource
		return s, nil
	}
	resolved, err := c.resolve(ctx, s.Resource, apiVersion)
	if err != nil {
		return s, err
	}
	c.attributions.Add(key, attribution{resource: resolved, expires: time.Now().Add(attributionTTL)})
	s.Resource = resolved
	return s, nil
}

// resolve reads the named object: its UID, and for a pod its top owner. An
// object that does not exist (or may not be read) stays as named.
func (c *Creator) resolve(ctx context.Context, r platformv1alpha1.ResourceReference, apiVersion string) (platformv1alpha1.ResourceReference, error) {
	if r.Kind == "HorizontalPodAutoscaler" {
		return c.resolveHPA(ctx, r)
	}
	meta, err := c.cfg.Owners(ctx, metav1.OwnerReference{APIVersion: apiVersion, Kind: r.Kind, Name: r.Name}, r.Namespace)
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		return r, nil
	case err != nil:
		return r, fmt.Errorf("look up %s: %w", r, err)
	}
	r.UID = meta.UID
	if !ownedKinds[r.Kind] {
		return r, nil
	}
	return k8sctx.TopOwner(ctx, r, meta.OwnerReferences, c.cfg.Owners)
}

// resolveHPA moves an HPA's signal to the workload it scales, as the
// detectors attribute an HPA at its maximum.
func (c *Creator) resolveHPA(ctx context.Context, r platformv1alpha1.ResourceReference) (platformv1alpha1.ResourceReference, error) {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	if err := c.cfg.APIReader.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, hpa); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			return r, nil
		}
		return r, fmt.Errorf("look up %s: %w", r, err)
	}
	r.UID = hpa.UID
	target := hpa.Spec.ScaleTargetRef
	apiVersion := target.APIVersion
	// The HPA controller reads only group and kind; old HPAs still name
	// apps/v1beta1 or v1beta2, which the API server no longer serves.
	if gv, err := schema.ParseGroupVersion(apiVersion); err == nil && gv.Group == "apps" {
		apiVersion = "apps/v1"
	}
	return k8sctx.TopOwner(ctx, r, []metav1.OwnerReference{{APIVersion: apiVersion, Kind: target.Kind, Name: target.Name}}, c.cfg.Owners)
}

// ownedKinds are the kinds whose faults belong to the workload above them,
// whichever source names them: a signal about one of them is moved to its
// top owner, even when it carries a UID (a caller of IngestSignals may
// send one).
var ownedKinds = map[string]bool{k8sctx.KindPod: true, k8sctx.KindReplicaSet: true, k8sctx.KindJob: true, k8sctx.KindHorizontalPodAutoscaler: true}

type attribution struct {
	resource platformv1alpha1.ResourceReference
	expires  time.Time
}

// attributionTTL bounds how long a lookup is trusted; a recreated object
// gets a new UID.
const attributionTTL = time.Minute

// InvalidateDedup forgets the signals of a resource, called when its Issue
// ends so that a recurrence becomes a new Anomaly.
func (c *Creator) InvalidateDedup(ctx context.Context, r platformv1alpha1.ResourceReference) (int, error) {
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

func (c *Creator) ttl(r platformv1alpha1.ResourceReference) time.Duration {
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

func redisResource(r platformv1alpha1.ResourceReference) platformv1alpha1.ResourceReference {
	return platformv1alpha1.ResourceReference{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
}

func rejected(reason string) signals.IngestResult {
	return signals.IngestResult{Status: signals.IngestRejected, Reason: reason}
}

func duplicate(name, namespace string) signals.IngestResult {
	return signals.IngestResult{Status: signals.IngestDuplicate, AnomalyName: name, AnomalyNamespace: namespace}
}
