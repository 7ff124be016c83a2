package app

// The permissions of the postmortem-writer. `make generate` (or
// `hack/rbac.sh postmortem-writer`) turns these markers into
// charts/chatcli-aiops/files/rbac/postmortem-writer.yaml, and its tests run
// the service under exactly that role. The "platform" namespace stands for
// the release namespace.
//
// It creates PostMortems and writes their status; its gRPC handlers patch
// a PostMortem's review annotations. It reads the records a report is
// rebuilt from, and never writes them.
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=postmortems,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=postmortems/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=issues;anomalies;aiinsights;remediationplans;runbooks,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// The Markdown copies (--markdown-configmaps), applied server-side: no read.
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// /metrics authenticates and authorizes its callers through the API server.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=platform,resources=leases,verbs=get;create;update
