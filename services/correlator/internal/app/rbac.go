package app

// The correlator's permissions. `make generate` turns these markers into
// charts/chatcli-aiops/files/rbac/correlator.yaml, and its tests run under
// exactly that role. The "platform" namespace stands for the release
// namespace.
//
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=anomalies,verbs=get;list;watch;patch;delete
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=anomalies/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=issues,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=issues/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=aiinsights,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=instances;remediationplans;runbooks,verbs=get;list;watch
// The owner reference of a retired Issue's PostMortem is released (issue.retire).
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=postmortems,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// /metrics authenticates and authorizes its callers through the API server.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=platform,resources=leases,verbs=get;create;update
// The incident REST API reads its API keys from one Secret of the platform
// namespace, by name, uncached (periodic get).
// +kubebuilder:rbac:groups="",namespace=platform,resources=secrets,resourceNames=chatcli-operator-secrets,verbs=get
