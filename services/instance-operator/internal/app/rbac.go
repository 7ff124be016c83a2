package app

// The permissions of the instance-operator. `hack/rbac.sh instance-operator`
// turns these markers into charts/chatcli-aiops/files/rbac/instance-operator.yaml,
// and the tests run the reconciler under exactly that role. The "platform"
// namespace stands for the release namespace, "instances" for each of the
// chart's rbac.instanceNamespaces: everything an Instance owns is written
// only there.
//
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=instances,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=instances/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.chatcli.io,resources=instances/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
//
// The footprint of an Instance, in its namespace. Deployments are the one
// workload written: each is an Instance's own ChatCLI server.
// +kubebuilder:rbac:groups=apps,namespace=instances,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",namespace=instances,resources=services;configmaps;serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// The sessions PVC is created once and never deleted by the operator.
// +kubebuilder:rbac:groups="",namespace=instances,resources=persistentvolumeclaims,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,namespace=instances,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete
// Referenced Secrets are read one at a time; list and watch feed the
// metadata-only informer of labelled ones (a change rolls the pods).
// +kubebuilder:rbac:groups="",namespace=instances,resources=secrets,verbs=get;list;watch
//
// A Role grants nothing its creator lacks (no escalate here), so the
// operator holds the watcher's read-only rules in the Instance namespaces.
// +kubebuilder:rbac:groups="",namespace=instances,resources=pods;pods/log;events;endpoints,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,namespace=instances,resources=statefulsets;daemonsets;replicasets,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,namespace=instances,resources=jobs;cronjobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=autoscaling,namespace=instances,resources=horizontalpodautoscalers,verbs=get;list;watch
//
// A watcher with targets in other namespaces gets a ClusterRoleBinding to
// the chart's read-only ClusterRole: bind on exactly that one ("instance-watcher"
// stands for <release>-instance-watcher), never escalate, never ClusterRoles.
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterrolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=instance-watcher
//
// /metrics authenticates and authorizes its callers through the API server.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=platform,resources=leases,verbs=get;create;update
