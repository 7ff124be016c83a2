// Package instance reconciles Instances: each is a ChatCLI server, and the
// operator keeps its whole footprint (ServiceAccount, ConfigMaps, watcher
// RBAC, sessions PVC, Service, Deployment) and reports whether it serves.
//
// Objects are written with server-side apply under one field manager: the
// operator owns exactly the fields it sets, so fields others set (the IRSA
// role-arn annotation on the ServiceAccount, defaults the API server
// fills in) survive, a pass that changes nothing writes nothing, and no
// read-modify-write races with other writers.
package instance

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	libreconcile "github.com/chatcli/aiops/libs/reconcile"
)

const (
	// FieldOwner is the server-side apply field manager of the operator.
	FieldOwner = "chatcli-instance-operator"
	// Finalizer holds an Instance until its cluster-scoped
	// ClusterRoleBinding is gone (owner references cannot reach it).
	Finalizer = "platform.chatcli.io/instance-operator"

	// referenceField indexes Instances by the Secrets ("secret/<name>") and
	// ConfigMaps ("configmap/<name>") they read.
	referenceField = ".spec.references"

	// MissingRequeue is how often an Instance waiting for a missing Secret
	// or ConfigMap looks again (one without the instance label sends no
	// event when it appears).
	MissingRequeue = 15 * time.Second
	// UnlabelledResync is how often an Instance whose referenced Secrets or
	// ConfigMaps lack the platform.chatcli.io/instance label re-reads them:
	// the cache holds only labelled ones, so only those roll pods at once.
	UnlabelledResync = 5 * time.Minute
)

// Reconciler keeps Instances' footprints.
type Reconciler struct {
	Client client.Client
	// Reader reads referenced Secrets and ConfigMaps from the API server:
	// the cache holds only labelled ones.
	Reader   client.Reader
	Recorder events.EventRecorder
	Config   Config
	// Workers is how many Instances are reconciled at once; 0 means 4.
	Workers int

	base libreconcile.Base[*platformv1alpha1.Instance]
}

// CacheOptions limits the manager's cache to what the operator needs: its
// own objects by their managed-by label, and Secrets and ConfigMaps that
// carry platform.chatcli.io/instance (Secrets as metadata only). It never
// caches every Secret or ConfigMap of the cluster.
func CacheOptions(opts *cache.Options) error {
	owned, err := labels.NewRequirement(labelManagedBy, selection.Equals, []string{ManagedBy})
	if err != nil {
		return fmt.Errorf("owned selector: %w", err)
	}
	instance, err := labels.NewRequirement(platformv1alpha1.LabelInstance, selection.Exists, nil)
	if err != nil {
		return fmt.Errorf("instance selector: %w", err)
	}
	if opts.ByObject == nil {
		opts.ByObject = map[client.Object]cache.ByObject{}
	}
	ownedSel := labels.NewSelector().Add(*owned)
	for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}, &corev1.ServiceAccount{}, &corev1.PersistentVolumeClaim{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}, &rbacv1.ClusterRoleBinding{}} {
		opts.ByObject[obj] = cache.ByObject{Label: ownedSel}
	}
	instanceSel := labels.NewSelector().Add(*instance)
	opts.ByObject[&corev1.ConfigMap{}] = cache.ByObject{Label: instanceSel}
	opts.ByObject[&corev1.Secret{}] = cache.ByObject{Label: instanceSel}
	return nil
}

// SetupWithManager registers the controller and its index.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Reader == nil || r.Recorder == nil || r.Config.Image == "" || r.Config.WatcherClusterRole == "" {
		return errors.New("instance reconciler: Client, Reader, Recorder, Config.Image and Config.WatcherClusterRole are required")
	}
	r.base = libreconcile.Base[*platformv1alpha1.Instance]{
		Client:             r.Client,
		NewObject:          func() *platformv1alpha1.Instance { return &platformv1alpha1.Instance{} },
		Conditions:         func(i *platformv1alpha1.Instance) *[]metav1.Condition { return &i.Status.Conditions },
		ObservedGeneration: func(i *platformv1alpha1.Instance) *int64 { return &i.Status.ObservedGeneration },
		Normal: []libreconcile.Phase[*platformv1alpha1.Instance]{
			r.serviceAccount, r.configMaps, r.watcherRBAC, r.sessions, r.service, r.deployment,
		},
		Finalizer: Finalizer,
		Delete:    []libreconcile.Phase[*platformv1alpha1.Instance]{r.deleteClusterRoleBinding},
		Recorder:  r.Recorder,
	}
	if err := r.base.Validate(); err != nil {
		return err
	}
	workers := r.Workers
	if workers <= 0 {
		workers = 4
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &platformv1alpha1.Instance{}, referenceField, referenceKeys); err != nil {
		return fmt.Errorf("index Instances by reference: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&platformv1alpha1.Instance{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		Watches(&rbacv1.ClusterRoleBinding{}, handler.EnqueueRequestsFromMapFunc(instanceOfBinding)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.instancesReading("configmap"))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.instancesReading("secret")), builder.OnlyMetadata).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Named("instance").
		Complete(r)
}

// Reconcile runs one pass.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.base.Reconcile(ctx, req)
}

