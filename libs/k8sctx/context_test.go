package k8sctx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) {
	testenv.Run(m, &env, testenv.Options{WithoutRedis: true, WithoutCRDs: true})
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(testContext(t), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// setStatus writes obj's status through the status subresource, as a
// controller would; the test environment runs none.
func setStatus(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Status().Update(testContext(t), obj); err != nil {
		t.Fatalf("update status of %T %s: %v", obj, obj.GetName(), err)
	}
}

func ownerRef(obj client.Object, kind, apiVersion string) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: obj.GetName(), UID: obj.GetUID(), Controller: ptr.To(true)}}
}

func podTemplate(labels map[string]string, image, memory string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: image,
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memory)},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memory)},
			},
		}}},
	}
}

// newPod creates a pod owned by owner, with the given container status.
func newPod(t *testing.T, ns, name string, labels map[string]string, owner []metav1.OwnerReference, ready bool, state corev1.ContainerState, restarts int32) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, OwnerReferences: owner},
		// A node without a kubelet, as on a fake node: pods/log fails.
		Spec: corev1.PodSpec{NodeName: "fake-node", Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	create(t, p)
	readyStatus := corev1.ConditionFalse
	if ready {
		readyStatus = corev1.ConditionTrue
	}
	p.Status = corev1.PodStatus{
		Phase:      corev1.PodRunning,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: readyStatus}},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Image: "app", Ready: ready, RestartCount: restarts, State: state,
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}},
		}},
	}
	setStatus(t, p)
}

var (
	running      = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	crashLooping = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 5m0s"}}
)

func newEvent(t *testing.T, ns, kind, name, reason, message string, at time.Time) {
	t.Helper()
	create(t, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: ns, GenerateName: name + "-"},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: ns, Name: name},
		Reason:         reason, Message: message, Type: corev1.EventTypeWarning,
		LastTimestamp: metav1.NewTime(at), Count: 1,
	})
}

func builder(t *testing.T) *k8sctx.Builder {
	return &k8sctx.Builder{Reader: env.Client, Logs: kubernetes.NewForConfigOrDie(env.Config)}
}

