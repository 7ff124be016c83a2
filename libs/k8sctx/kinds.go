package k8sctx

// Names of the kinds the platform detects faults on and acts on.
const (
	KindPod                     = "Pod"
	KindDeployment              = "Deployment"
	KindStatefulSet             = "StatefulSet"
	KindDaemonSet               = "DaemonSet"
	KindReplicaSet              = "ReplicaSet"
	KindJob                     = "Job"
	KindCronJob                 = "CronJob"
	KindPersistentVolumeClaim   = "PersistentVolumeClaim"
	KindHorizontalPodAutoscaler = "HorizontalPodAutoscaler"
	KindNode                    = "Node"
	KindService                 = "Service"
	KindIngress                 = "Ingress"
	KindPersistentVolume        = "PersistentVolume"
	KindRollout                 = "Rollout"
	KindSecret                  = "Secret"
	KindCertificate             = "Certificate"
	KindApplication             = "Application"
	// KindHelmRelease is a Helm release by name: no API object, so it has
	// no API version.
	KindHelmRelease = "HelmRelease"
)

// apiVersions are the versions the platform reads each kind at.
var apiVersions = map[string]string{
	KindPod: "v1", KindNode: "v1", KindPersistentVolumeClaim: "v1", KindService: "v1",
	KindDeployment: "apps/v1", KindStatefulSet: "apps/v1", KindDaemonSet: "apps/v1", KindReplicaSet: "apps/v1",
	KindJob: "batch/v1", KindCronJob: "batch/v1", KindHorizontalPodAutoscaler: "autoscaling/v2",
	KindIngress: "networking.k8s.io/v1", KindPersistentVolume: "v1", KindRollout: "argoproj.io/v1alpha1",
	KindSecret: "v1", KindCertificate: "cert-manager.io/v1", KindApplication: "argoproj.io/v1alpha1",
}

// APIVersion is the version the platform reads kind at, and false for a
// kind it cannot look up.
func APIVersion(kind string) (string, bool) {
	v, ok := apiVersions[kind]
	return v, ok
}
