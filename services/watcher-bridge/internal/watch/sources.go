package watch

import (
	"context"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// Optional sources are detection inputs that run only where they may:
//
//   - Secrets (kubernetes.io/tls Secrets for certificate_expiring, Helm's
//     release Secrets for helm_release_failed) only in the namespaces of
//     Config.SecretNamespaces, where the chart grants a Role: the platform
//     never holds a cluster-wide Secret permission. The TLS informer keeps
//     each certificate's expiry and drops the Secret's data as it arrives;
//     the Helm informer lists metadata only, so a release's payload never
//     reaches the watcher-bridge.
//   - cert-manager Certificates and Argo CD Applications only while the
//     API server serves them, asked of discovery every
//     Config.SourceCheckInterval, so a CRD installed or removed later is
//     picked up. Their absence is logged and shown in
//     chatcli_watcher_bridge_source_served, never an error.
//
// Each runs one informer per namespace in scope, started and stopped with
// the namespace like the others.
const (
	sourceTLSSecrets  = "tls_secrets"
	sourceHelm        = "helm_releases"
	sourceCertManager = "certmanager"
	sourceArgoCD      = "argocd"
)

// The kinds of the optional sources' objects, as queue keys name them.
// kindHelmRevision objects are cached and never evaluated: a change of
// one queues its release (kindHelmRelease).
const (
	kindSecret       = k8sctx.KindSecret
	kindCertificate  = k8sctx.KindCertificate
	kindApplication  = k8sctx.KindApplication
	kindHelmRelease  = k8sctx.KindHelmRelease
	kindHelmRevision = "HelmRevision"
)

var (
	certificatesGVR = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
	applicationsGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}
	secretsGVR      = corev1.SchemeGroupVersion.WithResource("secrets")
)

// Helm's Secret storage driver labels every release Secret with these.
const (
	helmOwnerSelector = "owner=helm"
	labelHelmRelease  = "name"
	labelHelmStatus   = "status"
	labelHelmVersion  = "version"
	// helmReleaseIndex indexes revisions by their release's name.
	helmReleaseIndex = "helmRelease"
)

// annCertManagerCertificate marks a Secret cert-manager issues for a
// Certificate: while Certificates are watched, that Certificate reports
// it, with the reason it is not renewed.
const annCertManagerCertificate = "cert-manager.io/certificate-name"

// optionalSource is one optional source: how to make its informer of a
// namespace, and where it may run.
type optionalSource struct {
	name string
	// kind is what its objects are cached as.
	kind string
	// gvr is asked of discovery; empty for Secrets, which are always
	// served.
	gvr schema.GroupVersionResource
	// granted reports a namespace the source may read.
	granted func(namespace string) bool
	// newInformer makes the source's informer of a namespace, with its
	// transform and indexers set and not yet started.
	newInformer func(namespace string) cache.SharedIndexInformer
}

// sourceInformer is a source's running informer of one namespace.
type sourceInformer struct {
	informer cache.SharedIndexInformer
	stop     chan struct{}
	done     chan struct{}
}

// sourceState is a source's state: whether its API is served, and its
// informers by namespace. Guarded by Detector.mu.
type sourceState struct {
	*optionalSource
	served  bool
	running map[string]*sourceInformer
}

// newSources builds the optional sources the configured clients allow.
func (d *Detector) newSources() []*sourceState {
	var out []*sourceState
	add := func(s *optionalSource, served bool) {
		out = append(out, &sourceState{optionalSource: s, served: served, running: map[string]*sourceInformer{}})
	}
	secretNamespaces := map[string]bool{}
	for _, ns := range d.cfg.SecretNamespaces {
		secretNamespaces[ns] = true
	}
	granted := func(ns string) bool { return secretNamespaces[ns] }
	everywhere := func(string) bool { return true }
	if len(secretNamespaces) > 0 {
		add(&optionalSource{name: sourceTLSSecrets, kind: kindSecret, granted: granted, newInformer: d.newTLSSecretInformer}, true)
		if d.cfg.Metadata != nil {
			add(&optionalSource{name: sourceHelm, kind: kindHelmRevision, granted: granted, newInformer: d.newHelmInformer}, true)
		}
	}
	if d.cfg.Dynamic != nil {
		add(&optionalSource{name: sourceCertManager, kind: kindCertificate, gvr: certificatesGVR, granted: everywhere,
			newInformer: func(ns string) cache.SharedIndexInformer {
				return d.newCRDInformer(certificatesGVR, ns, certificateRecordOf)
			}}, false)
		add(&optionalSource{name: sourceArgoCD, kind: kindApplication, gvr: applicationsGVR, granted: everywhere,
			newInformer: func(ns string) cache.SharedIndexInformer {
				return d.newCRDInformer(applicationsGVR, ns, applicationRecordOf)
			}}, false)
	}
	return out
}

