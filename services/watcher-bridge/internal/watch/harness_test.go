package watch

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/ingest"
)

// harness runs a Detector with the real ingest pipeline against testenv.
type harness struct {
	t        *testing.T
	ns       string
	detector *Detector
}

// startHarness watches the given targets (kind/name) of a fresh namespace,
// and the cluster's nodes; no targets means the whole namespace. Node
// faults are cluster-wide, so a test that uses it must not run in parallel:
// another harness would report the same node fault as a duplicate.
func startHarness(t *testing.T, cfg detect.Config, targets ...platformv1alpha1.WatchTarget) *harness {
	t.Helper()
	return newHarness(t, cfg, true, targets)
}

// startParallelHarness runs the test in parallel with the others and
// starts a harness that does not watch nodes.
func startParallelHarness(t *testing.T, cfg detect.Config, targets ...platformv1alpha1.WatchTarget) *harness {
	t.Helper()
	t.Parallel()
	return newHarness(t, cfg, false, targets)
}

func newHarness(t *testing.T, cfg detect.Config, watchNodes bool, targets []platformv1alpha1.WatchTarget) *harness {
	t.Helper()
	return newHarnessWith(t, cfg, harnessOptions{watchNodes: watchNodes, targets: targets})
}

// harnessOptions are the settings of a harness beyond its thresholds.
type harnessOptions struct {
	watchNodes bool
	targets    []platformv1alpha1.WatchTarget
	// sources turns the optional sources on: Secrets of the harness
	// namespace are granted and read, and the CRD sources are asked of
	// discovery every 100ms.
	sources bool
	// alsoWatched are more namespaces watched whole, whose Secrets are
	// not granted.
	alsoWatched []string
}

func newHarnessWith(t *testing.T, cfg detect.Config, opts harnessOptions) *harness {
	t.Helper()
	targets := opts.targets
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := env.NewNamespace(t, "watch", nil)
	redis, err := redisx.New(env.Redis.URL, redisx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redis.Close() })
	// The detector and the creator act as the watcher-bridge's
	// ServiceAccount under its generated role: a missing permission fails.
	wb := env.AsService(t, "watcher-bridge", env.NewNamespace(t, "platform", nil))
	// The creator keeps signals to the detector's scope, as the
	// watcher-bridge's does through its cache.
	var d *Detector
	creator, err := ingest.NewCreator(ingest.Config{
		Client: wb.Client, APIReader: wb.Client, Redis: redis, FallbackNamespace: ns, Logger: testr.New(t),
		Scope: func(context.Context) (ingest.Scope, error) { return d.Scope(), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(wb.Config)
	dcfg := Config{Kube: kube, Sink: creator, Detect: cfg, WatchNodes: opts.watchNodes, Logger: testr.New(t)}
	if opts.sources {
		wb.GrantSecretSignalNamespace(t, ns)
		dcfg.SecretNamespaces = []string{ns}
		dcfg.Metadata = metadata.NewForConfigOrDie(wb.Config)
		dcfg.Dynamic = dynamic.NewForConfigOrDie(wb.Config)
		dcfg.SourceCheckInterval = 100 * time.Millisecond
	}
	d, err = NewDetector(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) == 0 {
		d.SetScope(NewScope(nil, append([]string{ns}, opts.alsoWatched...)))
	} else {
		d.SetScope(targetScope(ns, targets...))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Start(ctx)
	}()
	// Stop the workers before the test ends, so that none logs after it.
	t.Cleanup(func() {
		cancel()
		<-done
	})
	syncCtx, cancelSync := context.WithTimeout(ctx, 30*time.Second)
	defer cancelSync()
	if !d.WaitForSync(syncCtx) {
		t.Fatal("informers did not sync")
	}
	return &harness{t: t, ns: ns, detector: d}
}

// in is a harness that creates objects in another namespace, watched or
// not, with the same detector.
func (h *harness) in(namespace string) *harness {
	return &harness{t: h.t, ns: namespace, detector: h.detector}
}

// within is the harness for a subtest, which fails and cleans up on its
// own.
func (h *harness) within(t *testing.T) *harness {
	return &harness{t: t, ns: h.ns, detector: h.detector}
}

func (h *harness) create(obj client.Object) {
	h.t.Helper()
	obj.SetNamespace(h.ns)
	if err := env.Client.Create(context.Background(), obj); err != nil {
		h.t.Fatalf("create %T: %v", obj, err)
	}
}

// setStatus writes status the way the kubelet or a controller would.
func (h *harness) setStatus(obj client.Object, mutate func()) {
	h.t.Helper()
	mutate()
	if err := env.Client.Status().Update(context.Background(), obj); err != nil {
		h.t.Fatalf("update status of %T: %v", obj, err)
	}
}

// anomalies returns the Anomalies of the harness namespace.
func (h *harness) anomalies() []platformv1alpha1.Anomaly {
	list := &platformv1alpha1.AnomalyList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(h.ns)); err != nil {
		h.t.Fatal(err)
	}
	return list.Items
}

// eventuallyAnomaly waits for an Anomaly of the signal type and returns it.
func (h *harness) eventuallyAnomaly(g Gomega, signal platformv1alpha1.SignalType) platformv1alpha1.Anomaly {
	var found platformv1alpha1.Anomaly
	g.Eventually(func() bool {
		for _, a := range h.anomalies() {
			if a.Spec.SignalType == signal {
				found = a
				return true
			}
		}
		return false
	}).WithTimeout(20*time.Second).WithPolling(50*time.Millisecond).Should(BeTrue(), "no %s Anomaly", signal)
	return found
}

// deploymentWithPod creates a Deployment, its ReplicaSet and one Pod, wired
// by owner references as the controllers would.
func (h *harness) deploymentWithPod(name string) (*appsv1.Deployment, *corev1.Pod) {
	h.t.Helper()
	deploy := h.deployment(name)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-7d9c", OwnerReferences: []metav1.OwnerReference{controllerRef(deploy, "apps/v1", "Deployment")}},
		Spec:       appsv1.ReplicaSetSpec{Selector: deploy.Spec.Selector, Template: deploy.Spec.Template},
	}
	h.create(rs)
	pod := h.pod(name+"-7d9c-abcde", "", controllerRef(rs, "apps/v1", "ReplicaSet"))
	h.cached(kindReplicaSet, rs.Name)
	return deploy, pod
}

