// Package v1alpha1 holds the platform.chatcli.io/v1alpha1 API: the seven kinds
// that carry all durable state of the AIOps pipeline.
//
// +kubebuilder:object:generate=true
// +groupName=platform.chatcli.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "platform.chatcli.io", Version: "v1alpha1"}

	// AddToScheme adds the kinds of this package to a runtime.Scheme. The
	// package depends on apimachinery alone, so any client can import it.
	AddToScheme = schemeBuilder.AddToScheme

	schemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// knownTypes are the kinds each *_types.go file registers in init.
	knownTypes []runtime.Object
)

// register records kinds for AddToScheme.
func register(objs ...runtime.Object) { knownTypes = append(knownTypes, objs...) }

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, knownTypes...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
