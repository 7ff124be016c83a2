package actions_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/actions/deploymenttest"
	"github.com/chatcli/aiops/libs/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

type P = platformv1alpha1.ActionParams

// deployed creates a Deployment and plays its first rollout.
func deployed(t *testing.T, g Gomega, ns, name string, replicas int32) (*appsv1.Deployment, platformv1alpha1.ResourceReference) {
	ctx := context.Background()
	d := deploymenttest.New(ns, name, replicas)
	d.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name + "-config"}}}}
	g.Expect(env.Client.Create(ctx, d)).To(Succeed())
	g.Expect(deploymenttest.Rollout(ctx, env.Client, client.ObjectKeyFromObject(d), deploymenttest.Options{})).To(Succeed())
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	return d, platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: name, UID: d.UID}
}

func run(ctx context.Context, ex *actions.DeploymentExecutor, req actions.Request) (string, actions.Outcome, error) {
	snap, err := ex.Snapshot(ctx, req)
	if err != nil {
		return "", actions.Outcome{}, err
	}
	out, err := ex.Apply(ctx, req, snap)
	return snap, out, err
}

func TestDeploymentActionsApplyAndRestore(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "actions", nil)
	ex := &actions.DeploymentExecutor{Client: env.Client}
	for _, tc := range []struct {
		name   string
		action platformv1alpha1.RemediationAction
		check  func(g Gomega, d *appsv1.Deployment)
	}{
		{"scale", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "4"}},
			func(g Gomega, d *appsv1.Deployment) { g.Expect(*d.Spec.Replicas).To(BeEquivalentTo(4)) }},
		{"restart", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRestartDeployment},
			func(g Gomega, d *appsv1.Deployment) {
				g.Expect(d.Spec.Template.Annotations).To(HaveKeyWithValue(actions.AnnotationRestartKey, "plan/0"))
			}},
		{"adjust resources", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionAdjustResources, Params: P{"memory_limit": "1Gi", "memory_request": "512Mi"}},
			func(g Gomega, d *appsv1.Deployment) {
				r := d.Spec.Template.Spec.Containers[0].Resources
				g.Expect(r.Limits.Memory().Equal(resource.MustParse("1Gi"))).To(BeTrue())
				g.Expect(r.Requests.Memory().Equal(resource.MustParse("512Mi"))).To(BeTrue())
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			d, target := deployed(t, g, ns, "app-"+strconv.Itoa(len(tc.name)), 2)
			before := d.Spec.DeepCopy()
			req := actions.Request{Target: target, Action: tc.action, Key: "plan/0", Fence: 7}

			// A dry-run changes nothing.
			dry := req
			dry.DryRun = true
			_, out, err := run(ctx, ex, dry)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out.Changed).To(HaveLen(1))
			g.Expect(out.Before).NotTo(Equal(out.After))
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			g.Expect(d.Spec).To(Equal(*before))

			snap, _, err := run(ctx, ex, req)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			tc.check(g, d)
			g.Expect(d.Annotations).To(HaveKeyWithValue(actions.AnnotationFence, "7"))

			// Applying again is a no-op, not a second change.
			gen := d.Generation
			_, err = ex.Apply(ctx, req, snap)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			g.Expect(d.Generation).To(Equal(gen))

			// A holder of an older lock is refused.
			stale := req
			stale.Fence = 3
			_, err = ex.Restore(ctx, stale, snap)
			g.Expect(errors.Is(err, actions.ErrStaleFence)).To(BeTrue(), "%v", err)

			_, err = ex.Restore(ctx, req, snap)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
			g.Expect(d.Spec).To(Equal(*before))
		})
	}
}