func referenceKeys(obj client.Object) []string {
	inst := obj.(*platformv1alpha1.Instance)
	var keys []string
	for _, s := range referencedSecrets(inst) {
		keys = append(keys, "secret/"+s)
	}
	for _, c := range referencedConfigMaps(inst) {
		keys = append(keys, "configmap/"+c)
	}
	return keys
}

// instancesReading maps a Secret or ConfigMap to the Instances of its
// namespace that read it.
func (r *Reconciler) instancesReading(kind string) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		list := &platformv1alpha1.InstanceList{}
		if err := r.Client.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{referenceField: kind + "/" + obj.GetName()}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing Instances that read an object failed", "kind", kind, "name", obj.GetName())
			return nil
		}
		out := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return out
	}
}

func instanceOfBinding(_ context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	ns, name := l[LabelInstanceNamespace], l[platformv1alpha1.LabelInstance]
	if ns == "" || name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}}
}

// apply server-side applies obj, owned by inst when it is namespaced, and
// records an event when the object was created or changed.
func (r *Reconciler) apply(ctx context.Context, inst *platformv1alpha1.Instance, obj client.Object) error {
	scheme := r.Client.Scheme()
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return fmt.Errorf("kind of %T: %w", obj, err)
	}
	if obj.GetNamespace() != "" {
		if err := controllerutil.SetControllerReference(inst, obj, scheme); err != nil {
			return fmt.Errorf("own %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
	}
	before := ""
	current, _ := scheme.New(gvk)
	if cur, ok := current.(client.Object); ok {
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), cur); err == nil {
			before = cur.GetResourceVersion()
		}
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("convert %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	prune(content)
	delete(content, "status")
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(gvk)
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	switch after := u.GetResourceVersion(); {
	case before == "":
		r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "Created"+gvk.Kind, "Apply", "Created %s %s", gvk.Kind, obj.GetName())
	case after != before:
		r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "Updated"+gvk.Kind, "Apply", "Updated %s %s", gvk.Kind, obj.GetName())
	}
	return nil
}

// prune drops nulls and empty maps that the typed-to-unstructured
// conversion leaves (creationTimestamp: null, resources: {}), so that the
// apply claims only fields the operator means to set.
func prune(m map[string]any) {
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			prune(t)
			if len(t) == 0 {
				delete(m, k)
			}
		case []any:
			for _, e := range t {
				if em, ok := e.(map[string]any); ok {
					prune(em)
				}
			}
		}
	}
}

// deleteIfPresent deletes obj when the cache holds it, so a pass with
// nothing stale sends no request.
func (r *Reconciler) deleteIfPresent(ctx context.Context, inst *platformv1alpha1.Instance, obj client.Object) error {
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	kind := fmt.Sprintf("%T", obj)
	if gvk, err := apiutil.GVKForObject(obj, r.Client.Scheme()); err == nil {
		kind = gvk.Kind
	}
	uid := obj.GetUID()
	if err := r.Client.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete %s %s: %w", kind, obj.GetName(), err)
	}
	r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "Deleted"+kind, "Delete", "Deleted %s %s", kind, obj.GetName())
	return nil
}

func (r *Reconciler) serviceAccount(ctx context.Context, inst *platformv1alpha1.Instance) (ctrl.Result, error) {
	return ctrl.Result{}, r.apply(ctx, inst, serviceAccount(inst))
}

