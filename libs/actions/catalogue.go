// Package actions is the remediation action catalogue shared by the
// remediator and the analyzer: for every action type its target kind, its
// parameters (names, types, bounds), its destructive class and whether the
// executor implements it; typed parsing of params; and the executor of the
// implemented actions, with snapshot, restore and server-side dry-run.
package actions

import (
	"slices"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Class says how much an action can hurt, for the approval policy.
type Class string

const (
	// ClassSafe actions change a spec the controller reconciles back to a
	// working state on its own (scale up, restart, resources).
	ClassSafe Class = "safe"
	// ClassDisruptive actions interrupt running work (delete a pod,
	// cordon a node, change a config) but lose nothing.
	ClassDisruptive Class = "disruptive"
	// ClassDestructive actions can lose data or capacity for good (delete
	// a PVC, drain a node, apply a manifest, scale to 0).
	ClassDestructive Class = "destructive"
)

// ParamType is how a param's string value is parsed.
type ParamType string

const (
	// TypeInt is a decimal integer within [Min, Max].
	TypeInt ParamType = "int"
	// TypeBool is "true" or "false".
	TypeBool ParamType = "bool"
	// TypeQuantity is a Kubernetes resource quantity (512Mi, 250m).
	TypeQuantity ParamType = "quantity"
	// TypeName is a DNS-1123 subdomain naming an object.
	TypeName ParamType = "name"
	// TypeEnum is one of Enum.
	TypeEnum ParamType = "enum"
	// TypeRevision is "previous", "healthy" or a positive revision number.
	TypeRevision ParamType = "revision"
	// TypeDuration is a Go duration (30s, 5m).
	TypeDuration ParamType = "duration"
	// TypeString is free text of at most MaxLen characters.
	TypeString ParamType = "string"
)

// ParamSpec describes one param.
type ParamSpec struct {
	Name        string
	Type        ParamType
	Required    bool
	Description string
	// Min and Max bound a TypeInt.
	Min, Max int64
	// Enum lists the values of a TypeEnum.
	Enum []string
	// MaxLen bounds a TypeString; 0 means MaxActionParamValueLength.
	MaxLen int
}

// Spec describes one action type.
type Spec struct {
	Type        platformv1alpha1.ActionType
	TargetKind  string
	Description string
	Params      []ParamSpec
	Class       Class
	// Implemented is true when the executor can run the action; the
	// policy refuses every other one.
	Implemented bool
}

// Param returns the spec of the named param.
func (s Spec) Param(name string) (ParamSpec, bool) {
	i := slices.IndexFunc(s.Params, func(p ParamSpec) bool { return p.Name == name })
	if i < 0 {
		return ParamSpec{}, false
	}
	return s.Params[i], true
}

// Bounds shared by several params.
const (
	// MaxReplicas is the schema's ceiling; the policy has a lower one.
	MaxReplicas = 1000
	maxSeconds  = 7 * 24 * 3600
)

func intP(name, desc string, required bool, lo, hi int64) ParamSpec {
	return ParamSpec{Name: name, Type: TypeInt, Required: required, Description: desc, Min: lo, Max: hi}
}

func nameP(name, desc string, required bool) ParamSpec {
	return ParamSpec{Name: name, Type: TypeName, Required: required, Description: desc}
}

func qtyP(name, desc string) ParamSpec {
	return ParamSpec{Name: name, Type: TypeQuantity, Description: desc}
}

func boolP(name, desc string) ParamSpec {
	return ParamSpec{Name: name, Type: TypeBool, Description: desc}
}

func enumP(name, desc string, required bool, values ...string) ParamSpec {
	return ParamSpec{Name: name, Type: TypeEnum, Required: required, Description: desc, Enum: values}
}

func strP(name, desc string, required bool, maxLen int) ParamSpec {
	return ParamSpec{Name: name, Type: TypeString, Required: required, Description: desc, MaxLen: maxLen}
}

func durP(name, desc string, required bool) ParamSpec {
	return ParamSpec{Name: name, Type: TypeDuration, Required: required, Description: desc}
}

func revP(desc string) ParamSpec {
	return ParamSpec{Name: ParamToRevision, Type: TypeRevision, Description: desc}
}

// Param names of the implemented actions, as the reference spells them.
const (
	ParamReplicas      = "replicas"
	ParamContainment   = "containment"
	ParamToRevision    = "toRevision"
	ParamContainer     = "container"
	ParamMemoryRequest = "memory_request"
	ParamMemoryLimit   = "memory_limit"
	ParamCPURequest    = "cpu_request"
	ParamCPULimit      = "cpu_limit"
	ParamPod           = "pod"
	ParamConfigMap     = "configmap"
	ParamKey           = "key"
	ParamValue         = "value"

	ParamParallelism           = "parallelism"
	ParamActiveDeadlineSeconds = "activeDeadlineSeconds"
	ParamBackoffLimit          = "backoffLimit"
)

// resourceParams are the params of every Adjust*Resources action.
func resourceParams() []ParamSpec {
	return []ParamSpec{
		nameP(ParamContainer, "container to change; defaults to the only container", false),
		qtyP(ParamMemoryRequest, "new memory request, e.g. 512Mi"),
		qtyP(ParamMemoryLimit, "new memory limit, e.g. 1Gi; at least the request"),
		qtyP(ParamCPURequest, "new CPU request, e.g. 250m"),
		qtyP(ParamCPULimit, "new CPU limit, e.g. 1; at least the request"),
	}
}

func replicasP(desc string) ParamSpec {
	return intP(ParamReplicas, desc, true, 0, MaxReplicas)
}

func containmentP() ParamSpec {
	return boolP(ParamContainment, "true declares a scale to 0 as containment; needed to scale to 0")
}

func spec(t platformv1alpha1.ActionType, kind string, class Class, desc string, params ...ParamSpec) Spec {
	return Spec{Type: t, TargetKind: kind, Class: class, Description: desc, Params: params}
}

func implemented(s Spec) Spec { s.Implemented = true; return s }

// catalogue is in the order of platformv1alpha1.ExecutableActions, then Custom.
var catalogue = []Spec{
	// Deployment: implemented.
	implemented(spec(platformv1alpha1.ActionScaleDeployment, "Deployment", ClassSafe, "Set the Deployment's replicas.",
		replicasP("desired replicas"), containmentP())),
	implemented(spec(platformv1alpha1.ActionRestartDeployment, "Deployment", ClassSafe, "Roll every pod of the Deployment, as kubectl rollout restart does.")),
	implemented(spec(platformv1alpha1.ActionRollbackDeployment, "Deployment", ClassSafe, "Restore the pod template of an earlier ReplicaSet: the previous revision, the newest healthy one, or revision N.",
		revP("previous (default), healthy, or a revision number"))),
	implemented(spec(platformv1alpha1.ActionAdjustResources, "Deployment", ClassSafe, "Change one container's CPU and memory requests and limits.", resourceParams()...)),
	implemented(spec(platformv1alpha1.ActionDeletePod, "Deployment", ClassDisruptive, "Delete one pod of the Deployment so its ReplicaSet replaces it; by default the pod with the most restarts.",
		nameP(ParamPod, "pod to delete; it must belong to the Deployment", false))),
	implemented(spec(platformv1alpha1.ActionPatchConfig, "Deployment", ClassDisruptive, "Set one key of a ConfigMap the Deployment uses.",
		nameP(ParamConfigMap, "ConfigMap the Deployment references", true),
		strP(ParamKey, "key to set", true, 253),
		strP(ParamValue, "new value", true, 0))),

	// StatefulSet.
	spec(platformv1alpha1.ActionScaleStatefulSet, "StatefulSet", ClassSafe, "Set the StatefulSet's replicas.", replicasP("desired replicas"), containmentP()),
	spec(platformv1alpha1.ActionRestartStatefulSet, "StatefulSet", ClassSafe, "Roll every pod of the StatefulSet."),
	spec(platformv1alpha1.ActionRollbackStatefulSet, "StatefulSet", ClassSafe, "Restore an earlier ControllerRevision.", revP("previous (default), healthy, or a revision number")),
	spec(platformv1alpha1.ActionAdjustStatefulSetResources, "StatefulSet", ClassSafe, "Change one container's requests and limits.", resourceParams()...),
	spec(platformv1alpha1.ActionDeleteStatefulSetPod, "StatefulSet", ClassDisruptive, "Delete one pod of the StatefulSet.", nameP(ParamPod, "pod to delete", true)),
	spec(platformv1alpha1.ActionForceDeleteStatefulSetPod, "StatefulSet", ClassDestructive, "Delete one pod with a grace period of 0.", nameP(ParamPod, "pod to delete", true)),
	spec(platformv1alpha1.ActionUpdateStatefulSetStrategy, "StatefulSet", ClassDisruptive, "Change the update strategy.", enumP("strategy", "update strategy", true, "RollingUpdate", "OnDelete")),
	spec(platformv1alpha1.ActionRecreateStatefulSetPVC, "StatefulSet", ClassDestructive, "Delete a pod's PVC and the pod, so both are recreated empty.", nameP(ParamPod, "pod whose claim is recreated", true), nameP("pvc", "claim to recreate", true)),
	spec(platformv1alpha1.ActionPartitionStatefulSetUpdate, "StatefulSet", ClassSafe, "Set the rolling update partition.", intP("partition", "ordinal from which pods update", true, 0, MaxReplicas)),
	spec(platformv1alpha1.ActionRestartStatefulSetPod, "StatefulSet", ClassDisruptive, "Delete one pod so it restarts.", nameP(ParamPod, "pod to restart", true)),

	// DaemonSet.
	spec(platformv1alpha1.ActionRestartDaemonSet, "DaemonSet", ClassSafe, "Roll every pod of the DaemonSet."),
	spec(platformv1alpha1.ActionRollbackDaemonSet, "DaemonSet", ClassSafe, "Restore an earlier ControllerRevision.", revP("previous (default), healthy, or a revision number")),
	spec(platformv1alpha1.ActionAdjustDaemonSetResources, "DaemonSet", ClassSafe, "Change one container's requests and limits.", resourceParams()...),
	spec(platformv1alpha1.ActionDeleteDaemonSetPod, "DaemonSet", ClassDisruptive, "Delete one pod of the DaemonSet.", nameP(ParamPod, "pod to delete", true)),
	spec(platformv1alpha1.ActionUpdateDaemonSetStrategy, "DaemonSet", ClassDisruptive, "Change the update strategy.", enumP("strategy", "update strategy", true, "RollingUpdate", "OnDelete"), intP("maxUnavailable", "pods down at once", false, 1, MaxReplicas)),
	spec(platformv1alpha1.ActionPauseDaemonSetRollout, "DaemonSet", ClassDisruptive, "Stop a rollout by switching to OnDelete."),
	spec(platformv1alpha1.ActionCordonAndDeleteDaemonSetPod, "DaemonSet", ClassDestructive, "Cordon a pod's node, then delete the pod.", nameP(ParamPod, "pod to delete", true)),

	// Job.
	implemented(spec(platformv1alpha1.ActionRetryJob, KindJob, ClassDisruptive, "Recreate a failed Job from its template: delete it (its pods go in the background) and create it anew under the same name.")),
	implemented(spec(platformv1alpha1.ActionAdjustJobResources, KindJob, ClassDisruptive, "Change one container's requests and limits of a failed Job and run it again: the pod template is immutable, so the Job is recreated as RetryJob does.", resourceParams()...)),
	spec(platformv1alpha1.ActionDeleteFailedJob, KindJob, ClassDestructive, "Delete a failed Job and its pods."),
	implemented(spec(platformv1alpha1.ActionSuspendJob, KindJob, ClassDisruptive, "Suspend the Job: its running pods are stopped and no new one starts.")),
	implemented(spec(platformv1alpha1.ActionResumeJob, KindJob, ClassSafe, "Resume a suspended Job.")),
	implemented(spec(platformv1alpha1.ActionAdjustJobParallelism, KindJob, ClassSafe, "Set the Job's parallelism.", intP(ParamParallelism, "pods at once", true, 0, MaxReplicas))),
	implemented(spec(platformv1alpha1.ActionAdjustJobDeadline, KindJob, ClassSafe, "Set activeDeadlineSeconds.", intP(ParamActiveDeadlineSeconds, "seconds", true, 1, maxSeconds))),
	implemented(spec(platformv1alpha1.ActionAdjustJobBackoffLimit, KindJob, ClassSafe, "Set the backoff limit.", intP(ParamBackoffLimit, "retries", true, 0, 100))),
	spec(platformv1alpha1.ActionForceDeleteJobPods, KindJob, ClassDestructive, "Delete the Job's pods with a grace period of 0."),

	// CronJob.
	spec(platformv1alpha1.ActionSuspendCronJob, "CronJob", ClassDisruptive, "Suspend the CronJob."),
	spec(platformv1alpha1.ActionResumeCronJob, "CronJob", ClassSafe, "Resume the CronJob."),
	spec(platformv1alpha1.ActionTriggerCronJob, "CronJob", ClassDisruptive, "Create a Job from the CronJob now."),
	spec(platformv1alpha1.ActionAdjustCronJobResources, "CronJob", ClassSafe, "Change one container's requests and limits.", resourceParams()...),
	spec(platformv1alpha1.ActionAdjustCronJobSchedule, "CronJob", ClassDisruptive, "Set the schedule.", strP("schedule", "cron expression", true, 128)),
	spec(platformv1alpha1.ActionAdjustCronJobDeadline, "CronJob", ClassSafe, "Set startingDeadlineSeconds.", intP("startingDeadlineSeconds", "seconds", true, 1, maxSeconds)),
	spec(platformv1alpha1.ActionAdjustCronJobHistory, "CronJob", ClassSafe, "Set the history limits.", intP("successfulJobsHistoryLimit", "jobs kept", false, 0, 100), intP("failedJobsHistoryLimit", "jobs kept", false, 0, 100)),
	spec(platformv1alpha1.ActionAdjustCronJobConcurrency, "CronJob", ClassSafe, "Set the concurrency policy.", enumP("concurrencyPolicy", "policy", true, "Allow", "Forbid", "Replace")),
	spec(platformv1alpha1.ActionDeleteCronJobActiveJobs, "CronJob", ClassDestructive, "Delete the CronJob's active Jobs."),
	spec(platformv1alpha1.ActionReplaceCronJobTemplate, "CronJob", ClassDestructive, "Replace the job template.", strP("template", "job template as YAML", true, 0)),

	// Other.
	spec(platformv1alpha1.ActionHelmRollback, "HelmRelease", ClassDestructive, "Roll a Helm release back.", nameP("release", "release", true), intP("revision", "revision", false, 1, 1<<31-1)),
	spec(platformv1alpha1.ActionArgoSyncApp, "Application", ClassDisruptive, "Sync an Argo CD Application.", nameP("app", "application", true), boolP("prune", "prune resources")),
	spec(platformv1alpha1.ActionAdjustHPA, "HorizontalPodAutoscaler", ClassSafe, "Change the HPA's bounds.", intP("minReplicas", "min", false, 1, MaxReplicas), intP("maxReplicas", "max", false, 1, MaxReplicas)),
	spec(platformv1alpha1.ActionCordonNode, "Node", ClassDisruptive, "Mark a node unschedulable."),
	spec(platformv1alpha1.ActionUncordonNode, "Node", ClassSafe, "Mark a node schedulable."),
	spec(platformv1alpha1.ActionDrainNode, "Node", ClassDestructive, "Evict every pod from a node, honouring PodDisruptionBudgets.", durP("timeout", "how long to wait for evictions", false)),
	spec(platformv1alpha1.ActionResizePVC, "PersistentVolumeClaim", ClassDisruptive, "Grow a PVC.", ParamSpec{Name: "size", Type: TypeQuantity, Required: true, Description: "new size, larger than the current one"}),
	spec(platformv1alpha1.ActionRotateSecret, "Secret", ClassDestructive, "Rotate a Secret's key.", nameP("secret", "Secret", true), strP(ParamKey, "key", true, 253)),
	spec(platformv1alpha1.ActionExecDiagnostic, "Pod", ClassDisruptive, "Run a read-only diagnostic command in a pod.", nameP(ParamPod, "pod", true), enumP("command", "diagnostic", true, "env", "df", "ps", "netstat")),
	spec(platformv1alpha1.ActionUpdateIngress, "Ingress", ClassDisruptive, "Patch an Ingress.", strP("patch", "JSON merge patch", true, 0)),
	spec(platformv1alpha1.ActionPatchNetworkPolicy, "NetworkPolicy", ClassDestructive, "Patch a NetworkPolicy.", strP("patch", "JSON merge patch", true, 0)),
	spec(platformv1alpha1.ActionApplyManifest, "", ClassDestructive, "Apply a manifest of an allowed kind.", strP("manifest", "YAML manifest", true, 0)),

	// Custom is in the schema so that a plan naming it can be shown; it
	// never runs.
	spec(platformv1alpha1.ActionCustom, "", ClassDestructive, "Free-form action; always refused."),
}

// Catalogue returns every action spec, executable ones first in catalogue
// order, then Custom. The slice is a copy.
func Catalogue() []Spec { return slices.Clone(catalogue) }

// Lookup returns the spec of t.
func Lookup(t platformv1alpha1.ActionType) (Spec, bool) {
	i := slices.IndexFunc(catalogue, func(s Spec) bool { return s.Type == t })
	if i < 0 {
		return Spec{}, false
	}
	return catalogue[i], true
}