func TestDeploymentContext(t *testing.T) {
	ns := env.NewNamespace(t, "ctx-deploy", nil)
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Annotations: map[string]string{"deployment.kubernetes.io/revision": "3"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels, "web:3", "256Mi"),
		},
	}
	create(t, d)
	d.Status = appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 1, UpdatedReplicas: 2, UnavailableReplicas: 1, ObservedGeneration: 1}
	setStatus(t, d)

	// Revision 1 is long gone, 2 still serves (the rollout of 3 is stuck
	// on crash-looping pods), 3 is current.
	revs := map[int]struct {
		image, memory string
		replicas      int32
		ready         int32
	}{1: {"web:1", "128Mi", 0, 0}, 2: {"web:2", "256Mi", 1, 1}, 3: {"web:3", "256Mi", 2, 0}}
	for n := 1; n <= 3; n++ {
		r := revs[n]
		hash := fmt.Sprintf("h%d", n)
		rsLabels := map[string]string{"app": "web", "pod-template-hash": hash}
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: ns, Name: "web-" + hash, Labels: rsLabels,
				Annotations:     map[string]string{"deployment.kubernetes.io/revision": fmt.Sprint(n)},
				OwnerReferences: ownerRef(d, "Deployment", "apps/v1"),
			},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(r.replicas), Selector: &metav1.LabelSelector{MatchLabels: rsLabels}, Template: podTemplate(rsLabels, r.image, r.memory)},
		}
		create(t, rs)
		rs.Status = appsv1.ReplicaSetStatus{Replicas: r.replicas, ReadyReplicas: r.ready}
		setStatus(t, rs)
		switch n {
		case 2:
			newPod(t, ns, "web-h2-a", rsLabels, ownerRef(rs, "ReplicaSet", "apps/v1"), true, running, 0)
		case 3:
			newPod(t, ns, "web-h3-a", rsLabels, ownerRef(rs, "ReplicaSet", "apps/v1"), false, crashLooping, 7)
			newPod(t, ns, "web-h3-b", rsLabels, ownerRef(rs, "ReplicaSet", "apps/v1"), false, crashLooping, 4)
		}
	}
	// A pod that matches the selector but belongs to no revision of web.
	newPod(t, ns, "stray", labels, nil, true, running, 0)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range 20 {
		newEvent(t, ns, "Pod", "web-h3-a", "BackOff", fmt.Sprintf("Back-off restarting failed container %d", i), base.Add(time.Duration(i)*time.Minute))
	}
	newEvent(t, ns, "Deployment", "web", "ScalingReplicaSet", "Scaled up replica set web-h3 to 2", base.Add(10*time.Minute))

	c, err := builder(t).Build(testContext(t), k8sctx.Ref{Kind: "Deployment", Namespace: ns, Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Found || c.Healthy {
		t.Errorf("Found, Healthy = %v, %v; want true, false", c.Found, c.Healthy)
	}
	if got := len(c.Pods); got != 3 {
		t.Fatalf("pods = %d, want 3 (the stray pod is not web's)", got)
	}
	if !c.Pods[0].Failing || c.Pods[0].Name != "web-h3-a" || c.Pods[2].Failing {
		t.Errorf("pods not failing first: %+v", c.Pods)
	}
	if c.Pods[0].Revision != "3" || c.Pods[0].Containers[0].Reason != "CrashLoopBackOff" || *c.Pods[0].Containers[0].LastExitCode != 1 {
		t.Errorf("pod summary = %+v", c.Pods[0])
	}
	if len(c.Events) != k8sctx.MaxEvents {
		t.Errorf("events = %d, want %d", len(c.Events), k8sctx.MaxEvents)
	}
	if last := c.Events[len(c.Events)-1]; !strings.Contains(last.Message, "19") {
		t.Errorf("the newest event is not last: %+v", last)
	}
	if len(c.Revisions) != 3 || c.Revisions[0].Number != 3 || !c.Revisions[0].Current {
		t.Fatalf("revisions = %+v", c.Revisions)
	}
	if c.LastHealthyRevision != 2 {
		t.Errorf("LastHealthyRevision = %d, want 2", c.LastHealthyRevision)
	}
	if got, want := strings.Join(c.Revisions[0].Changes, "; "), "container app image web:2 -> web:3"; got != want {
		t.Errorf("changes of 3 = %q, want %q", got, want)
	}
	if got := strings.Join(c.Revisions[1].Changes, "; "); !strings.Contains(got, "limits.memory 128Mi -> 256Mi") || !strings.Contains(got, "image web:1 -> web:2") {
		t.Errorf("changes of 2 = %q", got)
	}
	// No kubelet serves pods/log here: the context says so.
	if len(c.Logs) == 0 || c.Logs[0].Error == "" || !c.Logs[1].Previous {
		t.Errorf("logs = %+v, want failed fetches of the current and previous containers", c.Logs)
	}
	if c.Workload.Containers[0].Limits["memory"] != "256Mi" {
		t.Errorf("workload containers = %+v", c.Workload.Containers)
	}

	out, err := c.Render(0)
	if err != nil {
		t.Fatal(err)
	}
	back, err := k8sctx.Parse(out)
	if err != nil || back.LastHealthyRevision != 2 {
		t.Errorf("Parse(Render) = %+v, %v", back, err)
	}
	small, err := c.Render(2500)
	if err != nil || len(small) > 2500 || !json.Valid(small) {
		t.Errorf("Render(2500) = %d bytes, %v", len(small), err)
	}
}

func TestDeploymentWithoutHealthyRevision(t *testing.T) {
	ns := env.NewNamespace(t, "ctx-nohealthy", nil)
	labels := map[string]string{"app": "api"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api", Annotations: map[string]string{"deployment.kubernetes.io/revision": "1"}},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: podTemplate(labels, "api:1", "64Mi")},
	}
	create(t, d)
	rsLabels := map[string]string{"app": "api", "pod-template-hash": "x1"}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-x1", Labels: rsLabels, Annotations: map[string]string{"deployment.kubernetes.io/revision": "1"}, OwnerReferences: ownerRef(d, "Deployment", "apps/v1")},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: rsLabels}, Template: podTemplate(rsLabels, "api:1", "64Mi")},
	}
	create(t, rs)
	newPod(t, ns, "api-x1-a", rsLabels, ownerRef(rs, "ReplicaSet", "apps/v1"), false, crashLooping, 3)
	c, err := builder(t).Build(testContext(t), k8sctx.Ref{Kind: "Deployment", Namespace: ns, Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if c.LastHealthyRevision != 0 || len(c.Revisions) != 1 || c.Revisions[0].Healthy {
		t.Errorf("LastHealthyRevision = %d, revisions = %+v; want none healthy", c.LastHealthyRevision, c.Revisions)
	}
}

// TestDeploymentMidRollout: in the second after a bad image is pushed, the
// Deployment's status and revision annotation still describe the previous
// spec. The context must not call that healthy on the old revision: the
// current revision is the one whose template is the spec's, or none yet,
// and the old one, still serving, is the last healthy one.
func TestDeploymentMidRollout(t *testing.T) {
	tests := map[string]struct {
		newReplicaSet bool
		wantCurrent   int64
	}{
		"NewReplicaSetCreated":    {newReplicaSet: true, wantCurrent: 2},
		"NewReplicaSetNotCreated": {newReplicaSet: false, wantCurrent: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ns := env.NewNamespace(t, "ctx-midrollout", nil)
			labels := map[string]string{"app": "shop"}
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop", Annotations: map[string]string{"deployment.kubernetes.io/revision": "1"}},
				Spec: appsv1.DeploymentSpec{
					Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: podTemplate(labels, "shop:1", "64Mi"),
				},
			}
			create(t, d)
			d.Status = appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2, ObservedGeneration: 1}
			setStatus(t, d)
			replicaSet := func(hash string, revision int, image string, replicas, ready int32) *appsv1.ReplicaSet {
				rsLabels := map[string]string{"app": "shop", "pod-template-hash": hash}
				rs := &appsv1.ReplicaSet{
					ObjectMeta: metav1.ObjectMeta{
						Namespace: ns, Name: "shop-" + hash, Labels: rsLabels,
						Annotations:     map[string]string{"deployment.kubernetes.io/revision": fmt.Sprint(revision)},
						OwnerReferences: ownerRef(d, "Deployment", "apps/v1"),
					},
					Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: rsLabels}, Template: podTemplate(rsLabels, image, "64Mi")},
				}
				create(t, rs)
				rs.Status = appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: ready}
				setStatus(t, rs)
				return rs
			}
			old := replicaSet("a1", 1, "shop:1", 2, 2)
			newPod(t, ns, "shop-a1-x", old.Labels, ownerRef(old, "ReplicaSet", "apps/v1"), true, running, 0)
			newPod(t, ns, "shop-a1-y", old.Labels, ownerRef(old, "ReplicaSet", "apps/v1"), true, running, 0)

			// The bad push: generation 2, which no controller has observed.
			d.Spec.Template = podTemplate(labels, "shop:broken", "64Mi")
			if err := env.Client.Update(testContext(t), d); err != nil {
				t.Fatal(err)
			}
			if tc.newReplicaSet {
				rs := replicaSet("b2", 2, "shop:broken", 1, 0)
				newPod(t, ns, "shop-b2-x", rs.Labels, ownerRef(rs, "ReplicaSet", "apps/v1"), false, crashLooping, 3)
			}

			c, err := builder(t).Build(testContext(t), k8sctx.Ref{Kind: "Deployment", Namespace: ns, Name: "shop"})
			if err != nil {
				t.Fatal(err)
			}
			if c.Healthy {
				t.Error("a Deployment whose controller has not observed its spec is not healthy, whatever its stale status says")
			}
			if c.Workload.CurrentRevision != tc.wantCurrent {
				t.Errorf("current revision = %d, want %d (the annotation still says 1)", c.Workload.CurrentRevision, tc.wantCurrent)
			}
			if c.LastHealthyRevision != 1 {
				t.Errorf("LastHealthyRevision = %d, want 1 (it still serves 2/2): %+v", c.LastHealthyRevision, c.Revisions)
			}
			if !slices.ContainsFunc(c.Notes, func(n string) bool { return strings.Contains(n, "not yet observed generation 2") }) {
				t.Errorf("notes = %q, want one saying the controller lags the spec", c.Notes)
			}
		})
	}
}