func (r *Reconciler) configMaps(ctx context.Context, inst *platformv1alpha1.Instance) (ctrl.Result, error) {
	watch, err := watchConfigMap(inst)
	if err != nil {
		return ctrl.Result{}, libreconcile.TerminalError(err)
	}
	for _, cm := range []*corev1.ConfigMap{envConfigMap(inst), watch} {
		if err := r.apply(ctx, inst, cm); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// watcherRBAC grants the server's ServiceAccount read access to its
// targets: a Role in its namespace when every target is there, else a
// ClusterRoleBinding to the chart's read-only ClusterRole. The other form
// is removed, and both when the watcher is off.
func (r *Reconciler) watcherRBAC(ctx context.Context, inst *platformv1alpha1.Instance) (ctrl.Result, error) {
	crb := watcherClusterRoleBinding(inst, r.Config.WatcherClusterRole)
	local := []client.Object{watcherRoleBinding(inst), watcherRole(inst)}
	switch {
	case !watcherEnabled(inst):
		return ctrl.Result{}, r.deleteAll(ctx, inst, append(local, crb)...)
	case foreignTargets(inst):
		if err := r.apply(ctx, inst, crb); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, r.deleteAll(ctx, inst, local...)
	default:
		// The Role first: a binding to a missing Role grants nothing.
		for _, obj := range []client.Object{watcherRole(inst), watcherRoleBinding(inst)} {
			if err := r.apply(ctx, inst, obj); err != nil {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{}, r.deleteAll(ctx, inst, crb)
	}
}

func (r *Reconciler) deleteAll(ctx context.Context, inst *platformv1alpha1.Instance, objs ...client.Object) error {
	for _, obj := range objs {
		if err := r.deleteIfPresent(ctx, inst, obj); err != nil {
			return err
		}
	}
	return nil
}

// sessions creates PVC <name>-sessions once; it is never updated (its
// spec is immutable) nor deleted while the Instance lives.
func (r *Reconciler) sessions(ctx context.Context, inst *platformv1alpha1.Instance) (ctrl.Result, error) {
	if p := inst.Spec.Persistence; p == nil || !p.Enabled {
		return ctrl.Result{}, nil
	}
	pvc := sessionsPVC(inst)
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(pvc), &corev1.PersistentVolumeClaim{}); err == nil || !apierrors.IsNotFound(err) {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if err := controllerutil.SetControllerReference(inst, pvc, r.Client.Scheme()); err != nil {
		return ctrl.Result{}, fmt.Errorf("own PersistentVolumeClaim: %w", err)
	}
	if err := r.Client.Create(ctx, pvc); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, fmt.Errorf("create PersistentVolumeClaim %s: %w", pvc.Name, err)
	}
	r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "CreatedPersistentVolumeClaim", "Create", "Created PersistentVolumeClaim %s", pvc.Name)
	return ctrl.Result{}, nil
}

// service applies Service <name>. clusterIP is immutable, so switching
// between ClusterIP and headless deletes the Service first.
func (r *Reconciler) service(ctx context.Context, inst *platformv1alpha1.Instance) (ctrl.Result, error) {
	want := service(inst)
	current := &corev1.Service{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(want), current)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("get Service: %w", err)
	case (current.Spec.ClusterIP == corev1.ClusterIPNone) != headless(inst):
		uid := current.UID
		if err := r.Client.Delete(ctx, current, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("delete Service to switch headless: %w", err)
		}
		r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "RecreatedService", "Delete", "Deleted Service %s to make it headless=%t", want.Name, headless(inst))
	}
	return ctrl.Result{}, r.apply(ctx, inst, want)
}

// readReferences reads the Secrets and ConfigMaps inst names. A missing
// one sets Ready False with its reason and the name, and the pass waits.
func (r *Reconciler) readReferences(ctx context.Context, inst *platformv1alpha1.Instance) (references, bool, bool, error) {
	refs := references{secrets: map[string]*corev1.Secret{}, configMaps: map[string]*corev1.ConfigMap{}}
	labelled := true
	for _, name := range referencedSecrets(inst) {
		s := &corev1.Secret{}
		if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: name}, s); err != nil {
			if apierrors.IsNotFound(err) {
				libreconcile.SetCondition(inst, &inst.Status.Conditions, platformv1alpha1.InstanceReadyCondition, metav1.ConditionFalse,
					platformv1alpha1.InstanceSecretMissingReason, fmt.Sprintf("Secret %s does not exist", name))
				return refs, false, labelled, nil
			}
			return refs, false, labelled, fmt.Errorf("get Secret %s: %w", name, err)
		}
		labelled = labelled && s.Labels[platformv1alpha1.LabelInstance] != ""
		refs.secrets[name] = s
	}
	for _, name := range referencedConfigMaps(inst) {
		cm := &corev1.ConfigMap{}
		if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: name}, cm); err != nil {
			if apierrors.IsNotFound(err) {
				libreconcile.SetCondition(inst, &inst.Status.Conditions, platformv1alpha1.InstanceReadyCondition, metav1.ConditionFalse,
					platformv1alpha1.InstanceConfigMapMissingReason, fmt.Sprintf("ConfigMap %s does not exist", name))
				return refs, false, labelled, nil
			}
			return refs, false, labelled, fmt.Errorf("get ConfigMap %s: %w", name, err)
		}
		labelled = labelled && cm.Labels[platformv1alpha1.LabelInstance] != ""
		refs.configMaps[name] = cm
	}
	return refs, true, labelled, nil
}