// deployment creates a Deployment of one replica.
func (h *harness) deployment(name string) *appsv1.Deployment {
	h.t.Helper()
	labels := map[string]string{"app": name}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels, name),
		},
	}
	h.create(deploy)
	h.cached(kindDeployment, name)
	return deploy
}

// statefulSet creates a StatefulSet of the given replicas.
func (h *harness) statefulSet(name string, replicas int32) *appsv1.StatefulSet {
	h.t.Helper()
	labels := map[string]string{"app": name}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(replicas),
			ServiceName: name,
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			Template:    podTemplate(labels, name),
		},
	}
	h.create(sts)
	h.cached(kindStatefulSet, name)
	return sts
}

// daemonSet creates a DaemonSet.
func (h *harness) daemonSet(name string) *appsv1.DaemonSet {
	h.t.Helper()
	labels := map[string]string{"app": name}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels, name),
		},
	}
	h.create(ds)
	h.cached(kindDaemonSet, name)
	return ds
}

// cronJob creates a CronJob on a schedule.
func (h *harness) cronJob(name, schedule string, suspend bool) *batchv1.CronJob {
	h.t.Helper()
	template := podTemplate(nil, name)
	template.Spec.RestartPolicy = corev1.RestartPolicyNever
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.CronJobSpec{
			Schedule: schedule,
			Suspend:  ptr.To(suspend),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				BackoffLimit: ptr.To[int32](0),
				Template:     template,
			}},
		},
	}
	h.create(cj)
	h.cached(kindCronJob, name)
	return cj
}

// job creates a Job that fails on its first pod failure, owned by owner
// when it is not nil (a CronJob's run).
func (h *harness) job(name string, owner *metav1.OwnerReference) *batchv1.Job {
	h.t.Helper()
	template := podTemplate(nil, name)
	template.Spec.RestartPolicy = corev1.RestartPolicyNever
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       batchv1.JobSpec{BackoffLimit: ptr.To[int32](0), Template: template},
	}
	if owner != nil {
		job.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	h.create(job)
	h.cached(kindJob, name)
	return job
}

// pod creates a Pod with its owners, bound to nodeName when it is set (as
// the scheduler would bind it).
func (h *harness) pod(name, nodeName string, owners ...metav1.OwnerReference) *corev1.Pod {
	h.t.Helper()
	spec := podTemplate(nil, name).Spec
	spec.NodeName = nodeName
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: owners}, Spec: spec}
	h.create(pod)
	return pod
}

