package watch

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/signals"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// syncRecheck is when to look again at an object of a namespace whose
// informers are still listing.
const syncRecheck = 100 * time.Millisecond

// work evaluates queued objects until the queue shuts down.
func (d *Detector) work(ctx context.Context) {
	for {
		key, shutdown := d.queue.Get()
		if shutdown {
			return
		}
		d.process(ctx, key)
	}
}

// evaluationTimeout bounds one object's evaluation, so that an API server
// or Redis that stops answering cannot hold every worker.
const evaluationTimeout = 30 * time.Second

// persistRecheck is how often a fault that persists is reported again. A
// report of a known fault costs one Redis round trip; it lets a fault that
// outlives its resolved Issue become a new incident without waiting for
// its object to change.
const persistRecheck = 2 * time.Minute

func (d *Detector) process(ctx context.Context, key objectKey) {
	defer d.queue.Done(key)
	ctx, cancel := context.WithTimeout(ctx, evaluationTimeout)
	defer cancel()
	log := d.cfg.Logger.WithValues("kind", key.kind, "namespace", key.namespace, "name", key.name)
	found, recheck, err := d.evaluate(ctx, key)
	if err != nil {
		log.Error(err, "Failed to report findings; will retry")
		d.queue.AddRateLimited(key)
		return
	}
	d.queue.Forget(key)
	if recheck > 0 {
		d.queue.AddAfter(key, recheck)
	}
	if found > 0 {
		log.V(1).Info("Reported findings", "count", found)
	}
}

