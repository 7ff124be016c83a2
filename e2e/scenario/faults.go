// Package scenario holds what the e2e tests and `make demo` share: the
// sample application, the faults that break it (each healed only by the
// right remediation, through the kwok stages of e2e/cluster), a tracker that
// watches each incident move through its states, and a Markdown rendering
// of a PostMortem.
package scenario

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// The values the kwok fault stages match on. The platform never sees these:
// it heals from what it reads in the cluster (the last termination reason,
// the rollout history).
const (
	// HealthyImage runs fine.
	HealthyImage = "example/shop:1"
	// BrokenImage crash-loops with exit 1 (stages/fault-bad-image-crashloop.yaml).
	BrokenImage = "example/shop:broken"
	// OOMLimit is a memory limit whose pods are OOMKilled in a loop
	// (stages/fault-oom-crashloop.yaml); any other limit runs.
	OOMLimit = "64Mi"
	// HealthyLimit is the limit of healthy deployments.
	HealthyLimit = "128Mi"
)

// Fault is one way to break the sample application, and how to tell that
// the platform healed it the right way.
type Fault struct {
	// Name is short (oom, bad-rollout).
	Name string
	// Title is a line for people.
	Title string
	// App is the Deployment the fault hits.
	App string
	// WantAction is the action that heals it.
	WantAction platformv1alpha1.ActionType
	// Prepare deploys what must exist before the fault (a healthy first
	// revision); nil when the fault is the first deployment itself.
	Prepare func(ctx context.Context, c client.Client, namespace string) error
	// Inject breaks the application.
	Inject func(ctx context.Context, c client.Client, namespace string) error
	// Healed reports nil once the Deployment was fixed the right way and
	// all its replicas are available.
	Healed func(ctx context.Context, c client.Client, namespace string) error
}

// OOM deploys "checkout" with a memory limit too small for it: its pods are
// OOMKilled in a loop, and there is no earlier revision to roll back to,
// so only AdjustResources (a higher limit) heals it.
func OOM() Fault { return OOMOf("checkout") }

// OOMOf is the OOM fault on a Deployment named app, for a second identical
// fault beside the first.
func OOMOf(app string) Fault {
	return Fault{
		Name: "oom", Title: "checkout is OOMKilled (memory limit too small)", App: app,
		WantAction: platformv1alpha1.ActionAdjustResources,
		Inject: func(ctx context.Context, c client.Client, ns string) error {
			return c.Create(ctx, Deployment(ns, app, HealthyImage, OOMLimit, 2))
		},
		Healed: func(ctx context.Context, c client.Client, ns string) error {
			d, err := Available(ctx, c, ns, app)
			if err != nil {
				return err
			}
			limit := d.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]
			if limit.Cmp(resource.MustParse(OOMLimit)) <= 0 {
				return fmt.Errorf("memory limit is %s, not raised above %s", limit.String(), OOMLimit)
			}
			return nil
		},
	}
}

// BadRollout rolls "frontend", healthy at its first revision, out to an
// image that crash-loops: RollbackDeployment to the previous revision heals it.
func BadRollout() Fault { return BadRolloutOf("frontend") }

// BadRolloutOf is the bad-rollout fault on a Deployment named app.
func BadRolloutOf(app string) Fault {
	return Fault{
		Name: "bad-rollout", Title: "frontend rolled out to a crash-looping image", App: app,
		WantAction: platformv1alpha1.ActionRollbackDeployment,
		Prepare: func(ctx context.Context, c client.Client, ns string) error {
			if err := c.Create(ctx, Deployment(ns, app, HealthyImage, HealthyLimit, 2)); err != nil {
				return err
			}
			return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
				_, err := Available(ctx, c, ns, app)
				return err == nil, nil
			})
		},
		Inject: func(ctx context.Context, c client.Client, ns string) error {
			var d appsv1.Deployment
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: app}, &d); err != nil {
				return err
			}
			patch := client.MergeFrom(d.DeepCopy())
			d.Spec.Template.Spec.Containers[0].Image = BrokenImage
			return c.Patch(ctx, &d, patch)
		},
		Healed: func(ctx context.Context, c client.Client, ns string) error {
			d, err := Available(ctx, c, ns, app)
			if err != nil {
				return err
			}
			if image := d.Spec.Template.Spec.Containers[0].Image; image != HealthyImage {
				return fmt.Errorf("image is %s, not rolled back to %s", image, HealthyImage)
			}
			return nil
		},
	}
}

// NoHealthyRevision deploys "ledger" straight to an image that
// crash-loops: there is no earlier revision, and no action heals it, so the
// incident must escalate without anything destructive.
func NoHealthyRevision() Fault {
	const app = "ledger"
	return Fault{
		Name: "no-fix", Title: "ledger crash-loops and has no healthy revision", App: app,
		Inject: func(ctx context.Context, c client.Client, ns string) error {
			return c.Create(ctx, Deployment(ns, app, BrokenImage, HealthyLimit, 2))
		},
		Healed: func(ctx context.Context, c client.Client, ns string) error {
			_, err := Available(ctx, c, ns, app)
			return err
		},
	}
}

// Deployment is a sample Deployment of one container.
func Deployment(namespace, name, image, memoryLimit string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas:             ptr.To(replicas),
			RevisionHistoryLimit: ptr.To[int32](5),
			Selector:             &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: image,
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi"), corev1.ResourceCPU: resource.MustParse("50m")},
						Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memoryLimit)},
					},
				}}},
			},
		},
	}
}

// Available returns the Deployment when its current revision is fully
// rolled out and available, else an error saying what is missing.
func Available(ctx context.Context, c client.Client, namespace, name string) (*appsv1.Deployment, error) {
	var d appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &d); err != nil {
		return nil, err
	}
	s, want := d.Status, ptr.Deref(d.Spec.Replicas, 1)
	if s.ObservedGeneration != d.Generation || s.UpdatedReplicas != want || s.AvailableReplicas != want || s.Replicas != want {
		return &d, fmt.Errorf("deployment %s/%s: %d/%d updated, %d available, %d total", namespace, name, s.UpdatedReplicas, want, s.AvailableReplicas, s.Replicas)
	}
	return &d, nil
}
