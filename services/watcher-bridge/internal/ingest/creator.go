// Package ingest turns signals into Anomalies exactly once. Every source of
// the watcher-bridge hands its signals to one Creator, which keeps them to
// the watch scope, attributes pod signals to their top owner, deduplicates
// across replicas with Redis, and creates Anomalies under deterministic
// names so that a retry, a second replica or a Redis outage can never
// produce a second Anomaly. Native detection uses the Creator itself;
// sources outside the cluster use Creator.External, which trusts less of
// what they send.
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
	apimeta "k8s.io/apimachinery/pkg/api/meta"
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
	// Scope returns what the platform watches now. Every signal, whatever
	// its source, must be about something in it. Required.
	Scope func(ctx context.Context) (Scope, error)
	// Budget bounds the Anomalies each outside source may create per
	// namespace; a zero Limit leaves them unbounded. It is kept in Redis
	// and not enforced while Redis is unreachable.
	Budget Budget
}

// Scope is what the platform watches: the Instances' targets and the
// namespaces --namespace-selector picks (watch.Scope).
type Scope interface {
	// Covers reports whether a signal about r, attributed to its top
	// owner, is in scope.
	Covers(r platformv1alpha1.ResourceReference) bool
	// CoversNamespace reports whether anything in namespace is watched
	// ("" for cluster-scoped resources: whether anything is).
	CoversNamespace(namespace string) bool
}

