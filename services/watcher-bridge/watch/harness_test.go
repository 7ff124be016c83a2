package watch

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/services/watcher-bridge/detect"
	"github.com/chatcli/aiops/services/watcher-bridge/ingest"
)

// harness runs a Detector with the real ingest pipeline against testenv.
type harness struct {
	t        *testing.T
	ns       string
	detector *Detector
}

// startHarness watches the given targets (kind/name) of a fresh namespace;
// no targets means the whole namespace.
func startHarness(t *testing.T, cfg detect.Config, targets ...platformv1alpha1.WatchTarget) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "watch-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	redis, err := redisx.New(env.Redis.URL, redisx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redis.Close() })
	creator, err := ingest.NewCreator(ingest.Config{
		Client: env.Client, APIReader: env.Client, Redis: redis, FallbackNamespace: ns.Name, Logger: testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(env.Config)
	d, err := NewDetector(Config{Kube: kube, Sink: creator, Detect: cfg, WatchNodes: true, Logger: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	var scope Scope
	if len(targets) == 0 {
		scope = NewScope(nil, []string{ns.Name})
	} else {
		for i := range targets {
			targets[i].Namespace = ns.Name
		}
		inst := platformv1alpha1.Instance{Spec: platformv1alpha1.InstanceSpec{Watcher: &platformv1alpha1.WatcherSpec{Enabled: true, Targets: targets}}}
		scope = NewScope([]platformv1alpha1.Instance{inst}, nil)
	}
	d.SetScope(scope)
	go func() { _ = d.Start(ctx) }()
	syncCtx, cancelSync := context.WithTimeout(ctx, 30*time.Second)
	defer cancelSync()
	if !d.WaitForSync(syncCtx) {
		t.Fatal("informers did not sync")
	}
	return &harness{t: t, ns: ns.Name, detector: d}
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
	}).WithTimeout(20 * time.Second).WithPolling(50 * time.Millisecond).Should(BeTrue(), "no %s Anomaly", signal)
	return found
}

// deploymentWithPod creates a Deployment, its ReplicaSet and one Pod, wired
// by owner references as the controllers would.
func (h *harness) deploymentWithPod(name string) (*appsv1.Deployment, *corev1.Pod) {
	h.t.Helper()
	labels := map[string]string{"app": name}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: name + ":1.0"}}},
			},
		},
	}
	h.create(deploy)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-7d9c", OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "Deployment", Name: deploy.Name, UID: deploy.UID, Controller: ptr.To(true)},
		}},
		Spec: appsv1.ReplicaSetSpec{Selector: deploy.Spec.Selector, Template: deploy.Spec.Template},
	}
	h.create(rs)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-7d9c-abcde", Labels: labels, OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)},
		}},
		Spec: deploy.Spec.Template.Spec,
	}
	h.create(pod)
	return deploy, pod
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
