package v1alpha1

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnomalyResourceKinds are the kinds an Anomaly may be about: the workloads
// and objects the platform can act on, and the kinds the watcher-bridge
// attributes signals to today. The CRD refuses any other kind, with the
// same list in a CEL rule on spec.resource; TestAnomalyKindsMatchTheCRD
// keeps the two equal.
//
//   - Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod: the
//     workloads of the action catalogue (a Pod's signal is normally moved
//     to its top owner, but a Pod without a known owner stays a Pod).
//   - Node, PersistentVolumeClaim, HorizontalPodAutoscaler, Ingress: the
//     other objects of the catalogue (CordonNode, ResizePVC, AdjustHPA,
//     UpdateIngress).
//   - PersistentVolume and Service: the watcher-bridge accepts signals
//     about them from Alertmanager and IngestSignals callers.
//   - Rollout: the top owner of the pods of an Argo Rollout, and the scale
//     target of its HPA, as the watcher-bridge attributes them.
//   - Secret (v1, a kubernetes.io/tls Secret) and Certificate
//     (cert-manager.io/v1): certificate_expiring.
//   - HelmRelease: helm_release_failed, about a Helm release by its name.
//     It is no API object: apiVersion is empty, and uid is that of the
//     Secret of the release's latest revision
//     (sh.helm.release.v1.<name>.v<N>), so each failed revision is a fact
//     of its own. HelmRollback acts on it.
//   - Application (argoproj.io/v1alpha1): argocd_degraded and
//     config_drift. ArgoSyncApp acts on it.
var AnomalyResourceKinds = []string{
	"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod",
	"Node", "PersistentVolumeClaim", "HorizontalPodAutoscaler", "Ingress",
	"PersistentVolume", "Service", "Rollout",
	"Secret", "Certificate", "HelmRelease", "Application",
}

// IsAnomalyResourceKind reports whether an Anomaly may be about an object of
// the kind. An owner walk should stop below an owner whose kind is not one
// of these, so that the Anomaly names the last object the platform knows.
func IsAnomalyResourceKind(kind string) bool { return slices.Contains(AnomalyResourceKinds, kind) }

// AnomalySpec is one detected signal. It is a fact, so it never changes
// after creation.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable"
type AnomalySpec struct {
	// signalType is the kind of problem.
	// +required
	SignalType SignalType `json:"signalType"`

	// source is where the signal came from.
	// +required
	Source Source `json:"source"`

	// severity as the source reported it.
	// +required
	Severity SignalSeverity `json:"severity"`

	// resource the signal is about, attributed to its top owner. Its uid,
	// where known, tells this object from a recreated one of the same
	// name, and is part of the dedup key.
	// +required
	// +kubebuilder:validation:XValidation:rule="self.kind in ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod', 'Node', 'PersistentVolumeClaim', 'HorizontalPodAutoscaler', 'Ingress', 'PersistentVolume', 'Service', 'Rollout', 'Secret', 'Certificate', 'HelmRelease', 'Application']",message="kind is not one the platform watches: Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod, Node, PersistentVolumeClaim, HorizontalPodAutoscaler, Ingress, PersistentVolume, Service, Rollout, Secret, Certificate, HelmRelease or Application"
	Resource ResourceReference `json:"resource"`

	// description is a human sentence about the signal.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Description string `json:"description,omitempty"`

	// detectedAt is when the signal was seen.
	// +required
	DetectedAt metav1.Time `json:"detectedAt"`

	// value measured, where known, for example "8" restarts.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Value string `json:"value,omitempty"`

	// threshold the value crossed, where known.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Threshold string `json:"threshold,omitempty"`

	// evidence are the symptoms the watcher-bridge saw with this signal,
	// its cause, on the same container in the same look at a pod (a crash
	// loop and a burst of restarts after an OOM kill), and folded into
	// this Anomaly instead of raising one each. Like the rest of the spec
	// it is written once: a symptom that first shows after the Anomaly
	// exists is a duplicate of the open incident. Signals from
	// Alertmanager and IngestSignals carry none.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Evidence []AnomalyEvidence `json:"evidence,omitempty"`
}

// AnomalyEvidence is one symptom folded into the Anomaly of its cause.
type AnomalyEvidence struct {
	// signalType of the symptom.
	// +required
	SignalType SignalType `json:"signalType"`

	// value measured, where known, for example "4" restarts.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Value string `json:"value,omitempty"`

	// message is the symptom's description, shortened.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// AnomalyStatus is written by the correlator.
type AnomalyStatus struct {
	// conditions of the Anomaly.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// correlated is true once the anomaly belongs to an Issue.
	// +optional
	Correlated bool `json:"correlated,omitempty"`

	// issueRef names the Issue the anomaly belongs to.
	// +optional
	IssueRef *LocalObjectReference `json:"issueRef,omitempty"`

	// correlatedAt is when the anomaly joined its Issue.
	// +optional
	CorrelatedAt *metav1.Time `json:"correlatedAt,omitempty"`
}

// Anomaly is a raw signal about a workload, created by the watcher-bridge.
//
// Its name is deterministic: it derives from the signal's dedup key and a
// generation (the LabelDedupKey and LabelGeneration labels), so that a
// retried create after a crash or a Redis outage collides (AlreadyExists)
// instead of duplicating the Anomaly.
//
// The recurrence contract between the correlator and the watcher-bridge:
//
//   - The correlator sets the Issue Resolved (status.state) before it calls
//     WatcherService.InvalidateDedup for the Issue's resource.
//   - When the name of a generation is taken, the watcher-bridge looks at
//     the Anomaly that holds it. If that Anomaly was correlated into an
//     Issue (status.issueRef) that is Resolved, or that no longer exists,
//     the Anomaly is a past incident: the signal is a recurrence and gets
//     the name of the next generation. Otherwise (not yet correlated, or
//     its Issue is open or Escalated) the signal is a duplicate of the
//     open incident and no Anomaly is created.
//
// So a signal that arrives between the invalidation and the Issue's
// resolution cannot be taken for a duplicate of an incident that is over,
// and an escalated incident, which people own, never restarts analysis.
//
// The deleted-resource contract: spec.resource.uid names the object the
// signal was about. When that object is deleted (or recreated under the
// same name, with a new uid), the correlator ends the Issues of the old
// uid with a resolution that says the resource was deleted, and never
// plans a remediation for them; the watcher-bridge raises nothing about
// objects being deleted, nor about pods whose owners are gone.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=anom,categories=chatcli
// +kubebuilder:printcolumn:name="Signal",type=string,JSONPath=`.spec.signalType`
// +kubebuilder:printcolumn:name="Severity",type=string,JSONPath=`.spec.severity`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.resource.kind`
// +kubebuilder:printcolumn:name="Resource",type=string,JSONPath=`.spec.resource.name`
// +kubebuilder:printcolumn:name="Issue",type=string,JSONPath=`.status.issueRef.name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Anomaly struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the signal.
	// +required
	Spec AnomalySpec `json:"spec"`

	// status is the correlation of the signal.
	// +optional
	Status AnomalyStatus `json:"status,omitempty"`
}

// AnomalyList is a list of Anomalies.
//
// +kubebuilder:object:root=true
type AnomalyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Anomaly `json:"items"`
}

func init() {
	register(&Anomaly{}, &AnomalyList{})
}
