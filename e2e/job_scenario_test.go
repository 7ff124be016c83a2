package e2e

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/e2e/scenario"
)

// kubeletLabel marks pods whose end the test writes, as a kubelet would
// report it; kwok only runs them (stages/pod-complete.yaml).
const kubeletLabel = "e2e.chatcli.io/kubelet"

// TestAFailedJobIsRetried is scenario 5: a Job's only pod fails once (the
// test reports exit 1, as the kubelet would after a transient error), so
// the Job fails with its backoff limit spent. RetryJob re-runs it from its
// template under the same name; the new run succeeds, verification sees
// the Job Complete, and the Issue is Resolved with a PostMortem.
func TestAFailedJobIsRetried(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const app = "nightly-report"
	ns := newNamespace(t, "job")
	tracker := scenario.NewTracker(watchful, ns)
	go tracker.Run(ctx)
	tracker.TrackKind(app, "Job")
	labels := map[string]string{kubeletLabel: "test", "app": app}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
					Name: "report", Image: "example/report:1",
				}}},
			},
		},
	}
	if err := env.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	first := job.UID

	// The first run's pod exits 1; every later run's pod succeeds.
	kubelet := func(ctx context.Context) {
		for ctx.Err() == nil {
			pods := &corev1.PodList{}
			if env.Client.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{kubeletLabel: "test"}) == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					owner := metav1.GetControllerOf(p)
					if owner == nil || p.Status.Phase != corev1.PodRunning || !p.DeletionTimestamp.IsZero() {
						continue
					}
					exit, reason, phase := int32(0), "Completed", corev1.PodSucceeded
					if owner.UID == first {
						exit, reason, phase = 1, "Error", corev1.PodFailed
					}
					endPod(ctx, p, phase, exit, reason)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	kubeletCtx, stopKubelet := context.WithCancel(ctx)
	defer stopKubelet()
	go kubelet(kubeletCtx)

	inc, ok := tracker.Wait(ctx, app, time.Minute, 0, func(i *scenario.Incident) bool { return i.Issue != nil })
	if !ok {
		t.Fatalf("no Issue for the failed Job: %s", describe(&inc))
	}
	if inc.Issue.Spec.SignalType != platformv1alpha1.SignalJobFailed {
		t.Errorf("Issue %s names %s, want job_failed", inc.Issue.Name, inc.Issue.Spec.SignalType)
	}
	inc, ok = tracker.Wait(ctx, app, 3*time.Minute, 45*time.Second, func(i *scenario.Incident) bool { return i.State().IsTerminal() })
	if !ok || inc.State() != platformv1alpha1.IssueResolved {
		loopMissing(t, "the failed Job's Issue did not resolve: "+describe(&inc))
	}
	t.Logf("%s", describe(&inc))
	for _, p := range inc.Plans {
		if v := p.Status.Verification; v != nil {
			t.Logf("plan %s verification: %s %+v", p.Name, v.Message, v.Checks)
		}
	}
	if !healedBy(&inc, platformv1alpha1.ActionRetryJob) {
		t.Errorf("no Completed plan ran RetryJob: %s", describe(&inc))
	}
	now := &batchv1.Job{}
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: app}, now); err != nil {
		t.Fatal(err)
	}
	if now.UID == first {
		t.Errorf("Job %s is still the first run (uid %s)", app, first)
	}
	complete := false
	for _, c := range now.Status.Conditions {
		complete = complete || c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue
	}
	if !complete {
		t.Errorf("the re-run Job is not Complete: %+v", now.Status)
	}
	for _, p := range inc.Plans {
		runs := 0
		for _, r := range p.Status.ActionResults {
			if r.Type == platformv1alpha1.ActionRetryJob && r.Result == platformv1alpha1.ActionSucceeded {
				runs++
			}
		}
		if runs > 1 {
			t.Errorf("plan %s ran RetryJob %d times", p.Name, runs)
		}
	}
	if _, ok := tracker.Wait(ctx, app, time.Minute, 0, func(i *scenario.Incident) bool { return i.PostMortem != nil && i.PostMortem.Status.GeneratedAt != nil }); !ok {
		loopMissing(t, "no PostMortem for the Job's Issue "+inc.Issue.Name)
	}
}

// endPod writes a pod's end as the kubelet reports it: the container
// terminated with exit, and the pod's phase.
func endPod(ctx context.Context, p *corev1.Pod, phase corev1.PodPhase, exit int32, reason string) {
	now := metav1.Now()
	p.Status.Phase = phase
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now, Reason: "PodCompleted"}}
	p.Status.ContainerStatuses = nil
	for _, c := range p.Spec.Containers {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Ready: false, Started: ptr.To(false),
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Reason: reason, StartedAt: now, FinishedAt: now}},
		})
	}
	_ = env.Client.Status().Update(ctx, p)
}