func (d *Detector) newTLSSecretInformer(ns string) cache.SharedIndexInformer {
	inf := coreinformers.NewFilteredSecretInformer(d.cfg.Kube, ns, 0, cache.Indexers{}, func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("type", string(corev1.SecretTypeTLS)).String()
	})
	_ = inf.SetTransform(tlsSecretRecordOf)
	return inf
}

func (d *Detector) newHelmInformer(ns string) cache.SharedIndexInformer {
	inf := metadatainformer.NewFilteredMetadataInformer(d.cfg.Metadata, secretsGVR, ns, 0,
		cache.Indexers{helmReleaseIndex: indexByHelmRelease},
		func(o *metav1.ListOptions) { o.LabelSelector = helmOwnerSelector }).Informer()
	_ = inf.SetTransform(slimHelmRevision)
	return inf
}

func (d *Detector) newCRDInformer(gvr schema.GroupVersionResource, ns string, transform cache.TransformFunc) cache.SharedIndexInformer {
	inf := dynamicinformer.NewFilteredDynamicInformer(d.cfg.Dynamic, gvr, ns, 0, cache.Indexers{}, nil).Informer()
	_ = inf.SetTransform(transform)
	return inf
}

// syncSourcesLocked starts each source's informer in every namespace in
// scope it may read while it is served, and stops the others. It returns
// the informers stopped, to wait for outside the lock. d.mu is held.
func (d *Detector) syncSourcesLocked() []*sourceInformer {
	var stopping []*sourceInformer
	for _, s := range d.sources {
		for ns, r := range s.running {
			if _, inScope := d.namespaces[ns]; !inScope || !s.served || !d.started {
				close(r.stop)
				stopping = append(stopping, r)
				delete(s.running, ns)
			}
		}
		if !s.served || !d.started {
			continue
		}
		for ns := range d.namespaces {
			if _, ok := s.running[ns]; ok || !s.granted(ns) {
				continue
			}
			r := &sourceInformer{informer: s.newInformer(ns), stop: make(chan struct{}), done: make(chan struct{})}
			d.handleSource(s.optionalSource, r.informer)
			go func() {
				defer close(r.done)
				r.informer.Run(r.stop)
			}()
			s.running[ns] = r
		}
	}
	return stopping
}

// requeueSourcesLocked evaluates every cached object of the sources of a
// namespace again, as requeue does for the others. d.mu is held.
func (d *Detector) requeueSourcesLocked(namespace string) {
	for _, s := range d.sources {
		r, ok := s.running[namespace]
		if !ok {
			continue
		}
		for _, obj := range r.informer.GetStore().List() {
			key, ok := sourceKey(s.kind, obj)
			if ok {
				d.queue.Add(key)
			}
		}
	}
}

// sourceKey is the queue key of a source's cached object: the object, or
// for a Helm revision its release.
func sourceKey(kind string, obj any) (objectKey, bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, ok := metaOf(obj)
	if !ok {
		return objectKey{}, false
	}
	if kind != kindHelmRevision {
		return objectKey{kind: kind, namespace: m.namespace, name: m.name}, true
	}
	rev, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok || rev.Labels[labelHelmRelease] == "" {
		return objectKey{}, false
	}
	return objectKey{kind: kindHelmRelease, namespace: m.namespace, name: rev.Labels[labelHelmRelease]}, true
}

