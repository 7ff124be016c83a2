package actions

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func TestStandsFor(t *testing.T) {
	job := platformv1alpha1.ResourceReference{Kind: KindJob, Namespace: "ns", Name: "nightly", UID: "a"}
	deployment := platformv1alpha1.ResourceReference{Kind: KindDeployment, Namespace: "ns", Name: "api", UID: "a"}
	obj := func(uid string, annotations map[string]string) metav1.Object {
		return &metav1.ObjectMeta{UID: types.UID(uid), Annotations: annotations}
	}
	rerun := map[string]string{AnnotationRetryKey: "p1/0", AnnotationRetryOf: "a"}
	for name, tc := range map[string]struct {
		reason string
		obj    metav1.Object
		target platformv1alpha1.ResourceReference
		plan   types.UID
		want   bool
	}{
		"SameUID":                 {"the object the plan resolved", obj("a", nil), job, "p1", true},
		"NoUIDToCompare":          {"a target named without a uid", obj("b", nil), platformv1alpha1.ResourceReference{Kind: KindJob, Name: "nightly"}, "", true},
		"ThePlansOwnRetry":        {"the Job this plan's RetryJob created", obj("b", rerun), job, "p1", true},
		"AnotherPlansRetry":       {"another plan planned for the old Job", obj("b", rerun), job, "p2", false},
		"AReRunOutsideAPlan":      {"a later attempt finds the Job an earlier one re-ran", obj("b", rerun), job, "", true},
		"AReRunOfAnotherJob":      {"a re-run of some other Job is not this one", obj("b", map[string]string{AnnotationRetryOf: "z"}), job, "", false},
		"RecreatedByAPerson":      {"a Job recreated by hand carries no mark", obj("b", nil), job, "", false},
		"ADeploymentIsNoJob":      {"only Jobs are re-run", obj("b", rerun), deployment, "p1", false},
		"ADeploymentOutsideAPlan": {"only Jobs are re-run", obj("b", rerun), deployment, "", false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := StandsFor(tc.obj, tc.target, tc.plan); got != tc.want {
				t.Errorf("%s: StandsFor = %t, want %t", tc.reason, got, tc.want)
			}
		})
	}
}