// Budget is how many Anomalies one outside source may create in one
// namespace per Window.
type Budget struct {
	Limit  int64
	Window time.Duration
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
	attributions *attributionCache
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
	if cfg.Client == nil || cfg.APIReader == nil || cfg.Scope == nil {
		return nil, errors.New("ingest: Client, APIReader and Scope are required")
	}
	if cfg.Budget.Limit < 0 || (cfg.Budget.Limit > 0 && cfg.Budget.Window < time.Second) {
		return nil, fmt.Errorf("ingest: budget of %d per %s is not a limit per window of at least 1s", cfg.Budget.Limit, cfg.Budget.Window)
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
	return &Creator{cfg: cfg, generations: lru.New(100_000), recent: lru.New(100_000), attributions: newAttributionCache(10_000)}, nil
}

// Ingest implements signals.Sink for native detection, whose signals carry
// the UID of the object the detectors evaluated. The signals of a batch are
// worked on concurrently; copies of one fault within a batch settle like
// copies from two replicas do, on the Redis claim and the deterministic
// name. An error fails the whole batch: what was created is found again by
// name when the caller retries it.
func (c *Creator) Ingest(ctx context.Context, batch []signals.Signal) ([]signals.IngestResult, error) {
	return c.ingest(ctx, batch, "")
}

// External is the Sink of a source outside the cluster (the Alertmanager
// webhook, GetAlerts polling, IngestSignals), named source in the budget
// and the metrics. Such a source knows objects by name only and may be
// anyone holding a token: a UID it sends is ignored and looked up (random
// UIDs would each make a new dedup key), an object that does not exist is
// refused, and the Anomalies it creates are budgeted per namespace.
func (c *Creator) External(source string) signals.Sink {
	return externalSink{creator: c, source: source}
}

type externalSink struct {
	creator *Creator
	source  string
}

func (e externalSink) Ingest(ctx context.Context, batch []signals.Signal) ([]signals.IngestResult, error) {
	return e.creator.ingest(ctx, batch, e.source)
}

// ingest works on a batch from source, or from native detection when
// source is empty.
func (c *Creator) ingest(ctx context.Context, batch []signals.Signal, source string) ([]signals.IngestResult, error) {
	// One scope for the batch: reading it lists every Instance.
	scope, err := c.cfg.Scope(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the watch scope: %w", err)
	}
	results := make([]signals.IngestResult, len(batch))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.Concurrency)
	for i, s := range batch {
		g.Go(func() error {
			start := time.Now()
			res, err := c.ingestOne(gctx, s, scope, source)
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

func (c *Creator) ingestOne(ctx context.Context, s signals.Signal, scope Scope, source string) (signals.IngestResult, error) {
	s, refusal, err := c.admit(ctx, s, scope, source)
	if err != nil || refusal.Status == signals.IngestRejected {
		return refusal, err
	}
	key := s.DedupKey()
	res := redisResource(s.Resource)

	claim, redisUp, existing, err := c.claim(ctx, res, key)
	if err != nil {
		return signals.IngestResult{}, err
	}
	if existing != "" && c.anomalyGone(ctx, c.namespaceOf(s), existing) {
		// The Anomaly of the confirmed claim was deleted: trusting the
		// claim would hide a live fault for the rest of the TTL.
		c.release(ctx, key, existing)
		if claim, redisUp, existing, err = c.claim(ctx, res, key); err != nil {
			return signals.IngestResult{}, err
		}
	}
	if existing != "" {
		return duplicate(existing, c.namespaceOf(s)), nil
	}
	if !redisUp {
		if res, ok := c.recentResult(key); ok {
			return res, nil
		}
	}

	result, gen, err := c.createOrFind(ctx, s, source, c.startGeneration(ctx, c.namespaceOf(s), key))
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

// admit checks that a signal may become an Anomaly and attributes it. It
// returns the attributed signal, or a rejection: a malformed signal, a
// kind an Anomaly may not name, a resource outside the scope, or one that
// does not exist. The scope's namespaces are checked before any lookup, so
// that a caller learns nothing of what exists outside them.
func (c *Creator) admit(ctx context.Context, s signals.Signal, scope Scope, source string) (signals.Signal, signals.IngestResult, error) {
	if err := s.Validate(); err != nil {
		return s, signals.Rejected(signals.RejectInvalid, err.Error()), nil
	}
	if !platformv1alpha1.IsAnomalyResourceKind(s.Resource.Kind) {
		return s, signals.Rejected(signals.RejectKindNotAllowed, fmt.Sprintf("kind %s is not one the platform watches", s.Resource.Kind)), nil
	}
	if !scope.CoversNamespace(s.Resource.Namespace) {
		return s, outOfScope(), nil
	}
	if source != "" {
		s.Resource.UID = ""
	}
	s, err := c.attribute(ctx, s)
	switch {
	case errors.Is(err, errResourceGone):
		c.cfg.Logger.V(1).Info("Refused signal about a missing resource", "source", source, "resource", s.Resource.String(), "error", err.Error())
		return s, signals.Rejected(signals.RejectNotFound, "the resource, or an owner it belongs to, does not exist or is being deleted"), nil
	case err != nil:
		return s, signals.IngestResult{}, err
	}
	if !scope.Covers(s.Resource) {
		return s, outOfScope(), nil
	}
	return s, signals.IngestResult{}, nil
}

func outOfScope() signals.IngestResult {
	return signals.Rejected(signals.RejectOutOfScope, "the resource is not watched by any Instance or selected namespace")
}

// anomalyGone reports whether the cache knows that the Anomaly a confirmed
// claim names no longer exists. A cache that lags behind a create costs
// only a create that collides on the name.
func (c *Creator) anomalyGone(ctx context.Context, namespace, name string) bool {
	if c.cfg.Cache == nil {
		return false
	}
	err := c.cfg.Cache.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &platformv1alpha1.Anomaly{})
	return apierrors.IsNotFound(err)
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
func (c *Creator) createOrFind(ctx context.Context, s signals.Signal, source string, generation int) (signals.IngestResult, int, error) {
	namespace := c.namespaceOf(s)
	retries := 0
	for g := generation; g < generation+maxGenerations; g++ {
		anomaly := s.Anomaly(s.AnomalyName(g), c.cfg.FallbackNamespace, g)
		if ok, err := c.spend(ctx, source, namespace, anomaly.Name); err != nil || !ok {
			return signals.Rejected(signals.RejectBudgetExhausted, "the source has created as many Anomalies in this namespace as its budget allows; retry later"), g, err
		}
		err := c.cfg.Client.Create(ctx, anomaly)
		switch {
		case err == nil:
			return signals.IngestResult{Status: signals.IngestCreated, AnomalyName: anomaly.Name, AnomalyNamespace: namespace}, g, nil
		case refusedForGood(err):
			// The API server's words name our service account and what
			// exists; they go to the log, not to the caller.
			c.cfg.Logger.Info("API server refused an Anomaly", "source", source, "anomaly", namespace+"/"+anomaly.Name, "error", err.Error())
			return signals.Rejected(signals.RejectRefused, "the Anomaly could not be stored"), g, nil
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

// spend takes one Anomaly from the budget of source in namespace, keyed by
// the Anomaly's name so that a retried signal pays once. Native detection
// has no budget, and neither has anyone while Redis is unreachable.
func (c *Creator) spend(ctx context.Context, source, namespace, name string) (bool, error) {
	if source == "" || c.cfg.Budget.Limit == 0 || c.cfg.Redis == nil || time.Now().UnixNano() < c.redisDownUntil.Load() {
		return true, nil
	}
	b := redisx.Budget{Scope: "anomalies:" + source + ":" + namespace, Limit: c.cfg.Budget.Limit, Window: c.cfg.Budget.Window}
	r, err := c.cfg.Redis.SpendBudgetOnce(ctx, b, name, time.Now())
	switch {
	case errors.Is(err, redisx.ErrUnavailable):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("spend the Anomaly budget of %s in %s: %w", source, namespace, err)
	case !r.Allowed:
		c.cfg.Metrics.BudgetExhausted.WithLabelValues(source).Inc()
	}
	return r.Allowed, nil
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

// errResourceGone is the cause of a signal about an object that does not
// exist, is being deleted, or hangs from an owner that is gone.
var errResourceGone = errors.New("resource is gone")

// attribute moves a pod signal to the pod's top owner and fills in the
// UID that external sources do not know, so that the same fault has the
// same dedup key whichever source reports it. A signal that already carries
// a UID comes from the detectors, which attributed it themselves. Lookups
// are cached briefly (external sources repeat the same names in storms)
// and dropped when an object they name is deleted (Forget).
func (c *Creator) attribute(ctx context.Context, s signals.Signal) (signals.Signal, error) {
	if s.Resource.UID != "" && !ownedKinds[s.Resource.Kind] {
		return s, nil
	}
	apiVersion, known := k8sctx.APIVersion(s.Resource.Kind)
	if !known {
		return s, fmt.Errorf("kind %s cannot be looked up: %w", s.Resource.Kind, errResourceGone)
	}
	if resolved, ok := c.attributions.get(s.Resource); ok {
		s.Resource = resolved
		return s, nil
	}
	resolved, err := c.resolve(ctx, s.Resource, apiVersion)
	if err != nil {
		return s, err
	}
	c.attributions.add(s.Resource, resolved)
	s.Resource = resolved
	return s, nil
}

// Forget drops the attributions that name or resolve to r, called when r
// is deleted: a Deployment recreated under the same name has a new UID,
// and its signals must not join the old one's Anomaly.
func (c *Creator) Forget(r platformv1alpha1.ResourceReference) {
	c.attributions.forget(r)
}

// resolve reads the named object: its UID, and for a pod its top owner. An
// object that does not exist, is being deleted or may not be read (so
// cannot be told to exist) fails with errResourceGone.
func (c *Creator) resolve(ctx context.Context, r platformv1alpha1.ResourceReference, apiVersion string) (platformv1alpha1.ResourceReference, error) {
	if r.Kind == "HorizontalPodAutoscaler" {
		return c.resolveHPA(ctx, r)
	}
	meta, err := c.cfg.Owners(ctx, metav1.OwnerReference{APIVersion: apiVersion, Kind: r.Kind, Name: r.Name}, r.Namespace)
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apimeta.IsNoMatchError(err):
		return r, fmt.Errorf("look up %s: %w (%w)", r, errResourceGone, err)
	case err != nil:
		return r, fmt.Errorf("look up %s: %w", r, err)
	case meta.DeletionTimestamp != nil:
		return r, fmt.Errorf("%s is being deleted: %w", r, errResourceGone)
	}
	r.UID = meta.UID
	if !ownedKinds[r.Kind] {
		return r, nil
	}
	return topOwner(ctx, r, meta.OwnerReferences, c.cfg.Owners)
}

// topOwner is k8sctx.TopOwner with a gone owner reported as errResourceGone.
func topOwner(ctx context.Context, r platformv1alpha1.ResourceReference, refs []metav1.OwnerReference, lookup k8sctx.OwnerLookup) (platformv1alpha1.ResourceReference, error) {
	top, err := k8sctx.TopOwner(ctx, r, refs, lookup)
	if errors.Is(err, k8sctx.ErrOwnerGone) {
		return top, fmt.Errorf("attribute %s: %w (%w)", r, errResourceGone, err)
	}
	return top, err
}

// resolveHPA moves an HPA's signal to the workload it scales, as the
// detectors attribute an HPA at its maximum.
func (c *Creator) resolveHPA(ctx context.Context, r platformv1alpha1.ResourceReference) (platformv1alpha1.ResourceReference, error) {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	if err := c.cfg.APIReader.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, hpa); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			return r, fmt.Errorf("look up %s: %w (%w)", r, errResourceGone, err)
		}
		return r, fmt.Errorf("look up %s: %w", r, err)
	}
	if hpa.DeletionTimestamp != nil {
		return r, fmt.Errorf("%s is being deleted: %w", r, errResourceGone)
	}
	r.UID = hpa.UID
	target := hpa.Spec.ScaleTargetRef
	apiVersion := target.APIVersion
	// The HPA controller reads only group and kind; old HPAs still name
	// apps/v1beta1 or v1beta2, which the API server no longer serves.
	if gv, err := schema.ParseGroupVersion(apiVersion); err == nil && gv.Group == "apps" {
		apiVersion = "apps/v1"
	}
	return topOwner(ctx, r, []metav1.OwnerReference{{APIVersion: apiVersion, Kind: target.Kind, Name: target.Name}}, c.cfg.Owners)
}

// ownedKinds are the kinds whose faults belong to the workload above them,
// whichever source names them: a signal about one of them is moved to its
// top owner, even when it carries a UID (a caller of IngestSignals may
// send one).
var ownedKinds = map[string]bool{k8sctx.KindPod: true, k8sctx.KindReplicaSet: true, k8sctx.KindJob: true, k8sctx.KindHorizontalPodAutoscaler: true}

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

func duplicate(name, namespace string) signals.IngestResult {
	return signals.IngestResult{Status: signals.IngestDuplicate, AnomalyName: name, AnomalyNamespace: namespace}
}