// stopSources waits for stopped informers and forgets the detectors'
// memory of their objects, as for a namespace that leaves the scope.
func (d *Detector) stopSources(stopped []*sourceInformer) {
	for _, r := range stopped {
		<-r.done
		for _, obj := range r.informer.GetStore().List() {
			if m, ok := metaOf(obj); ok {
				d.unhealthy.Forget(m.uid)
			}
		}
	}
}

// handleSource queues every change of a source's objects: the object
// itself, or for a Helm revision its release.
func (d *Detector) handleSource(s *optionalSource, informer cache.SharedIndexInformer) {
	if s.kind != kindHelmRevision {
		d.handle(informer, s.kind)
		return
	}
	enqueue := func(obj any) {
		if key, ok := sourceKey(kindHelmRevision, obj); ok {
			d.queue.Add(key)
		}
	}
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		// A deleted revision may leave an older one the latest.
		DeleteFunc: enqueue,
	})
}

// sourceInformerOf returns the running informer of the source caching
// kind in a namespace, and whether the source is served at all.
func (d *Detector) sourceInformerOf(kind, namespace string) (informer cache.SharedIndexInformer, served bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.sources {
		if s.kind == kind {
			if r, ok := s.running[namespace]; ok {
				return r.informer, s.served
			}
			return nil, s.served
		}
	}
	return nil, false
}

// watchSources asks discovery whether each optional API source is served,
// at start and every SourceCheckInterval, and starts or stops its
// informers when that changes.
func (d *Detector) watchSources(ctx context.Context) {
	ticker := time.NewTicker(d.cfg.SourceCheckInterval)
	defer ticker.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
		for _, s := range d.sources {
			if s.gvr.Empty() {
				continue
			}
			served, err := d.apiServed(s.gvr.GroupVersion().String(), s.gvr.Resource)
			if err != nil {
				d.cfg.Logger.V(1).Info("Could not tell whether a detection source is served", "source", s.name, "error", err.Error())
				continue
			}
			d.setServed(s, served, first)
		}
	}
}

// setServed records whether a source's API is served, logs a change (and
// the first answer), and starts or stops its informers.
func (d *Detector) setServed(s *sourceState, served, first bool) {
	d.mu.Lock()
	changed := s.served != served
	s.served = served
	var stopping []*sourceInformer
	if changed {
		stopping = d.syncSourcesLocked()
	}
	d.mu.Unlock()
	d.stopSources(stopping)
	if !changed && !first {
		return
	}
	if served {
		d.sourceServed.WithLabelValues(s.name).Set(1)
		d.cfg.Logger.Info("Watching an optional detection source", "source", s.name, "resource", s.gvr.String())
	} else {
		d.sourceServed.WithLabelValues(s.name).Set(0)
		d.cfg.Logger.Info("Not watching an optional detection source: the API server does not serve it", "source", s.name, "resource", s.gvr.String())
	}
}

// logSecretSources says once at start where Secrets are read.
func (d *Detector) logSecretSources() {
	namespaces := slices.Sorted(slices.Values(d.cfg.SecretNamespaces))
	if len(namespaces) == 0 {
		d.sourceServed.WithLabelValues(sourceTLSSecrets).Set(0)
		d.sourceServed.WithLabelValues(sourceHelm).Set(0)
		d.cfg.Logger.Info("Not reading Secrets: no namespace is granted (--secret-signal-namespaces); certificate_expiring of TLS Secrets and helm_release_failed are off")
		return
	}
	d.sourceServed.WithLabelValues(sourceTLSSecrets).Set(1)
	helm := 0.0
	if d.cfg.Metadata != nil {
		helm = 1
	}
	d.sourceServed.WithLabelValues(sourceHelm).Set(helm)
	d.cfg.Logger.Info("Reading TLS and Helm release Secrets where granted, when in scope", "namespaces", namespaces)
}

// apiServed asks discovery whether a group version serves a resource.
func (d *Detector) apiServed(groupVersion, resource string) (bool, error) {
	resources, err := d.cfg.Kube.Discovery().ServerResourcesForGroupVersion(groupVersion)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, err
	}
	for _, r := range resources.APIResources {
		if r.Name == resource {
			return true, nil
		}
	}
	return false, nil
}

