package app

// The permissions of the analyzer: reading what it reconciles (AIInsights,
// their Issues and Instances), writing AIInsight status only, reading the
// Kubernetes context of an Issue's resource (workloads, their revisions,
// pods and their logs, events, HPAs, nodes and claims), events, its
// leader-election Lease, and one Secret at a time in the instance
// namespaces: the apiKeys Secret an Instance names (read through the API
// server, never listed or cached). `make generate` turns these
// markers into charts/chatcli-aiops/files/rbac/analyzer.yaml, and the
// tests run the reconciler under exactly that role. The "platform"
// namespace stands for the release namespace.
//
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=aiinsights;issues;instances,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=aiinsights/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets;replicasets;controllerrevisions,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs;cronjobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods;nodes;persistentvolumeclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=get;list;watch;create;patch
// /metrics authenticates and authorizes its callers through the API server.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=platform,resources=leases,verbs=get;create;update
// +kubebuilder:rbac:groups="",namespace=instances,resources=secrets,verbs=get