// deployment applies Deployment <name> with the hash of everything it
// reads, then summarizes its status into the Instance's. While a reference
// is missing the Deployment is left as it is (never deleted).
func (r *Reconciler) deployment(ctx context.Context, inst *platformv1alpha1.Instance) (ctrl.Result, error) {
	refs, found, labelled, err := r.readReferences(ctx, inst)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !found {
		inst.Status.Ready = false
		return ctrl.Result{RequeueAfter: MissingRequeue}, nil
	}
	watch, err := watchConfigMap(inst)
	if err != nil {
		return ctrl.Result{}, libreconcile.TerminalError(err)
	}
	want := deployment(inst, r.Config, configHash([]*corev1.ConfigMap{envConfigMap(inst), watch}, refs))
	if err := r.apply(ctx, inst, want); err != nil {
		return ctrl.Result{}, err
	}
	r.summarize(ctx, inst)
	if !labelled {
		return ctrl.Result{RequeueAfter: UnlabelledResync}, nil
	}
	return ctrl.Result{}, nil
}

// summarize copies the Deployment's replica counts and sets Ready.
func (r *Reconciler) summarize(ctx context.Context, inst *platformv1alpha1.Instance) {
	inst.Status.Endpoint = Endpoint(inst)
	dep := &appsv1.Deployment{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: inst.Name}, dep); err != nil {
		// Just applied: the cache has not seen it yet; its event brings
		// the next pass.
		inst.Status.Ready = false
		libreconcile.SetCondition(inst, &inst.Status.Conditions, platformv1alpha1.InstanceReadyCondition, metav1.ConditionFalse,
			platformv1alpha1.InstanceProgressingReason, "Deployment is being created")
		return
	}
	want := replicas(inst)
	inst.Status.Replicas, inst.Status.ReadyReplicas = dep.Status.Replicas, dep.Status.ReadyReplicas
	current := dep.Status.ObservedGeneration >= dep.Generation
	inst.Status.Ready = false
	switch {
	case want == 0:
		libreconcile.SetCondition(inst, &inst.Status.Conditions, platformv1alpha1.InstanceReadyCondition, metav1.ConditionFalse,
			platformv1alpha1.InstanceScaledToZeroReason, "spec.replicas is 0")
	case current && dep.Status.UpdatedReplicas >= want && dep.Status.AvailableReplicas >= want && dep.Status.ReadyReplicas >= want:
		inst.Status.Ready = true
		libreconcile.SetCondition(inst, &inst.Status.Conditions, platformv1alpha1.InstanceReadyCondition, metav1.ConditionTrue,
			platformv1alpha1.InstanceAvailableReason, fmt.Sprintf("%d of %d replicas are ready", dep.Status.ReadyReplicas, want))
	default:
		libreconcile.SetCondition(inst, &inst.Status.Conditions, platformv1alpha1.InstanceReadyCondition, metav1.ConditionFalse,
			platformv1alpha1.InstanceProgressingReason, fmt.Sprintf("%d of %d replicas are ready", dep.Status.ReadyReplicas, want))
	}
}

// deleteClusterRoleBinding removes the one object owner references cannot
// collect.
func (r *Reconciler) deleteClusterRoleBinding(ctx context.Context, inst *platformv1alpha1.Instance) (ctrl.Result, error) {
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ClusterRoleBindingName(inst.Namespace, inst.Name)}}
	// Straight to the API server: a stale cache must not let the finalizer
	// go while the binding lives.
	if err := r.Client.Delete(ctx, crb); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("delete ClusterRoleBinding %s: %w", crb.Name, err)
	}
	return ctrl.Result{}, nil
}