// evaluate runs the detector of one object and hands its in-scope findings
// to the Sink. It returns how many it reported and when to look again.
func (d *Detector) evaluate(ctx context.Context, key objectKey) (int, time.Duration, error) {
	now := d.cfg.Now()
	var (
		result detect.Result
		self   platformv1alpha1.ResourceReference
		owners []metav1.OwnerReference
	)
	if key.kind == kindNode {
		node := d.nodeObject(key.name)
		if node == nil {
			return 0, 0, nil
		}
		result = detect.EvaluateNode(node, d.podsOnNode(node.Name), now, d.cfg.Detect)
		self = platformv1alpha1.ResourceReference{Kind: kindNode, Name: node.Name, UID: node.UID}
	} else if isSourceKind(key.kind) {
		var ok bool
		if result, self, ok = d.evaluateSource(key, now); !ok {
			return 0, 0, nil
		}
	} else {
		inf := d.informersOf(key.namespace)
		if inf == nil {
			return 0, 0, nil
		}
		if !inf.synced() {
			// An owner may not be cached yet, and attribution would stop
			// at a ReplicaSet or a Job.
			return 0, syncRecheck, nil
		}
		obj := inf.get(key.kind, key.namespace, key.name)
		if obj == nil {
			return 0, 0, nil
		}
		// An object being deleted (a pod of a deleted Deployment) raises
		// nothing: its faults end with it, and an Anomaly on it would send
		// a remediation after something that is going away.
		if m, err := meta.Accessor(obj); err != nil || m.GetDeletionTimestamp() != nil {
			return 0, 0, nil
		}
		switch o := obj.(type) {
		case *podRecord:
			pod := o.pod()
			result = detect.EvaluatePod(pod, d.restarts, now, d.cfg.Detect)
			if usage, ok := d.usage.get(key.namespace, key.name); ok {
				result.Merge(detect.EvaluateUsage(pod, usage, d.unhealthy, now, d.cfg.Detect))
			}
			owners = o.OwnerReferences
		case *appsv1.Deployment:
			result = detect.EvaluateDeployment(o, now, d.cfg.Detect)
		case *appsv1.StatefulSet:
			result = detect.EvaluateStatefulSet(o, d.unhealthy, now, d.cfg.Detect)
		case *appsv1.DaemonSet:
			result = detect.EvaluateDaemonSet(o, d.unhealthy, now, d.cfg.Detect)
		case *batchv1.Job:
			result = detect.EvaluateJob(o, now, d.cfg.Detect)
			owners = o.OwnerReferences
		case *batchv1.CronJob:
			result = detect.EvaluateCronJob(o, now, d.cfg.Detect)
		case *corev1.PersistentVolumeClaim:
			if !d.classesSynced() {
				// Without the classes, a claim waiting for its first
				// consumer would look late.
				return 0, syncRecheck, nil
			}
			result = d.evaluateClaim(o, now)
		case *networkingv1.Ingress:
			result = detect.EvaluateIngress(o, inf.backends(key.namespace), d.unhealthy, now, d.cfg.Detect)
			owners = o.OwnerReferences
		case *autoscalingv2.HorizontalPodAutoscaler:
			result = detect.EvaluateHPA(o, now, d.cfg.Detect)
			// An HPA at its maximum is a fault of the workload it scales.
			ref := o.Spec.ScaleTargetRef
			owners = []metav1.OwnerReference{{APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name}}
		default:
			return 0, 0, nil
		}
		m, _ := meta.Accessor(obj)
		self = platformv1alpha1.ResourceReference{Kind: key.kind, Namespace: key.namespace, Name: key.name, UID: m.GetUID()}
	}
	if len(result.Findings) == 0 {
		return 0, result.RecheckAfter, nil
	}

	subject, err := k8sctx.TopOwner(ctx, self, owners, d.lookupOwner)
	switch {
	case errors.Is(err, k8sctx.ErrOwnerGone):
		// Its workload is being deleted; the object follows it.
		return 0, 0, nil
	case err != nil:
		return 0, 0, err
	}
	scope := d.Scope()
	if !scope.Covers(subject) {
		return 0, result.RecheckAfter, nil
	}
	for _, f := range result.Findings {
		d.findings.WithLabelValues(string(f.Type)).Inc()
	}
	// One fault, one Anomaly: the symptoms travel as the cause's evidence.
	findings := detect.FoldSymptoms(result.Findings)
	batch := make([]signals.Signal, 0, len(findings))
	for _, f := range findings {
		for _, e := range f.Evidence {
			d.folded.WithLabelValues(string(e.SignalType)).Inc()
		}
		s := signals.Signal{
			Type: f.Type, Source: platformv1alpha1.SourceWatcher, Severity: f.Severity,
			Resource: subject, Description: f.Description, DetectedAt: now,
			Value: f.Value, Threshold: f.Threshold, Evidence: f.Evidence,
		}
		if f.Container != "" {
			s.Labels = map[string]string{"container": f.Container}
		}
		batch = append(batch, s)
	}
	if _, err := d.cfg.Sink.Ingest(ctx, batch); err != nil {
		return 0, 0, fmt.Errorf("report %d findings: %w", len(batch), err)
	}
	recheck := result.RecheckAfter
	if recheck <= 0 || recheck > persistRecheck {
		recheck = persistRecheck
	}
	return len(batch), recheck, nil
}

// lookupOwner finds owners in the informers of their namespace, so that
// attributing a pod costs no API call.
func (d *Detector) lookupOwner(ctx context.Context, ref metav1.OwnerReference, namespace string) (*metav1.PartialObjectMetadata, error) {
	gv, _ := schema.ParseGroupVersion(ref.APIVersion)
	miss := func() (*metav1.PartialObjectMetadata, error) {
		if d.cfg.OwnerFallback != nil {
			return d.cfg.OwnerFallback(ctx, ref, namespace)
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: gv.Group, Resource: ref.Kind}, ref.Name)
	}
	// The informers hold the built-in workload kinds only: an owner of the
	// same name in another API group (an OpenKruise StatefulSet) is not ours.
	if gv.Group != "apps" && gv.Group != "batch" {
		return miss()
	}
	inf := d.informersOf(namespace)
	if inf == nil {
		return miss()
	}
	obj := inf.get(ref.Kind, namespace, ref.Name)
	if obj == nil {
		return miss()
	}
	m, err := meta.Accessor(obj)
	// A recreated owner with the same name is not the one referenced.
	if err != nil || (ref.UID != "" && m.GetUID() != ref.UID) {
		return miss()
	}
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(), OwnerReferences: m.GetOwnerReferences(),
		DeletionTimestamp: m.GetDeletionTimestamp(),
	}}, nil
}

