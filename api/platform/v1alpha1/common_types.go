package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the referenced object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SecretKeyReference names one key of a Secret in the same namespace.
type SecretKeyReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// TokenSecretReference names the Secret key of a bearer token; the key
// defaults to "token".
type TokenSecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret.
	// +kubebuilder:default=token
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Key string `json:"key,omitempty"`
}

// ResourceReference names the Kubernetes object a signal, incident or
// remediation is about. Namespace is empty only for cluster-scoped kinds.
//
// The remediator acts only on the object that was diagnosed: when uid is
// set, an object of the same kind and name but another uid is a recreated
// object, not the one the incident is about, and no action runs on it.
// +kubebuilder:validation:XValidation:rule="self.kind in ['Node', 'PersistentVolume'] || (has(self.__namespace__) && size(self.__namespace__) > 0)",message="namespace is required for namespaced kinds"
type ResourceReference struct {
	// apiVersion of the object, for example apps/v1. Empty means the
	// version the platform uses for the kind.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+((alpha|beta)[0-9]+)?$`
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// kind of the object, for example Deployment, StatefulSet or Node.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Z][A-Za-z0-9]*$`
	Kind string `json:"kind"`

	// name of the object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the object.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// uid of the object, which tells a recreated object from its
	// predecessor of the same name. It is empty when the source did not
	// know it (an Alertmanager label names an object, not its uid).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Type=string
	// +optional
	UID types.UID `json:"uid,omitempty"`
}

// Bounds of ActionParams, mirrored by the CEL rules on the type.
const (
	// MaxActionParams is the number of params one action may have.
	MaxActionParams = 32
	// MaxActionParamNameLength bounds a param name.
	MaxActionParamNameLength = 63
	// MaxActionParamValueLength bounds a param value. It leaves room for
	// the manifest of ApplyManifest and the template of
	// ReplaceCronJobTemplate.
	MaxActionParamValueLength = 8192
)

// ActionParams are the string parameters of one remediation action, for
// example replicas: "4". They are parsed and bounded by the action policy.
// +kubebuilder:validation:MaxProperties=32
// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 63 && k.matches('^[A-Za-z0-9][A-Za-z0-9_.-]*$'))",message="param names are 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit"
// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 8192)",message="param values are at most 8192 characters"
type ActionParams map[string]string

// SuggestedAction is an action proposed by an analysis or listed in a Runbook.
type SuggestedAction struct {
	// name is a short human label for the action.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Name string `json:"name,omitempty"`

	// action is the catalogue type of the action.
	// +required
	Action ActionType `json:"action"`

	// description says why the action helps.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Description string `json:"description,omitempty"`

	// params of the action.
	// +optional
	Params ActionParams `json:"params,omitempty"`
}

// TimelineEntry is one stamped event in the life of an incident. An entry
// for a state transition of an Issue names both states.
// +kubebuilder:validation:XValidation:rule="has(self.fromState) == has(self.toState)",message="fromState and toState are set together"
type TimelineEntry struct {
	// timestamp of the event.
	// +required
	Timestamp metav1.Time `json:"timestamp"`

	// type of the event, for example detected, action_executed or resolved.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Type string `json:"type"`

	// detail is a human sentence about the event.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Detail string `json:"detail,omitempty"`

	// fromState is the Issue state the transition left.
	// +optional
	FromState IssueState `json:"fromState,omitempty"`

	// toState is the Issue state the transition entered.
	// +optional
	ToState IssueState `json:"toState,omitempty"`

	// attempt is the remediation attempt the event belongs to.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +optional
	Attempt int32 `json:"attempt,omitempty"`

	// object is the name of the object the event is about, for example
	// the AIInsight or RemediationPlan of the attempt, in the namespace of
	// the incident.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Object string `json:"object,omitempty"`
}

// String is kind/namespace/name, the form used in Redis keys and logs.
func (r ResourceReference) String() string { return r.Kind + "/" + r.Namespace + "/" + r.Name }
