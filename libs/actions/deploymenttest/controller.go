// Package deploymenttest plays the Deployment and ReplicaSet controllers in
// tests, whose API server runs without a controller-manager: it writes the
// ReplicaSets, pods and statuses a real rollout would.
package deploymenttest

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// New returns a Deployment of one container "app" with the given replicas
// and memory limit, labelled app=name.
func New(namespace, name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:1",
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceMemory: mustQty("256Mi"), corev1.ResourceCPU: mustQty("100m")},
						Limits:   corev1.ResourceList{corev1.ResourceMemory: mustQty("512Mi"), corev1.ResourceCPU: mustQty("500m")},
					},
				}}},
			},
		},
	}
}

// Options shape one rollout.
type Options struct {
	// Restarts is the restart count of the new pods.
	Restarts int32
	// NotReady leaves the new pods not ready and the Deployment unavailable.
	NotReady bool
	// KeepOldPods leaves the pods of the previous template in place.
	KeepOldPods bool
	// Waiting is the waiting reason of the new pods' container, such as
	// CrashLoopBackOff; it leaves them not ready.
	Waiting string
}

// Rollout does what the controllers would for d's current template: a
// ReplicaSet for it (a new revision when the template is new), the old
// ones scaled to 0, ready pods of the new template, the old pods deleted,
// and the Deployment's status at its generation.
func Rollout(ctx context.Context, c client.Client, key client.ObjectKey, opts Options) error {
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, key, d); err != nil {
		return err
	}
	hash := templateHash(&d.Spec.Template)
	// The generation this rollout is for: a change made meanwhile is
	// observed by the next rollout, as with the real controller.
	generation := d.Generation
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	list := &appsv1.ReplicaSetList{}
	if err := c.List(ctx, list, client.InNamespace(d.Namespace)); err != nil {
		return err
	}
	var current *appsv1.ReplicaSet
	maxRev := int64(0)
	for i := range list.Items {
		rs := &list.Items[i]
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID {
			continue
		}
		if n, _ := strconv.ParseInt(rs.Annotations["deployment.kubernetes.io/revision"], 10, 64); n > maxRev {
			maxRev = n
		}
		if rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == hash {
			current = rs
		}
	}
	if current == nil {
		current = &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: d.Namespace, Name: d.Name + "-" + hash,
				Labels:          withHash(d.Spec.Template.Labels, hash),
				Annotations:     map[string]string{"deployment.kubernetes.io/revision": strconv.FormatInt(maxRev+1, 10)},
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))},
			},
			Spec: appsv1.ReplicaSetSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: withHash(d.Spec.Selector.MatchLabels, hash)},
				Template: *d.Spec.Template.DeepCopy(),
			},
		}
		current.Spec.Template.Labels = withHash(current.Spec.Template.Labels, hash)
		if err := c.Create(ctx, current); err != nil {
			return fmt.Errorf("create ReplicaSet: %w", err)
		}
	} else {
		rev := current.Annotations["deployment.kubernetes.io/revision"]
		if n, _ := strconv.ParseInt(rev, 10, 64); n < maxRev {
			// A rollback to this template moves its ReplicaSet to the top.
			current.Annotations["deployment.kubernetes.io/revision"] = strconv.FormatInt(maxRev+1, 10)
		}
		current.Spec.Replicas = &replicas
		if err := c.Update(ctx, current); err != nil {
			return err
		}
	}
	// Old ReplicaSets down to 0.
	for i := range list.Items {
		rs := &list.Items[i]
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID || rs.UID == current.UID {
			continue
		}
		zero := int32(0)
		rs.Spec.Replicas = &zero
		if err := c.Update(ctx, rs); err != nil {
			return err
		}
		rs.Status = appsv1.ReplicaSetStatus{Replicas: 0, ObservedGeneration: rs.Generation}
		if err := c.Status().Update(ctx, rs); err != nil {
			return err
		}
	}
	// Pods: delete the old template's, make the new one's.
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(d.Namespace), client.MatchingLabels(d.Spec.Selector.MatchLabels)); err != nil {
		return err
	}
	have := int32(0)
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == hash {
			if have >= replicas {
				if err := c.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
					return err
				}
				continue
			}
			have++
			continue
		}
		if !opts.KeepOldPods {
			if err := c.Delete(ctx, p, client.GracePeriodSeconds(0)); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	for ; have < replicas; have++ {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: d.Namespace, Name: current.Name + "-" + rand.String(5),
				Labels:          current.Spec.Template.Labels,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(current, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))},
			},
			Spec: current.Spec.Template.Spec,
		}
		if err := c.Create(ctx, p); err != nil {
			return fmt.Errorf("create pod: %w", err)
		}
	}
	if err := SetPods(ctx, c, d.Namespace, hash, !opts.NotReady && opts.Waiting == "", opts.Restarts, opts.Waiting); err != nil {
		return err
	}
	ready := replicas
	if opts.NotReady || opts.Waiting != "" {
		ready = 0
	}
	current.Status = appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: ready, AvailableReplicas: ready, ObservedGeneration: current.Generation}
	if err := c.Status().Update(ctx, current); err != nil {
		return err
	}
	if err := c.Get(ctx, key, d); err != nil {
		return err
	}
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: generation, Replicas: replicas, UpdatedReplicas: replicas,
		ReadyReplicas: ready, AvailableReplicas: ready, UnavailableReplicas: replicas - ready,
	}
	return c.Status().Update(ctx, d)
}

// SetPods sets the readiness, restart count and waiting reason (none when
// "") of the pods of template hash, as the kubelet would.
func SetPods(ctx context.Context, c client.Client, namespace, hash string, ready bool, restarts int32, waiting string) error {
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(namespace), client.MatchingLabels{appsv1.DefaultDeploymentUniqueLabelKey: hash}); err != nil {
		return err
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		p.Status = corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", Ready: ready, RestartCount: restarts, Image: p.Spec.Containers[0].Image,
			}},
		}
		if waiting != "" {
			p.Status.ContainerStatuses[0].State.Waiting = &corev1.ContainerStateWaiting{Reason: waiting}
		}
		if err := c.Status().Update(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// TemplateHash is the pod-template-hash a template's ReplicaSet carries.
func TemplateHash(d *appsv1.Deployment) string { return templateHash(&d.Spec.Template) }

func templateHash(t *corev1.PodTemplateSpec) string {
	clean := t.DeepCopy()
	delete(clean.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	b, _ := yaml.Marshal(clean)
	h := fnv.New32a()
	_, _ = h.Write(b)
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// SameTemplate reports whether two templates are equal without the hash.
func SameTemplate(a, b *corev1.PodTemplateSpec) bool {
	return templateHash(a) == templateHash(b) && equality.Semantic.DeepEqual(a.Spec, b.Spec)
}

func withHash(labels map[string]string, hash string) map[string]string {
	out := map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: hash}
	for k, v := range labels {
		out[k] = v
	}
	return out
}

func mustQty(s string) resource.Quantity { return resource.MustParse(s) }
