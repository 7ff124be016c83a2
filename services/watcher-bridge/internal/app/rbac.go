package app

// The watcher-bridge's permissions. `make generate` turns these markers into
// charts/chatcli-aiops/files/rbac/watcher-bridge.yaml; its tests run under
// exactly that role, so a missing permission fails a test.
//
// Namespaced rules name placeholder namespaces the chart replaces:
// "platform" is the release namespace (the leader-election Lease), and
// "instances" is every namespace that holds an Instance. Secrets are read
// only there, one by one and uncached, and listed in the "secret-signals"
// namespaces an operator grants: never a cluster-wide Secret permission.
//
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=instances;issues,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=anomalies,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=pods;persistentvolumeclaims;persistentvolumes;nodes;namespaces;services,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch
// ingress_error judges an Ingress by the ready endpoints of its Services.
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// cpu_high and memory_high read PodMetrics, when metrics-server serves them.
// +kubebuilder:rbac:groups=metrics.k8s.io,resources=pods,verbs=get;list
// +kubebuilder:rbac:groups=argoproj.io,resources=rollouts,verbs=get
// certificate_expiring and argocd_degraded/config_drift, while served.
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates,verbs=get;list;watch
// +kubebuilder:rbac:groups=argoproj.io,resources=applications,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets;replicasets,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs;cronjobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// /metrics authenticates and authorizes its callers through the API server.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=platform,resources=leases,verbs=get;create;update
// +kubebuilder:rbac:groups="",namespace=instances,resources=secrets,verbs=get
// TLS Secrets (certificate_expiring) and Helm's release Secrets
// (helm_release_failed), listed only where rbac.secretSignalNamespaces
// grants it: "secret-signals" is each of those namespaces.
// +kubebuilder:rbac:groups="",namespace=secret-signals,resources=secrets,verbs=list;watch
