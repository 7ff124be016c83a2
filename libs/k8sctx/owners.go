package k8sctx

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// maxOwnerDepth bounds the owner walk; real chains are at most three deep
// (Pod, Job, CronJob) and a cycle must not hang detection.
const maxOwnerDepth = 5

// OwnerLookup returns the metadata of one owner, or a NotFound error.
type OwnerLookup func(ctx context.Context, ref metav1.OwnerReference, namespace string) (*metav1.PartialObjectMetadata, error)

// ErrOwnerGone is returned by TopOwner when an owner in the chain does not
// exist or is being deleted.
var ErrOwnerGone = errors.New("an owner in the chain is gone")

// TopOwner attributes an object to the top of its controller chain (Pod →
// ReplicaSet → Deployment, Pod → Job → CronJob, Pod → StatefulSet), so
// that an Anomaly names the workload a remediation acts on.
//
// An owner that is NotFound or being deleted fails the walk with
// ErrOwnerGone: its dependents are on their way out with it (the garbage
// collector removes a Deployment's ReplicaSets, then their pods), and
// naming the last owner still standing would invent a new incident on an
// object about to vanish. Callers drop such a signal. An owner that may
// not be read, or of a version the API server no longer serves, ends the
// walk at that owner. The walk also stops below an owner of a kind an
// Anomaly may not name (an Argo Workflow, say), so the attribution is the
// last object the platform knows.
func TopOwner(ctx context.Context, self platformv1alpha1.ResourceReference, refs []metav1.OwnerReference, lookup OwnerLookup) (platformv1alpha1.ResourceReference, error) {
	current := self
	for range maxOwnerDepth {
		ref := controllerRef(refs)
		// Static pods are "owned" by their Node, which is not a workload a
		// remediation could act on.
		if ref == nil || ref.Kind == KindNode || !walkable(*ref) {
			return current, nil
		}
		owner := platformv1alpha1.ResourceReference{Kind: ref.Kind, Namespace: self.Namespace, Name: ref.Name, UID: ref.UID}
		meta, err := lookup(ctx, *ref, self.Namespace)
		switch {
		case err == nil && meta.DeletionTimestamp != nil:
			return current, fmt.Errorf("%s %s/%s is being deleted: %w", ref.Kind, self.Namespace, ref.Name, ErrOwnerGone)
		case err == nil:
			// A reference built from a name alone (an HPA's scale target)
			// has no UID; the owner's own metadata does.
			if owner.UID == "" {
				owner.UID = meta.UID
			}
			current, refs = owner, meta.OwnerReferences
		case apierrors.IsNotFound(err):
			return current, fmt.Errorf("%s %s/%s: %w", ref.Kind, self.Namespace, ref.Name, ErrOwnerGone)
		case apierrors.IsForbidden(err) || apimeta.IsNoMatchError(err):
			// The owner exists as far as we know, so it is still the best
			// attribution even when we cannot look further up (it is not
			// ours to read, or of a version or kind the API server no
			// longer serves, like an HPA's apps/v1beta2 target).
			return owner, nil
		default:
			return current, fmt.Errorf("look up %s %s/%s: %w", ref.Kind, self.Namespace, ref.Name, err)
		}
	}
	return current, nil
}

// walkable reports an owner the walk may move to: of a kind an Anomaly may
// name, and of the API group the platform knows that kind in. A kind name
// alone is not enough: a KubeVela Application (core.oam.dev) is not Argo
// CD's, and naming it would send ArgoSyncApp after it. A reference
// without an apiVersion (built by a test, or from a name alone) is taken
// at its kind; a kind without an API version (HelmRelease) owns nothing.
func walkable(ref metav1.OwnerReference) bool {
	if !platformv1alpha1.IsAnomalyResourceKind(ref.Kind) {
		return false
	}
	known, ok := apiVersions[ref.Kind]
	if !ok {
		return false
	}
	if ref.APIVersion == "" {
		return true
	}
	got, err := schema.ParseGroupVersion(ref.APIVersion)
	want, _ := schema.ParseGroupVersion(known)
	return err == nil && got.Group == want.Group
}

// controllerRef returns the managing owner, or the only owner when none is
// marked as controller.
func controllerRef(refs []metav1.OwnerReference) *metav1.OwnerReference {
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			return &refs[i]
		}
	}
	if len(refs) == 1 {
		return &refs[0]
	}
	return nil
}

// ReaderLookup looks owners up through a reader of object metadata, for
// signals that arrive from outside the informers (Alertmanager, gRPC) and
// for owners the informers do not hold.
func ReaderLookup(reader client.Reader) OwnerLookup {
	return func(ctx context.Context, ref metav1.OwnerReference, namespace string) (*metav1.PartialObjectMetadata, error) {
		meta := &metav1.PartialObjectMetadata{}
		meta.APIVersion, meta.Kind = ref.APIVersion, ref.Kind
		if err := reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, meta); err != nil {
			return nil, err
		}
		return meta, nil
	}
}
