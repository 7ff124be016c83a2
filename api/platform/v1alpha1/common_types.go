package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the referenced object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SecretKeyReference names one key of a Secret in the same namespace.
type SecretKeyReference struct {
	// name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// TokenSecretReference names the Secret key of a bearer token; the key
// defaults to "token".
type TokenSecretReference struct {
	// name of the Secret.
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
// +kubebuilder:validation:XValidation:rule="self.kind in ['Node', 'PersistentVolume'] || (has(self.__namespace__) && size(self.__namespace__) > 0)",message="namespace is required for namespaced kinds"
type ResourceReference struct {
	// kind of the object, for example Deployment, StatefulSet or Node.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Z][A-Za-z0-9]*$`
	Kind string `json:"kind"`

	// name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the object.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// ActionParams are the string parameters of one remediation action, for
// example replicas: "4". They are parsed and bounded by the action policy.
// +kubebuilder:validation:MaxProperties=32
type ActionParams map[string]string

// SuggestedAction is an action proposed by an analysis or listed in a Runbook.
type SuggestedAction struct {
	// name is a short human label for the action.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Name string `json:"name,omitempty"`

	// action is the catalogue type of the action.
	Action ActionType `json:"action"`

	// description says why the action helps.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Description string `json:"description,omitempty"`

	// params of the action.
	// +optional
	Params ActionParams `json:"params,omitempty"`
}

// TimelineEntry is one stamped event in the life of an incident.
type TimelineEntry struct {
	// timestamp of the event.
	Timestamp metav1.Time `json:"timestamp"`

	// type of the event, for example detected, action_executed or resolved.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Type string `json:"type"`

	// detail is a human sentence about the event.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Detail string `json:"detail,omitempty"`
}
