// Package k8sctx is how the platform sees Kubernetes objects: the scheme
// every service and test uses, the names of the kinds it knows, and the
// walk from a Pod or ReplicaSet up to the workload that owns it.
package k8sctx

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// NewScheme knows the core kinds and the platform kinds.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(platformv1alpha1.AddToScheme(s))
	return s
}