func TestRollbackDeployment(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.NewNamespace(t, "rollback", nil)
	ex := &actions.DeploymentExecutor{Client: env.Client}
	d, target := deployed(t, g, ns, "web", 1)
	key := client.ObjectKeyFromObject(d)
	// Revisions: 1 image v1, 2 image v2, 3 image v2 restarted, current.
	for _, change := range []func(*appsv1.Deployment){
		func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "registry.example/app:2" },
		func(d *appsv1.Deployment) { d.Spec.Template.Annotations = map[string]string{"restart": "1"} },
	} {
		g.Expect(env.Client.Get(ctx, key, d)).To(Succeed())
		change(d)
		g.Expect(env.Client.Update(ctx, d)).To(Succeed())
		g.Expect(deploymenttest.Rollout(ctx, env.Client, key, deploymenttest.Options{})).To(Succeed())
	}
	image := func() string {
		g.Expect(env.Client.Get(ctx, key, d)).To(Succeed())
		return d.Spec.Template.Spec.Containers[0].Image
	}
	for _, tc := range []struct {
		to        string
		wantImage string
		wantErr   bool
	}{
		{"previous", "registry.example/app:2", false}, // revision 2: differs only by the restart mark
		{"healthy", "registry.example/app:1", false},  // revision 1: other containers
		{"1", "registry.example/app:1", false},
		{"3", "", true}, // the current one
		{"9", "", true},
	} {
		t.Run(tc.to, func(t *testing.T) {
			g := NewWithT(t)
			req := actions.Request{Target: target, Action: platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRollbackDeployment, Params: P{"toRevision": tc.to}}, Key: "k", Fence: 1, DryRun: true}
			snap, err := ex.Snapshot(ctx, req)
			g.Expect(err).NotTo(HaveOccurred())
			out, err := ex.Apply(ctx, req, snap)
			if tc.wantErr {
				g.Expect(err).To(HaveOccurred())
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out.After).To(ContainSubstring(tc.wantImage))
			g.Expect(image()).To(Equal("registry.example/app:2"), "a dry-run changes nothing")
		})
	}
	req := actions.Request{Target: target, Action: platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRollbackDeployment, Params: P{"toRevision": "healthy"}}, Key: "k", Fence: 1}
	_, _, err := run(ctx, ex, req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(image()).To(Equal("registry.example/app:1"))
	g.Expect(d.Spec.Template.Labels).NotTo(HaveKey(appsv1.DefaultDeploymentUniqueLabelKey))
}

func TestDeletePodAndPatchConfig(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.NewNamespace(t, "pods", nil)
	ex := &actions.DeploymentExecutor{Client: env.Client}
	d, target := deployed(t, g, ns, "api", 2)
	pods, _, err := ex.PodsOf(ctx, d)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pods).To(HaveLen(2))
	// The pod with more restarts is chosen.
	worst := pods[1]
	worst.Status.ContainerStatuses[0].RestartCount = 9
	g.Expect(env.Client.Status().Update(ctx, &worst)).To(Succeed())

	req := actions.Request{Target: target, Action: platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionDeletePod}, Key: "p/0", Fence: 2}
	snap, out, err := run(ctx, ex, req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Changed).To(ConsistOf("Pod/" + ns + "/" + worst.Name))
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(&worst), &corev1.Pod{})).NotTo(Succeed())
	// A repeat after a crash finds the pod gone and does not pick another.
	out, err = ex.Apply(ctx, req, snap)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Changed).To(BeEmpty())

	// A pod of another workload cannot be named.
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stranger", Labels: map[string]string{"app": "api"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	g.Expect(env.Client.Create(ctx, other)).To(Succeed())
	_, err = ex.Snapshot(ctx, actions.Request{Target: target, Action: platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionDeletePod, Params: P{"pod": "stranger"}}})
	g.Expect(err).To(HaveOccurred())

	// PatchConfig writes only a ConfigMap the Deployment uses.
	for _, name := range []string{"api-config", "unrelated"} {
		g.Expect(env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"LOG_LEVEL": "info"}})).To(Succeed())
	}
	_, err = ex.Snapshot(ctx, actions.Request{Target: target, Action: platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionPatchConfig, Params: P{"configmap": "unrelated", "key": "LOG_LEVEL", "value": "debug"}}})
	g.Expect(err).To(MatchError(ContainSubstring("does not use")))
	req = actions.Request{Target: target, Action: platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionPatchConfig, Params: P{"configmap": "api-config", "key": "NEW_KEY", "value": "1"}}, Fence: 2}
	snap, _, err = run(ctx, ex, req)
	g.Expect(err).NotTo(HaveOccurred())
	cm := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api-config"}, cm)).To(Succeed())
	g.Expect(cm.Data).To(HaveKeyWithValue("NEW_KEY", "1"))
	_, err = ex.Restore(ctx, req, snap)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api-config"}, cm)).To(Succeed())
	g.Expect(cm.Data).To(Equal(map[string]string{"LOG_LEVEL": "info"}))

	// A recreated Deployment is not the target.
	g.Expect(env.Client.Delete(ctx, d)).To(Succeed())
	g.Expect(env.Client.Create(ctx, deploymenttest.New(ns, "api", 1))).To(Succeed())
	_, err = ex.Snapshot(ctx, actions.Request{Target: target, Action: platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRestartDeployment}})
	g.Expect(errors.Is(err, actions.ErrTargetReplaced)).To(BeTrue(), "%v", err)
}
