package ingest

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// TestExternalSignalsNameTheWorkloadAboveThem checks that a signal from
// Prometheus, a ChatCLI server or an IngestSignals caller lands on the
// workload the detectors would name, so that both share one dedup key.
func TestExternalSignalsNameTheWorkloadAboveThem(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "attribution", nil)
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "ledger"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ledger:1.0"}}},
	}
	jobTemplate := *template.DeepCopy()
	jobTemplate.Spec.RestartPolicy = corev1.RestartPolicyNever
	create := func(obj client.Object) client.Object {
		t.Helper()
		obj.SetNamespace(ns)
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		return obj
	}
	owner := func(obj client.Object, apiVersion, kind string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: obj.GetName(), UID: obj.GetUID(), Controller: ptr.To(true)}}
	}
	deploy := create(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "ledger"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: template.Labels}, Template: template}})
	rs := create(&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "ledger-7d9c", OwnerReferences: owner(deploy, "apps/v1", "Deployment")},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: template.Labels}, Template: template}})
	pod := create(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ledger-7d9c-x2k4p", OwnerReferences: owner(rs, "apps/v1", "ReplicaSet")}, Spec: template.Spec})
	cron := create(&batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: jobTemplate}}}})
	job := create(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nightly-29170320", OwnerReferences: owner(cron, "batch/v1", "CronJob")},
		Spec: batchv1.JobSpec{Template: jobTemplate}})
	hpa := func(name string, target autoscalingv2.CrossVersionObjectReference) {
		create(&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: target, MinReplicas: ptr.To[int32](1), MaxReplicas: 4}})
	}
	hpa("ledger", autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "ledger"})
	hpa("ledger-legacy", autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1beta2", Kind: "Deployment", Name: "ledger"})
	hpa("canary", autoscalingv2.CrossVersionObjectReference{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: "canary"})
	rollout := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "canary"}}

	tests := map[string]struct {
		named platformv1alpha1.ResourceReference
		want  client.Object
		kind  string
	}{
		"PodNamedByPrometheus":         {named: platformv1alpha1.ResourceReference{Kind: "Pod", Name: pod.GetName()}, want: deploy, kind: "Deployment"},
		"PodWithAUIDFromIngestSignals": {named: platformv1alpha1.ResourceReference{Kind: "Pod", Name: pod.GetName(), UID: pod.GetUID()}, want: deploy, kind: "Deployment"},
		"ReplicaSet":                   {named: platformv1alpha1.ResourceReference{Kind: "ReplicaSet", Name: rs.GetName()}, want: deploy, kind: "Deployment"},
		"JobOfACronJob":                {named: platformv1alpha1.ResourceReference{Kind: "Job", Name: job.GetName()}, want: cron, kind: "CronJob"},
		"HPAAtItsMaximum":              {named: platformv1alpha1.ResourceReference{Kind: "HorizontalPodAutoscaler", Name: "ledger"}, want: deploy, kind: "Deployment"},
		"HPANamingAnOldAppsVersion":    {named: platformv1alpha1.ResourceReference{Kind: "HorizontalPodAutoscaler", Name: "ledger-legacy"}, want: deploy, kind: "Deployment"},
		"HPAOfAKindNotServed":          {named: platformv1alpha1.ResourceReference{Kind: "HorizontalPodAutoscaler", Name: "canary"}, want: rollout, kind: "Rollout"},
		"DeploymentStaysItself":        {named: platformv1alpha1.ResourceReference{Kind: "Deployment", Name: "ledger"}, want: deploy, kind: "Deployment"},
	}
	c := newCreator(t, nil)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := restartSignal(ns)
			s.Resource = tc.named
			s.Resource.Namespace = ns
			got, err := c.attribute(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			want := platformv1alpha1.ResourceReference{Kind: tc.kind, Namespace: ns, Name: tc.want.GetName(), UID: tc.want.GetUID()}
			if got.Resource != want {
				t.Errorf("attributed to %+v, want %+v", got.Resource, want)
			}
		})
	}
}