// controllerRevision stores a pod template as the StatefulSet and
// DaemonSet controllers do.
func controllerRevision(t *testing.T, ns, name string, owner []metav1.OwnerReference, labels map[string]string, n int64, tmpl corev1.PodTemplateSpec) {
	t.Helper()
	data, err := json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
	if err != nil {
		t.Fatal(err)
	}
	create(t, &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, OwnerReferences: owner},
		Data:       runtime.RawExtension{Raw: data}, Revision: n,
	})
}

func TestStatefulSetContext(t *testing.T) {
	ns := env.NewNamespace(t, "ctx-sts", nil)
	labels := map[string]string{"app": "db"}
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: podTemplate(labels, "db:2", "1Gi")},
	}
	create(t, s)
	s.Status = appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 1, CurrentReplicas: 1, UpdatedReplicas: 1, CurrentRevision: "db-aaa", UpdateRevision: "db-bbb"}
	setStatus(t, s)
	owner := ownerRef(s, "StatefulSet", "apps/v1")
	controllerRevision(t, ns, "db-aaa", owner, labels, 1, podTemplate(labels, "db:1", "1Gi"))
	controllerRevision(t, ns, "db-bbb", owner, labels, 2, podTemplate(labels, "db:2", "1Gi"))
	newPod(t, ns, "db-0", map[string]string{"app": "db", "controller-revision-hash": "aaa"}, owner, true, running, 0)
	newPod(t, ns, "db-1", map[string]string{"app": "db", "controller-revision-hash": "bbb"}, owner, false, crashLooping, 5)

	c, err := builder(t).Build(testContext(t), k8sctx.Ref{Kind: "StatefulSet", Namespace: ns, Name: "db"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Healthy || c.Workload.CurrentRevision != 2 || c.LastHealthyRevision != 1 {
		t.Errorf("Healthy %v, current %d, last healthy %d; want false, 2, 1", c.Healthy, c.Workload.CurrentRevision, c.LastHealthyRevision)
	}
	if got := strings.Join(c.Revisions[0].Changes, ";"); got != "container app image db:1 -> db:2" {
		t.Errorf("changes = %q", got)
	}
}

func TestDaemonSetContext(t *testing.T) {
	ns := env.NewNamespace(t, "ctx-ds", nil)
	labels := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"},
		Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: podTemplate(labels, "agent:2", "64Mi")},
	}
	create(t, ds)
	ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, NumberReady: 1, NumberUnavailable: 1, UpdatedNumberScheduled: 1}
	setStatus(t, ds)
	owner := ownerRef(ds, "DaemonSet", "apps/v1")
	controllerRevision(t, ns, "agent-r1", owner, labels, 1, podTemplate(labels, "agent:1", "64Mi"))
	controllerRevision(t, ns, "agent-r2", owner, labels, 2, podTemplate(labels, "agent:2", "128Mi"))
	newPod(t, ns, "agent-a", map[string]string{"app": "agent", "controller-revision-hash": "r1"}, owner, true, running, 0)
	newPod(t, ns, "agent-b", map[string]string{"app": "agent", "controller-revision-hash": "r2"}, owner, false, crashLooping, 2)

	c, err := builder(t).Build(testContext(t), k8sctx.Ref{Kind: "DaemonSet", Namespace: ns, Name: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Healthy || c.LastHealthyRevision != 1 || !c.Revisions[0].Current {
		t.Errorf("Healthy %v, last healthy %d, revisions %+v", c.Healthy, c.LastHealthyRevision, c.Revisions)
	}
	if got := strings.Join(c.Revisions[0].Changes, ";"); !strings.Contains(got, "limits.memory 64Mi -> 128Mi") {
		t.Errorf("changes = %q", got)
	}
}

func TestJobAndCronJobContext(t *testing.T) {
	ns := env.NewNamespace(t, "ctx-job", nil)
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "report"},
		Spec: batchv1.CronJobSpec{Schedule: "0 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: withRestartNever(podTemplate(nil, "report:1", "32Mi")),
		}}},
	}
	create(t, cj)
	labels := map[string]string{"batch.kubernetes.io/job-name": "report-1"}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "report-1", OwnerReferences: ownerRef(cj, "CronJob", "batch/v1")},
		Spec: batchv1.JobSpec{
			ManualSelector: ptr.To(true), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: withRestartNever(podTemplate(labels, "report:1", "32Mi")),
		},
	}
	create(t, job)
	now := metav1.Now()
	job.Status = batchv1.JobStatus{Failed: 2, StartTime: &now, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
	}}
	setStatus(t, job)
	failed := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}}
	newPod(t, ns, "report-1-a", labels, ownerRef(job, "Job", "batch/v1"), false, failed, 0)

	b := builder(t)
	c, err := b.Build(testContext(t), k8sctx.Ref{Kind: "Job", Namespace: ns, Name: "report-1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Healthy || c.Workload.Failed != 2 || len(c.Pods) != 1 || !c.Pods[0].Failing {
		t.Errorf("job context = healthy %v, workload %+v, pods %+v", c.Healthy, c.Workload, c.Pods)
	}
	c, err = b.Build(testContext(t), k8sctx.Ref{Kind: "CronJob", Namespace: ns, Name: "report"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Healthy || c.Workload.Schedule != "0 * * * *" || c.Workload.LastJob == nil || c.Workload.LastJob.Name != "report-1" || len(c.Pods) != 1 {
		t.Errorf("cronjob context = healthy %v, workload %+v, pods %+v", c.Healthy, c.Workload, c.Pods)
	}
}

func withRestartNever(t corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	t.Spec.RestartPolicy = corev1.RestartPolicyNever
	return t
}

func TestMissingResource(t *testing.T) {
	c, err := builder(t).Build(testContext(t), k8sctx.Ref{Kind: "Deployment", Namespace: "default", Name: "nope"})
	if err != nil || c.Found || len(c.Notes) == 0 {
		t.Errorf("Build = %+v, %v; want not found, with a note", c, err)
	}
}
