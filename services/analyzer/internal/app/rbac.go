package app

// The permissions of the analyzer so far: reading what it will reconcile, events
// and its leader-election Lease. Each reconciler adds the writes it makes
// when it lands. `make generate` turns these markers into
// charts/chatcli-aiops/files/rbac/analyzer.yaml, and the startup test runs
// the service under exactly that role. The "platform" namespace stands for
// the release namespace.
//
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=aiinsights;issues;instances,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// /metrics authenticates and authorizes its callers through the API server.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=platform,resources=leases,verbs=get;create;update
