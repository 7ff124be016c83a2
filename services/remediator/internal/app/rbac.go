package app

// The permissions of the remediator. `hack/rbac.sh remediator` turns these
// markers into charts/chatcli-aiops/files/rbac/remediator.yaml, and the
// tests run the service under exactly that role. The "platform" namespace
// stands for the release namespace.
//
// Its own kinds: it creates plans (ProposePlan) and generated Runbooks,
// annotates plans with approval decisions, and alone writes their status.
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=remediationplans,verbs=get;list;watch;create;patch;update
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=remediationplans/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=runbooks,verbs=get;list;watch;create;patch;update;delete
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=runbooks/status,verbs=get;patch;update
// What it reads to decide. The admission webhook reads only a plan's
// namespace (is it being deleted?), within these rules.
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=issues;aiinsights;instances,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// The Deployment actions: scale, restart, rollback and resources write the
// Deployment; rollback reads its ReplicaSets; DeletePod evicts one pod;
// PatchConfig sets a key of a ConfigMap the Deployment reads.
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods/eviction,verbs=create
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;update;patch
// The Job actions: RetryJob deletes a failed Job (its pods go with it, by
// the garbage collector) and creates it anew; suspend, resume and the
// Adjust actions update its spec. Verification lists the Job's pods (the
// pods rule above) and watches Jobs' metadata to wake the plan.
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete;update;patch
// An agentic step observes its target as the analyzer does (libs/k8sctx):
// the events of the Deployment and its pods, and the failing containers' log
// tails.
// +kubebuilder:rbac:groups="",resources=events,verbs=get;list;create;patch
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// /metrics authenticates and authorizes its callers through the API server.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=platform,resources=leases,verbs=get;create;update
