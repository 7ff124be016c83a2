package k8sctx

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func TestTopOwner(t *testing.T) {
	controller := true
	ref := func(kind, name, uid string) metav1.OwnerReference {
		return metav1.OwnerReference{Kind: kind, Name: name, UID: types.UID(uid), Controller: &controller}
	}
	// owners is the cluster the lookup sees: kind/name → that object's owners.
	owners := map[string][]metav1.OwnerReference{
		"ReplicaSet/api-7d9c": {ref(KindDeployment, "api", "d1")},
		"Deployment/api":      nil,
		"Job/nightly-1":       {ref(KindCronJob, "nightly", "c1")},
		"CronJob/nightly":     nil,
		"ReplicaSet/old-5f6":  {ref(KindDeployment, "old", "d2")},
	}
	// deleting are the objects with a deletionTimestamp.
	deleting := map[string]bool{"Deployment/leaving": true}
	lookup := func(_ context.Context, r metav1.OwnerReference, _ string) (*metav1.PartialObjectMetadata, error) {
		refs, ok := owners[r.Kind+"/"+r.Name]
		if !ok {
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: r.Kind}, r.Name)
		}
		if deleting[r.Kind+"/"+r.Name] {
			return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{UID: r.UID, DeletionTimestamp: &metav1.Time{}}}, nil
		}
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{UID: r.UID, OwnerReferences: refs}}, nil
	}
	pod := platformv1alpha1.ResourceReference{Kind: KindPod, Namespace: "prod", Name: "p", UID: "p1"}
	tests := map[string]struct {
		reason  string
		refs    []metav1.OwnerReference
		want    platformv1alpha1.ResourceReference
		wantErr error
	}{
		"Deployment": {
			reason: "a pod of a ReplicaSet belongs to its Deployment",
			refs:   []metav1.OwnerReference{ref(KindReplicaSet, "api-7d9c", "r1")},
			want:   platformv1alpha1.ResourceReference{Kind: KindDeployment, Namespace: "prod", Name: "api", UID: "d1"},
		},
		"CronJob": {
			reason: "a pod of a Job belongs to its CronJob",
			refs:   []metav1.OwnerReference{ref(KindJob, "nightly-1", "j1")},
			want:   platformv1alpha1.ResourceReference{Kind: KindCronJob, Namespace: "prod", Name: "nightly", UID: "c1"},
		},
		"OwnerGone": {
			reason:  "an owner the garbage collector removed takes its dependents with it: no attribution, or a deleted Deployment's pods become an incident of its ReplicaSet",
			refs:    []metav1.OwnerReference{ref(KindReplicaSet, "gone-5f6", "r2")},
			wantErr: ErrOwnerGone,
		},
		"TopOwnerGone": {
			reason:  "a ReplicaSet whose Deployment is gone is on its way out too",
			refs:    []metav1.OwnerReference{ref(KindReplicaSet, "old-5f6", "r3")},
			wantErr: ErrOwnerGone,
		},
		"OwnerBeingDeleted": {
			reason:  "an owner with a deletionTimestamp is as good as gone",
			refs:    []metav1.OwnerReference{ref(KindDeployment, "leaving", "d3")},
			wantErr: ErrOwnerGone,
		},
		"KindOfAnotherGroup": {
			reason: "a KubeVela Application is not Argo CD's: a kind name of the catalogue in another group ends the walk below it",
			refs:   []metav1.OwnerReference{{APIVersion: "core.oam.dev/v1beta1", Kind: KindApplication, Name: "shop", UID: "a1", Controller: &controller}},
			want:   pod,
		},
		"KindOfItsGroup": {
			reason: "a Deployment named with its group and version is walked to",
			refs:   []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: KindDeployment, Name: "api", UID: "d1", Controller: &controller}},
			want:   platformv1alpha1.ResourceReference{Kind: KindDeployment, Namespace: "prod", Name: "api", UID: "d1"},
		},
		"UnknownKind": {
			reason: "an owner of a kind an Anomaly may not name ends the walk below it",
			refs:   []metav1.OwnerReference{ref("Workflow", "etl", "w1")},
			want:   pod,
		},
		"StaticPod": {
			reason: "a static pod's Node is not its workload",
			refs:   []metav1.OwnerReference{ref(KindNode, "node-1", "n1")},
			want:   pod,
		},
		"NoOwner": {reason: "a bare pod is its own workload", want: pod},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := TopOwner(context.Background(), pod, tc.refs, lookup)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("%s: error %v, want %v", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}