// tlsSecretRecord is what certificate detection keeps of a
// kubernetes.io/tls Secret: its identity and its certificate's expiry,
// never its data.
type tlsSecretRecord struct {
	metav1.ObjectMeta
	cert detect.TLSCertificate
}

// tlsSecretRecordOf replaces a Secret by its record before it enters the
// cache, so the key material is dropped as soon as it arrives.
func tlsSecretRecordOf(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil
	}
	r := &tlsSecretRecord{ObjectMeta: metav1.ObjectMeta{
		Name: s.Name, Namespace: s.Namespace, UID: s.UID, ResourceVersion: s.ResourceVersion,
		CreationTimestamp: s.CreationTimestamp, DeletionTimestamp: s.DeletionTimestamp,
	}}
	if c := s.Annotations[annCertManagerCertificate]; c != "" {
		r.Annotations = map[string]string{annCertManagerCertificate: c}
	}
	r.cert.Secret = s.Name
	// An unparsable certificate is not judged: it is already unusable, and
	// whoever wrote it sees that at once.
	r.cert.NotAfter, r.cert.Subject, _ = detect.LeafCertificate(s.Data[corev1.TLSCertKey])
	return r, nil
}

// slimHelmRevision keeps of a release Secret's metadata its identity,
// creation time and Helm's labels.
func slimHelmRevision(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	labels := map[string]string{}
	for _, k := range []string{labelHelmRelease, labelHelmStatus, labelHelmVersion} {
		if v, ok := m.Labels[k]; ok {
			labels[k] = v
		}
	}
	return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		CreationTimestamp: m.CreationTimestamp, DeletionTimestamp: m.DeletionTimestamp, Labels: labels,
	}}, nil
}

func indexByHelmRelease(obj any) ([]string, error) {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok && m.Labels[labelHelmRelease] != "" {
		return []string{m.Labels[labelHelmRelease]}, nil
	}
	return nil, nil
}

// helmRevisions reads a release's revisions from its Secrets' labels; a
// Secret without a numeric version is skipped, as Helm itself would.
func helmRevisions(objs []any) []detect.HelmRevision {
	out := make([]detect.HelmRevision, 0, len(objs))
	for _, obj := range objs {
		m, ok := obj.(*metav1.PartialObjectMetadata)
		if !ok || m.DeletionTimestamp != nil {
			continue
		}
		version, err := strconv.Atoi(m.Labels[labelHelmVersion])
		if err != nil || version < 1 {
			continue
		}
		out = append(out, detect.HelmRevision{
			Release: m.Labels[labelHelmRelease], Version: version, Status: m.Labels[labelHelmStatus],
			Created: m.CreationTimestamp.Time, UID: m.UID,
		})
	}
	return out
}

// certificateRecord is what certificate detection keeps of a cert-manager
// Certificate.
type certificateRecord struct {
	metav1.ObjectMeta
	cert detect.ManagedCertificate
}

// applicationRecord is what GitOps detection keeps of an Argo CD
// Application.
type applicationRecord struct {
	metav1.ObjectMeta
	app detect.ArgoApplication
}

// recordMeta is the identity of an unstructured object.
func recordMeta(u *unstructured.Unstructured) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: u.GetName(), Namespace: u.GetNamespace(), UID: u.GetUID(), ResourceVersion: u.GetResourceVersion(),
		CreationTimestamp: u.GetCreationTimestamp(), DeletionTimestamp: u.GetDeletionTimestamp(),
	}
}

// certificateRecordOf reads a Certificate's status. Fields of the wrong
// type or unparsable times read as unset: a controller's bad write must
// not stop detection.
func certificateRecordOf(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	r := &certificateRecord{ObjectMeta: recordMeta(u)}
	r.cert = detect.ManagedCertificate{
		Name: u.GetName(), Created: u.GetCreationTimestamp().Time,
		NotAfter:    nestedTime(u.Object, "status", "notAfter"),
		RenewalTime: nestedTime(u.Object, "status", "renewalTime"),
	}
	if ready := readyCondition(u.Object); ready != nil {
		r.cert.Ready = metav1.ConditionStatus(stringField(ready, "status"))
		r.cert.ReadySince = parseTime(stringField(ready, "lastTransitionTime"))
		r.cert.ReadyReason = stringField(ready, "reason")
		r.cert.ReadyMessage = stringField(ready, "message")
	}
	return r, nil
}

