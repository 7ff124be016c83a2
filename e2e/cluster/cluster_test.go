package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// TestFaultStagesHealOnlyWithTheRightFix runs the cluster and checks the
// facts the scenarios rely on: a healthy Deployment becomes available, a
// 64Mi limit crash-loops with OOMKilled and heals when the limit is raised,
// and an extra stage file from CHATCLI_KWOK_EXTRA_STAGES is loaded.
func TestFaultStagesHealOnlyWithTheRightFix(t *testing.T) {
	extra := filepath.Join(t.TempDir(), "extra.yaml")
	if err := os.WriteFile(extra, []byte(strings.NewReplacer("example/shop:broken", "example/shop:user-fault", "name: fault-bad-image-crashloop", "name: user-fault").Replace(mustStage(t, "fault-bad-image-crashloop.yaml"))), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ExtraStagesEnv, extra)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	t.Cleanup(func() {
		if t.Failed() {
			c.WriteLogs(os.Stderr, 8000)
		}
	})
	t.Logf("cluster started: %v", c.Timings)
	cs := c.Clientset
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		image, memory string
		wantReason    string
		fix           func(*appsv1.Deployment)
	}{
		"healthy": {image: "example/shop:1", memory: "128Mi"},
		"oom": {image: "example/shop:1", memory: "64Mi", wantReason: "OOMKilled", fix: func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("128Mi")
		}},
		"user-stage-file": {image: "example/shop:user-fault", memory: "128Mi", wantReason: "Error", fix: func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "example/shop:1" }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			begin := time.Now()
			d, err := cs.AppsV1().Deployments("shop").Create(ctx, testDeployment(name, tc.image, tc.memory), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantReason == "" {
				waitAvailable(ctx, t, c, name)
				t.Logf("available after %s", time.Since(begin).Round(time.Millisecond))
				return
			}
			err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
				pods, err := cs.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
				if err != nil {
					return false, err
				}
				for _, p := range pods.Items {
					for _, s := range p.Status.ContainerStatuses {
						if s.RestartCount >= 2 && s.LastTerminationState.Terminated != nil && s.LastTerminationState.Terminated.Reason == tc.wantReason {
							return true, nil
						}
					}
				}
				return false, nil
			})
			if err != nil {
				t.Fatalf("no pod crash-looped with %s: %v", tc.wantReason, err)
			}
			t.Logf("crash-looping with %s after %s", tc.wantReason, time.Since(begin).Round(time.Millisecond))
			d, err = cs.AppsV1().Deployments("shop").Get(ctx, d.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tc.fix(d)
			if _, err := cs.AppsV1().Deployments("shop").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			fixed := time.Now()
			waitAvailable(ctx, t, c, name)
			t.Logf("healed %s after the fix", time.Since(fixed).Round(time.Millisecond))
		})
	}
}

func waitAvailable(ctx context.Context, t *testing.T, c *Cluster, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := c.Clientset.AppsV1().Deployments("shop").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := d.Status
		return s.ObservedGeneration == d.Generation && s.UpdatedReplicas == *d.Spec.Replicas &&
			s.AvailableReplicas == *d.Spec.Replicas && s.Replicas == *d.Spec.Replicas, nil
	})
	if err != nil {
		t.Fatalf("deployment %s not available: %v", name, err)
	}
}

func testDeployment(name, image, memory string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: image,
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memory)}},
				}}},
			},
		},
	}
}

func mustStage(t *testing.T, name string) string {
	t.Helper()
	data, err := stages.ReadFile("stages/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