// node registers a Node as its kubelet would, and deletes it when the test
// ends so that no later harness sees it.
func (h *harness) node(suffix string) *corev1.Node {
	h.t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: h.ns + "-" + suffix}}
	if err := env.Client.Create(context.Background(), node); err != nil {
		h.t.Fatalf("create node: %v", err)
	}
	h.t.Cleanup(func() { _ = env.Client.Delete(context.Background(), node) })
	return node
}

// cached waits until the detector's informers hold an object. The owners of
// a pod are in the cache long before its kubelet reports on it; the tests
// create them a moment before, so they wait for the same state.
func (h *harness) cached(kind, name string) {
	h.t.Helper()
	if h.detector.informersOf(h.ns) == nil {
		return // out of scope: nothing to wait for
	}
	NewWithT(h.t).Eventually(func() bool {
		inf := h.detector.informersOf(h.ns)
		return inf != nil && inf.get(kind, h.ns, name) != nil
	}).WithTimeout(10*time.Second).WithPolling(10*time.Millisecond).Should(BeTrue(), "%s %s never reached the cache", kind, name)
}

// eventuallyAnomalyOn waits for an Anomaly of the signal type about the
// named resource and returns it.
func (h *harness) eventuallyAnomalyOn(g Gomega, signal platformv1alpha1.SignalType, kind, name string) platformv1alpha1.Anomaly {
	var found platformv1alpha1.Anomaly
	g.Eventually(func() bool {
		for _, a := range h.anomalies() {
			if a.Spec.SignalType == signal && a.Spec.Resource.Kind == kind && a.Spec.Resource.Name == name {
				found = a
				return true
			}
		}
		return false
	}).WithTimeout(20*time.Second).WithPolling(50*time.Millisecond).Should(BeTrue(), "no %s Anomaly on %s %s", signal, kind, name)
	return found
}

// configWith is the default config with some thresholds changed, so that
// a test sees a grace run out.
func configWith(change func(*detect.Config)) detect.Config {
	cfg := detect.DefaultConfig()
	change(&cfg)
	return cfg
}

// targetScope is the scope of one Instance that watches targets in a
// namespace.
func targetScope(namespace string, targets ...platformv1alpha1.WatchTarget) Scope {
	in := make([]platformv1alpha1.WatchTarget, len(targets))
	for i, t := range targets {
		t.Namespace = namespace
		in[i] = t
	}
	inst := platformv1alpha1.Instance{Spec: platformv1alpha1.InstanceSpec{Watcher: &platformv1alpha1.WatcherSpec{Enabled: true, Targets: in}}}
	return NewScope([]platformv1alpha1.Instance{inst}, nil)
}

// controllerRef is the owner reference a controller sets on what it
// creates.
func controllerRef(owner client.Object, apiVersion, kind string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: owner.GetName(), UID: owner.GetUID(), Controller: ptr.To(true)}
}

// podTemplate runs one container, app, of the image <name>:1.0 with a
// memory limit of 256Mi.
func podTemplate(labels map[string]string, name string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: name + ":1.0",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}},
		}}},
	}
}

// runningPodStatus is a healthy running pod with one container.
func runningPodStatus(restarts int32) corev1.PodStatus {
	now := metav1.Now()
	return corev1.PodStatus{
		Phase:      corev1.PodRunning,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Ready: true, RestartCount: restarts, Image: "app:1.0",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}},
	}
}

// defaultQuiet is how long a Consistently watches for something that must
// not happen.
const defaultQuiet = 2 * time.Second

// liveRef is the reference an Anomaly about the named object holds: with
// the object's uid, read from the API server.
func liveRef(t *testing.T, kind, namespace, name string) platformv1alpha1.ResourceReference {
	t.Helper()
	apiVersion, _ := k8sctx.APIVersion(kind)
	m := &metav1.PartialObjectMetadata{}
	m.APIVersion, m.Kind = apiVersion, kind
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, m); err != nil {
		t.Fatalf("get %s %s/%s: %v", kind, namespace, name, err)
	}
	return platformv1alpha1.ResourceReference{Kind: kind, Namespace: namespace, Name: name, UID: m.UID}
}
