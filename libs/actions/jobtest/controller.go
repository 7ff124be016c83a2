// Package jobtest plays the Job controller and the kubelet in tests, whose
// API server runs without a controller-manager or nodes: it writes the
// pods and the Job statuses a real run would, within the API server's
// validation of Job status.
package jobtest

import (
	"context"
	"fmt"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// New returns a Job of one container "work", labelled app=name, that
// runs once with a backoff limit of 2.
func New(namespace, name string) *batchv1.Job {
	backoff := int32(2)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"app": name}},
		Spec: batchv1.JobSpec{
			BackoffLimit: &backoff,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name: "work", Image: "registry.example/batch:1",
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
						},
					}},
				},
			},
		},
	}
}

// Run starts n pods of the Job, Running and ready, and records them in
// its status as active, as the Job controller and the kubelet would.
func Run(ctx context.Context, c client.Client, key client.ObjectKey, n int32) error {
	j := &batchv1.Job{}
	if err := c.Get(ctx, key, j); err != nil {
		return err
	}
	for range n {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: j.Namespace, Name: j.Name + "-" + rand.String(5),
				Labels:          j.Spec.Template.Labels,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(j, batchv1.SchemeGroupVersion.WithKind("Job"))},
			},
			Spec: *j.Spec.Template.Spec.DeepCopy(),
		}
		if err := c.Create(ctx, p); err != nil {
			return fmt.Errorf("create pod: %w", err)
		}
		p.Status = corev1.PodStatus{
			Phase:             corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "work", Ready: true, Image: p.Spec.Containers[0].Image}},
		}
		if err := c.Status().Update(ctx, p); err != nil {
			return fmt.Errorf("set pod status: %w", err)
		}
	}
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	j.Status.StartTime = &now
	j.Status.Active, j.Status.Ready = n, &n
	return c.Status().Update(ctx, j)
}

// Fail ends the Job as failed: its pods Failed, one more failed pod
// counted, and the FailureTarget and Failed conditions.
func Fail(ctx context.Context, c client.Client, key client.ObjectKey) error {
	return finish(ctx, c, key, corev1.PodFailed, func(j *batchv1.Job, now metav1.Time) {
		j.Status.Failed++
		j.Status.Conditions = append(j.Status.Conditions,
			condition(batchv1.JobFailureTarget, "BackoffLimitExceeded", now),
			condition(batchv1.JobFailed, "BackoffLimitExceeded", now))
	})
}

// Complete ends the Job as succeeded: its pods Succeeded, its
// completions counted, and the SuccessCriteriaMet and Complete
// conditions with the completion time.
func Complete(ctx context.Context, c client.Client, key client.ObjectKey) error {
	return finish(ctx, c, key, corev1.PodSucceeded, func(j *batchv1.Job, now metav1.Time) {
		completions := int32(1)
		if j.Spec.Completions != nil {
			completions = *j.Spec.Completions
		}
		j.Status.Succeeded = completions
		j.Status.CompletionTime = &now
		j.Status.Conditions = append(j.Status.Conditions,
			condition(batchv1.JobSuccessCriteriaMet, "CompletionsReached", now),
			condition(batchv1.JobComplete, "CompletionsReached", now))
	})
}

// Finishing is the moment between the Job's last pod succeeding and the
// Job controller writing Complete: pods Succeeded and counted, no pod
// active, no condition yet.
func Finishing(ctx context.Context, c client.Client, key client.ObjectKey) error {
	return finish(ctx, c, key, corev1.PodSucceeded, func(j *batchv1.Job, _ metav1.Time) {
		j.Status.Succeeded = ptr.Deref(j.Spec.Completions, 1)
		j.Status.UncountedTerminatedPods = nil // counted now
	})
}

// SucceedPods marks the Job's pods Succeeded and nothing else: the kubelet
// has reported them, the Job controller has not counted them yet.
func SucceedPods(ctx context.Context, c client.Client, key client.ObjectKey) error {
	j := &batchv1.Job{}
	if err := c.Get(ctx, key, j); err != nil {
		return err
	}
	pods, err := podsOf(ctx, c, j)
	if err != nil {
		return err
	}
	for i := range pods {
		pods[i].Status.Phase = corev1.PodSucceeded
		if err := c.Status().Update(ctx, &pods[i]); err != nil {
			return err
		}
	}
	return nil
}

// Uncounted is the Job controller's step between a pod's success and its
// count: out of active, its uid in uncountedTerminatedPods.succeeded. It
// follows SucceedPods.
func Uncounted(ctx context.Context, c client.Client, key client.ObjectKey) error {
	j := &batchv1.Job{}
	if err := c.Get(ctx, key, j); err != nil {
		return err
	}
	pods, err := podsIn(ctx, c, j, corev1.PodSucceeded)
	if err != nil {
		return err
	}
	j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	for _, p := range pods {
		j.Status.UncountedTerminatedPods.Succeeded = append(j.Status.UncountedTerminatedPods.Succeeded, p.UID)
	}
	j.Status.Active, j.Status.Ready = 0, new(int32)
	return c.Status().Update(ctx, j)
}

// FailPod marks one running pod of the Job Failed and counts it, as when
// a pod fails while the Job still has retries left.
func FailPod(ctx context.Context, c client.Client, key client.ObjectKey) error {
	j := &batchv1.Job{}
	if err := c.Get(ctx, key, j); err != nil {
		return err
	}
	pods, err := podsOf(ctx, c, j)
	if err != nil || len(pods) == 0 {
		return fmt.Errorf("job %s has no pod to fail: %v", key.Name, err)
	}
	p := &pods[0]
	p.Status.Phase = corev1.PodFailed
	if err := c.Status().Update(ctx, p); err != nil {
		return err
	}
	j.Status.Failed++
	j.Status.Active = max(j.Status.Active-1, 0)
	j.Status.Ready = &j.Status.Active
	return c.Status().Update(ctx, j)
}

func condition(t batchv1.JobConditionType, reason string, now metav1.Time) batchv1.JobCondition {
	return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: reason, LastProbeTime: now, LastTransitionTime: now}
}

func finish(ctx context.Context, c client.Client, key client.ObjectKey, phase corev1.PodPhase, end func(*batchv1.Job, metav1.Time)) error {
	j := &batchv1.Job{}
	if err := c.Get(ctx, key, j); err != nil {
		return err
	}
	pods, err := podsOf(ctx, c, j)
	if err != nil {
		return err
	}
	for i := range pods {
		pods[i].Status.Phase = phase
		if err := c.Status().Update(ctx, &pods[i]); err != nil {
			return err
		}
	}
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	if j.Status.StartTime == nil {
		j.Status.StartTime = &now
	}
	j.Status.Active, j.Status.Ready = 0, new(int32)
	end(j, now)
	return c.Status().Update(ctx, j)
}

func podsOf(ctx context.Context, c client.Client, j *batchv1.Job) ([]corev1.Pod, error) {
	return podsIn(ctx, c, j, corev1.PodRunning, corev1.PodPending, "")
}

// podsIn lists the Job's pods in one of phases.
func podsIn(ctx context.Context, c client.Client, j *batchv1.Job, phases ...corev1.PodPhase) ([]corev1.Pod, error) {
	list := &corev1.PodList{}
	if err := c.List(ctx, list, client.InNamespace(j.Namespace), client.MatchingLabels{batchv1.ControllerUidLabel: string(j.UID)}); err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if slices.Contains(phases, p.Status.Phase) {
			out = append(out, p)
		}
	}
	return out, nil
}