// applicationRecordOf reads an Application's health and sync status.
func applicationRecordOf(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	r := &applicationRecord{ObjectMeta: recordMeta(u)}
	health, _, _ := unstructured.NestedMap(u.Object, "status", "health")
	sync, _, _ := unstructured.NestedMap(u.Object, "status", "sync")
	r.app = detect.ArgoApplication{
		Name: u.GetName(), UID: u.GetUID(),
		Health: stringField(health, "status"), HealthMessage: stringField(health, "message"),
		Sync: stringField(sync, "status"), Revision: stringField(sync, "revision"),
	}
	return r, nil
}

func readyCondition(obj map[string]any) map[string]any {
	conditions, _, _ := unstructured.NestedSlice(obj, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && stringField(m, "type") == "Ready" {
			return m
		}
	}
	return nil
}

func stringField(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func nestedTime(obj map[string]any, path ...string) time.Time {
	s, _, _ := unstructured.NestedString(obj, path...)
	return parseTime(s)
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// isSourceKind reports a queue key of an optional source's object.
func isSourceKind(kind string) bool {
	return kind == kindSecret || kind == kindCertificate || kind == kindApplication || kind == kindHelmRelease
}

// evaluateSource evaluates an object of an optional source. ok is false
// when there is nothing to evaluate (the source stopped, the object is
// gone or being deleted).
func (d *Detector) evaluateSource(key objectKey, now time.Time) (result detect.Result, self platformv1alpha1.ResourceReference, ok bool) {
	cacheKind := key.kind
	if key.kind == kindHelmRelease {
		cacheKind = kindHelmRevision
	}
	informer, _ := d.sourceInformerOf(cacheKind, key.namespace)
	if informer == nil {
		return result, self, false
	}
	self = platformv1alpha1.ResourceReference{Kind: key.kind, Namespace: key.namespace, Name: key.name}
	if key.kind == kindHelmRelease {
		objs, err := informer.GetIndexer().ByIndex(helmReleaseIndex, key.name)
		if err != nil {
			return result, self, false
		}
		latest, found := detect.LatestHelmRevision(helmRevisions(objs))
		if !found {
			return result, self, false
		}
		self.UID = latest.UID
		return detect.EvaluateHelmRelease(latest, now, d.cfg.Detect), self, true
	}
	obj, exists, err := informer.GetIndexer().GetByKey(key.namespace + "/" + key.name)
	if err != nil || !exists {
		return result, self, false
	}
	switch o := obj.(type) {
	case *tlsSecretRecord:
		if o.DeletionTimestamp != nil {
			return result, self, false
		}
		if o.Annotations[annCertManagerCertificate] != "" {
			if _, served := d.sourceInformerOf(kindCertificate, key.namespace); served {
				return result, self, false
			}
		}
		self.UID = o.UID
		result = detect.EvaluateTLSSecret(o.cert, now, d.cfg.Detect)
	case *certificateRecord:
		if o.DeletionTimestamp != nil {
			return result, self, false
		}
		self.UID = o.UID
		result = detect.EvaluateManagedCertificate(o.cert, now, d.cfg.Detect)
	case *applicationRecord:
		if o.DeletionTimestamp != nil {
			return result, self, false
		}
		self.UID = o.UID
		result = detect.EvaluateApplication(o.app, d.unhealthy, now, d.cfg.Detect)
	default:
		return result, self, false
	}
	return result, self, true
}

// sourcesSyncedLocked lists the HasSynced of every running source informer.
func (d *Detector) sourcesSyncedLocked() []cache.InformerSynced {
	var out []cache.InformerSynced
	for _, s := range d.sources {
		for _, r := range s.running {
			out = append(out, r.informer.HasSynced)
		}
	}
	return out
}