func (d *Detector) informersOf(namespace string) *namespaceInformers {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.namespaces[namespace]
}

func (d *Detector) nodeObject(name string) *corev1.Node {
	d.mu.Lock()
	nodes := d.nodes
	d.mu.Unlock()
	if nodes == nil {
		return nil
	}
	obj, exists, err := nodes.GetIndexer().GetByKey(name)
	if err != nil || !exists {
		return nil
	}
	return obj.(*corev1.Node)
}

// annSelectedNode is set by the scheduler on a claim of a
// WaitForFirstConsumer class once a pod that uses it is scheduled.
const annSelectedNode = "volume.kubernetes.io/selected-node"

// evaluateClaim evaluates a claim with what only the detector knows: its
// StorageClass. A claim of a class that binds on first consumer is
// Pending by design until a pod using it is scheduled (a claim made ahead
// of its pod, or of a workload scaled to zero), and its grace runs from
// when the scheduler picked a node for it, not from its creation: a claim
// made days ahead is not days late. Setting the annotation is an update,
// so the claim is evaluated again then.
func (d *Detector) evaluateClaim(pvc *corev1.PersistentVolumeClaim, now time.Time) detect.Result {
	if pvc.Status.Phase != corev1.ClaimPending && pvc.Status.Phase != "" {
		d.unhealthy.Forget(pvc.UID)
		return detect.EvaluatePVC(pvc, now, d.cfg.Detect)
	}
	if !d.bindsOnFirstConsumer(pvc) {
		return detect.EvaluatePVC(pvc, now, d.cfg.Detect)
	}
	if pvc.Annotations[annSelectedNode] == "" {
		return detect.Result{}
	}
	if since := d.unhealthy.Since(pvc.UID, now); since.After(pvc.CreationTimestamp.Time) {
		waiting := *pvc
		waiting.CreationTimestamp = metav1.NewTime(since)
		pvc = &waiting
	}
	return detect.EvaluatePVC(pvc, now, d.cfg.Detect)
}

// classesSynced reports whether the StorageClasses have been listed.
func (d *Detector) classesSynced() bool {
	d.mu.Lock()
	classes := d.classes
	d.mu.Unlock()
	return classes != nil && classes.HasSynced()
}

// bindsOnFirstConsumer tells whether a claim's class (or the default class,
// for a claim that names none) is WaitForFirstConsumer. A class that is not
// found says no: a missing class is itself a reason to stay Pending.
func (d *Detector) bindsOnFirstConsumer(pvc *corev1.PersistentVolumeClaim) bool {
	d.mu.Lock()
	classes := d.classes
	d.mu.Unlock()
	if classes == nil {
		return false
	}
	var class *storagev1.StorageClass
	if name := pvc.Spec.StorageClassName; name != nil {
		obj, exists, err := classes.GetStore().GetByKey(*name)
		if err != nil || !exists {
			return false
		}
		class, _ = obj.(*storagev1.StorageClass)
	} else {
		class = defaultStorageClass(classes.GetStore().List())
	}
	return class != nil && class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
}

// defaultStorageClass is the class a claim without storageClassName gets,
// as the DefaultStorageClass admission plugin picks it: the newest one
// marked default (by the GA or the beta annotation), ties broken by name.
func defaultStorageClass(objs []any) *storagev1.StorageClass {
	var newest *storagev1.StorageClass
	for _, obj := range objs {
		class, ok := obj.(*storagev1.StorageClass)
		if !ok || (class.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" &&
			class.Annotations["storageclass.beta.kubernetes.io/is-default-class"] != "true") {
			continue
		}
		switch {
		case newest == nil, class.CreationTimestamp.After(newest.CreationTimestamp.Time):
			newest = class
		case class.CreationTimestamp.Equal(&newest.CreationTimestamp) && class.Name < newest.Name:
			newest = class
		}
	}
	return newest
}
