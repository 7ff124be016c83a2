package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InstanceSpec is the desired ChatCLI server deployment and its watcher.
// +kubebuilder:validation:XValidation:rule="!has(self.aiops) || !has(self.aiops.analysisMode) || self.aiops.analysisMode != 'server' || (has(self.server) && has(self.server.tls) && has(self.server.tls.enabled) && self.server.tls.enabled)",message="aiops.analysisMode server needs server.tls.enabled: the analyzer never sends incident data or the server token in clear text"
type InstanceSpec struct {
	// provider is the LLM provider the server talks to.
	// +required
	Provider Provider `json:"provider"`

	// model overrides the provider's default model.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Model string `json:"model,omitempty"`

	// maxTokens bounds each answer the platform's analyzer asks of the
	// provider for incidents of this Instance's namespace (analyses,
	// agentic steps, summaries). Unset, the analyzer's --llm-max-tokens
	// (4096) applies. The analyzer reads it from the first Instance of the
	// namespace (by name) whose provider is the one it calls.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	MaxTokens *int32 `json:"maxTokens,omitempty"`

	// temperature is the sampling temperature the platform's analyzer
	// sends the provider, as maxTokens. Unset, the analyzer's
	// --llm-temperature applies, and without it the provider's default.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2
	// +optional
	Temperature *float64 `json:"temperature,omitempty"`

	// providerTimeout bounds each call the platform's analyzer makes to
	// the provider, as maxTokens, as a Go duration from 1s to 10m. Unset,
	// the analyzer's --provider-timeout (60s) applies; its
	// --analysis-timeout still bounds a whole analysis.
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('10m')",message="providerTimeout must be between 1s and 10m"
	// +kubebuilder:validation:Type=string
	// +optional
	ProviderTimeout *metav1.Duration `json:"providerTimeout,omitempty"`

	// replicas of the server. More than one makes the Service headless, so
	// that gRPC clients balance across pods.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=50
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// apiKeys names the Secret whose keys become provider credentials.
	// +optional
	APIKeys *LocalObjectReference `json:"apiKeys,omitempty"`

	// image of the server container.
	// +optional
	Image ImageSpec `json:"image,omitempty"`

	// resources of the server container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// persistence of server sessions on a PVC.
	// +optional
	Persistence *PersistenceSpec `json:"persistence,omitempty"`

	// extraEnv is added to the server container.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +optional
	ExtraEnv []corev1.EnvVar `json:"extraEnv,omitempty"`

	// server configures the gRPC endpoint.
	// +optional
	Server ServerSpec `json:"server,omitempty"`

	// watcher configures which workloads the server watches.
	// +optional
	Watcher *WatcherSpec `json:"watcher,omitempty"`

	// agents mounts agent and skill files from ConfigMaps.
	// +optional
	Agents *AgentsSpec `json:"agents,omitempty"`

	// plugins provides plugin binaries from an image or a PVC.
	// +optional
	Plugins *PluginsSpec `json:"plugins,omitempty"`

	// aiops tunes the platform's pipeline for signals of this Instance.
	// +optional
	AIOps *AIOpsSpec `json:"aiops,omitempty"`
}

// ImageSpec is a container image.
type ImageSpec struct {
	// repository of the image.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Repository string `json:"repository,omitempty"`

	// tag of the image. Pin it; "latest" is refused.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self != 'latest'",message="pin the image tag; latest is not allowed"
	// +optional
	Tag string `json:"tag,omitempty"`

	// pullPolicy of the image.
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +optional
	PullPolicy corev1.PullPolicy `json:"pullPolicy,omitempty"`
}

// PersistenceSpec keeps server sessions on a PVC named <instance>-sessions.
type PersistenceSpec struct {
	// enabled creates the PVC.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// size of the PVC.
	// +kubebuilder:default="1Gi"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// storageClassName of the PVC; empty uses the cluster default.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName string `json:"storageClassName,omitempty"`
}

// ServerSpec configures the gRPC server of an Instance.
type ServerSpec struct {
	// port of the gRPC server.
	// +kubebuilder:default=50051
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`

	// tls of the gRPC server.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// token names the Secret key that holds the bearer token clients send.
	// The watcher-bridge sends it when it polls the server, and reads it
	// only from a Secret the Instance owns or that carries the label
	// platform.chatcli.io/instance=<instance name>.
	// +optional
	Token *TokenSecretReference `json:"token,omitempty"`

	// security hardens the server.
	// +optional
	Security *ServerSecuritySpec `json:"security,omitempty"`
}

// TLSSpec enables TLS from a Secret with tls.crt, tls.key and optionally ca.crt.
// +kubebuilder:validation:XValidation:rule="!has(self.enabled) || !self.enabled || (has(self.secretName) && size(self.secretName) > 0)",message="secretName is required when tls is enabled"
type TLSSpec struct {
	// enabled turns TLS on.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// secretName of the TLS Secret. The watcher-bridge reads its ca.crt only
	// when the Instance owns the Secret or it carries the label
	// platform.chatcli.io/instance=<instance name>.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SecretName string `json:"secretName,omitempty"`
}

// ServerSecuritySpec limits and binds the gRPC server.
// +kubebuilder:validation:XValidation:rule="!has(self.rateLimitRps) || !has(self.rateLimitBurst) || self.rateLimitBurst >= self.rateLimitRps",message="rateLimitBurst must be at least rateLimitRps"
type ServerSecuritySpec struct {
	// rateLimitRps is the sustained request rate per client.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	// +optional
	RateLimitRPS *int32 `json:"rateLimitRps,omitempty"`

	// rateLimitBurst is the burst allowed above the rate.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	// +optional
	RateLimitBurst *int32 `json:"rateLimitBurst,omitempty"`

	// bindAddress the server listens on.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	BindAddress string `json:"bindAddress,omitempty"`

	// jwtSecretRef names the Secret key used to sign and check JWTs.
	// +optional
	JWTSecretRef *SecretKeyReference `json:"jwtSecretRef,omitempty"`
}

// WatcherSpec chooses the workloads whose faults become Anomalies.
type WatcherSpec struct {
	// enabled turns the watcher on.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// interval between polls of the server's alerts, as a Go duration.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Interval string `json:"interval,omitempty"`

	// targets are the watched workloads, one entry per namespace, name and
	// kind. kind defaults to Deployment, so the seed's entries without a
	// kind are keyed as Deployments.
	// +listType=map
	// +listMapKey=namespace
	// +listMapKey=name
	// +listMapKey=kind
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Targets []WatchTarget `json:"targets,omitempty"`
}

// WatchTarget is one watched workload.
type WatchTarget struct {
	// name of the workload.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the workload.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// kind of the workload.
	// +kubebuilder:default=Deployment
	// +optional
	Kind WorkloadKind `json:"kind,omitempty"`

	// metricsPort is scraped for the workload's metrics.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	MetricsPort int32 `json:"metricsPort,omitempty"`
}

// AgentsSpec mounts agent and skill Markdown files.
type AgentsSpec struct {
	// configMapRef names the ConfigMap with agent .md files.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ConfigMapRef string `json:"configMapRef,omitempty"`

	// skillsConfigMapRef names the ConfigMap with skill .md files.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SkillsConfigMapRef string `json:"skillsConfigMapRef,omitempty"`
}

// PluginsSpec provides plugin binaries from an init-container image or a PVC.
// +kubebuilder:validation:XValidation:rule="!(has(self.image) && has(self.pvcName))",message="set either image or pvcName, not both"
type PluginsSpec struct {
	// image of an init container that copies plugin binaries.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// pvcName of an existing PVC holding plugin binaries.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	PVCName string `json:"pvcName,omitempty"`
}

// AIOpsSpec tunes the pipeline for the signals of one Instance.
type AIOpsSpec struct {
	// dedupTTLMinutes is how long a seen signal stays deduplicated.
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=1440
	// +optional
	DedupTTLMinutes *int32 `json:"dedupTTLMinutes,omitempty"`

	// remediationMode is how the remediator runs the plans of this
	// Instance's namespace and of its watcher targets' namespaces: live
	// (the default), or dry-run, where each action runs as a server-side
	// dry-run, its diff is recorded in the plan, and the plan waits for a
	// person's approval before anything changes.
	// +optional
	RemediationMode RemediationMode `json:"remediationMode,omitempty"`

	// analysisMode is who analyses the incidents of this Instance's
	// namespace when the correlator picked this Instance for them (the
	// first Ready Instance of the namespace, by name): analyzer (the
	// default), where the platform's analyzer asks spec.provider itself,
	// or server, where it calls this Instance's ChatCLI server's
	// chatcli.v1 AnalyzeIssue, as the seed's operator does, over TLS (so
	// server.tls.enabled is required) with the server token. The analyzer
	// still builds and scrubs the context, and still parses and checks
	// the answer; a server that fails or answers badly is treated as a
	// failing provider.
	// +optional
	AnalysisMode AnalysisMode `json:"analysisMode,omitempty"`
}

// AnalysisMode is who analyses an Instance's incidents.
// +kubebuilder:validation:Enum=analyzer;server
type AnalysisMode string

const (
	// AnalysisModeAnalyzer: the platform's analyzer calls the provider.
	AnalysisModeAnalyzer AnalysisMode = "analyzer"
	// AnalysisModeServer: the analyzer calls the Instance's ChatCLI
	// server's chatcli.v1 AnalyzeIssue.
	AnalysisModeServer AnalysisMode = "server"
)

// RemediationMode is how plans run.
// +kubebuilder:validation:Enum=live;dry-run
type RemediationMode string

const (
	// RemediationModeLive executes plans.
	RemediationModeLive RemediationMode = "live"
	// RemediationModeDryRun records each action's diff and waits for an
	// approval.
	RemediationModeDryRun RemediationMode = "dry-run"
)

// InstanceStatus is the observed state of an Instance.
type InstanceStatus struct {
	// conditions of the Instance; Ready is the summary.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// ready mirrors the Ready condition: every desired server pod is
	// updated, available and ready. The watcher-bridge and the correlator
	// read the condition.
	// +optional
	Ready bool `json:"ready"`

	// replicas is the number of server pods.
	// +optional
	Replicas int32 `json:"replicas"`

	// readyReplicas is the number of ready server pods.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`

	// endpoint is the dns:/// gRPC target of the server.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
}

// Instance is a ChatCLI server with its Deployment, Service, RBAC and PVC.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=inst,categories=chatcli
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Instance struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired server and watcher.
	// +required
	Spec InstanceSpec `json:"spec"`

	// status is the observed server.
	// +optional
	Status InstanceStatus `json:"status,omitempty"`
}

// InstanceList is a list of Instances.
//
// +kubebuilder:object:root=true
type InstanceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Instance `json:"items"`
}

func init() {
	register(&Instance{}, &InstanceList{})
}
