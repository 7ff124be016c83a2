package v1alpha1

import "slices"

// ActionType is a remediation action of the catalogue. Custom is accepted by
// the schema so that a plan naming it can be stored and shown, but the action
// policy always refuses to run it.
// +kubebuilder:validation:Enum=ScaleDeployment;RestartDeployment;RollbackDeployment;AdjustResources;DeletePod;PatchConfig;ScaleStatefulSet;RestartStatefulSet;RollbackStatefulSet;AdjustStatefulSetResources;DeleteStatefulSetPod;ForceDeleteStatefulSetPod;UpdateStatefulSetStrategy;RecreateStatefulSetPVC;PartitionStatefulSetUpdate;RestartStatefulSetPod;RestartDaemonSet;RollbackDaemonSet;AdjustDaemonSetResources;DeleteDaemonSetPod;UpdateDaemonSetStrategy;PauseDaemonSetRollout;CordonAndDeleteDaemonSetPod;RetryJob;AdjustJobResources;DeleteFailedJob;SuspendJob;ResumeJob;AdjustJobParallelism;AdjustJobDeadline;AdjustJobBackoffLimit;ForceDeleteJobPods;SuspendCronJob;ResumeCronJob;TriggerCronJob;AdjustCronJobResources;AdjustCronJobSchedule;AdjustCronJobDeadline;AdjustCronJobHistory;AdjustCronJobConcurrency;DeleteCronJobActiveJobs;ReplaceCronJobTemplate;HelmRollback;ArgoSyncApp;AdjustHPA;CordonNode;UncordonNode;DrainNode;ResizePVC;RotateSecret;ExecDiagnostic;UpdateIngress;PatchNetworkPolicy;ApplyManifest;Custom
type ActionType string

// The 54 executable actions, grouped by the kind they act on, and Custom.
const (
	ActionScaleDeployment             ActionType = "ScaleDeployment"
	ActionRestartDeployment           ActionType = "RestartDeployment"
	ActionRollbackDeployment          ActionType = "RollbackDeployment"
	ActionAdjustResources             ActionType = "AdjustResources"
	ActionDeletePod                   ActionType = "DeletePod"
	ActionPatchConfig                 ActionType = "PatchConfig"
	ActionScaleStatefulSet            ActionType = "ScaleStatefulSet"
	ActionRestartStatefulSet          ActionType = "RestartStatefulSet"
	ActionRollbackStatefulSet         ActionType = "RollbackStatefulSet"
	ActionAdjustStatefulSetResources  ActionType = "AdjustStatefulSetResources"
	ActionDeleteStatefulSetPod        ActionType = "DeleteStatefulSetPod"
	ActionForceDeleteStatefulSetPod   ActionType = "ForceDeleteStatefulSetPod"
	ActionUpdateStatefulSetStrategy   ActionType = "UpdateStatefulSetStrategy"
	ActionRecreateStatefulSetPVC      ActionType = "RecreateStatefulSetPVC"
	ActionPartitionStatefulSetUpdate  ActionType = "PartitionStatefulSetUpdate"
	ActionRestartStatefulSetPod       ActionType = "RestartStatefulSetPod"
	ActionRestartDaemonSet            ActionType = "RestartDaemonSet"
	ActionRollbackDaemonSet           ActionType = "RollbackDaemonSet"
	ActionAdjustDaemonSetResources    ActionType = "AdjustDaemonSetResources"
	ActionDeleteDaemonSetPod          ActionType = "DeleteDaemonSetPod"
	ActionUpdateDaemonSetStrategy     ActionType = "UpdateDaemonSetStrategy"
	ActionPauseDaemonSetRollout       ActionType = "PauseDaemonSetRollout"
	ActionCordonAndDeleteDaemonSetPod ActionType = "CordonAndDeleteDaemonSetPod"
	ActionRetryJob                    ActionType = "RetryJob"
	ActionAdjustJobResources          ActionType = "AdjustJobResources"
	ActionDeleteFailedJob             ActionType = "DeleteFailedJob"
	ActionSuspendJob                  ActionType = "SuspendJob"
	ActionResumeJob                   ActionType = "ResumeJob"
	ActionAdjustJobParallelism        ActionType = "AdjustJobParallelism"
	ActionAdjustJobDeadline           ActionType = "AdjustJobDeadline"
	ActionAdjustJobBackoffLimit       ActionType = "AdjustJobBackoffLimit"
	ActionForceDeleteJobPods          ActionType = "ForceDeleteJobPods"
	ActionSuspendCronJob              ActionType = "SuspendCronJob"
	ActionResumeCronJob               ActionType = "ResumeCronJob"
	ActionTriggerCronJob              ActionType = "TriggerCronJob"
	ActionAdjustCronJobResources      ActionType = "AdjustCronJobResources"
	ActionAdjustCronJobSchedule       ActionType = "AdjustCronJobSchedule"
	ActionAdjustCronJobDeadline       ActionType = "AdjustCronJobDeadline"
	ActionAdjustCronJobHistory        ActionType = "AdjustCronJobHistory"
	ActionAdjustCronJobConcurrency    ActionType = "AdjustCronJobConcurrency"
	ActionDeleteCronJobActiveJobs     ActionType = "DeleteCronJobActiveJobs"
	ActionReplaceCronJobTemplate      ActionType = "ReplaceCronJobTemplate"
	ActionHelmRollback                ActionType = "HelmRollback"
	ActionArgoSyncApp                 ActionType = "ArgoSyncApp"
	ActionAdjustHPA                   ActionType = "AdjustHPA"
	ActionCordonNode                  ActionType = "CordonNode"
	ActionUncordonNode                ActionType = "UncordonNode"
	ActionDrainNode                   ActionType = "DrainNode"
	ActionResizePVC                   ActionType = "ResizePVC"
	ActionRotateSecret                ActionType = "RotateSecret"
	ActionExecDiagnostic              ActionType = "ExecDiagnostic"
	ActionUpdateIngress               ActionType = "UpdateIngress"
	ActionPatchNetworkPolicy          ActionType = "PatchNetworkPolicy"
	ActionApplyManifest               ActionType = "ApplyManifest"
	ActionCustom                      ActionType = "Custom"
)

// ExecutableActions lists the 54 actions the executor can run, in catalogue order.
var ExecutableActions = []ActionType{
	ActionScaleDeployment, ActionRestartDeployment, ActionRollbackDeployment, ActionAdjustResources, ActionDeletePod, ActionPatchConfig,
	ActionScaleStatefulSet, ActionRestartStatefulSet, ActionRollbackStatefulSet, ActionAdjustStatefulSetResources, ActionDeleteStatefulSetPod, ActionForceDeleteStatefulSetPod, ActionUpdateStatefulSetStrategy, ActionRecreateStatefulSetPVC, ActionPartitionStatefulSetUpdate, ActionRestartStatefulSetPod,
	ActionRestartDaemonSet, ActionRollbackDaemonSet, ActionAdjustDaemonSetResources, ActionDeleteDaemonSetPod, ActionUpdateDaemonSetStrategy, ActionPauseDaemonSetRollout, ActionCordonAndDeleteDaemonSetPod,
	ActionRetryJob, ActionAdjustJobResources, ActionDeleteFailedJob, ActionSuspendJob, ActionResumeJob, ActionAdjustJobParallelism, ActionAdjustJobDeadline, ActionAdjustJobBackoffLimit, ActionForceDeleteJobPods,
	ActionSuspendCronJob, ActionResumeCronJob, ActionTriggerCronJob, ActionAdjustCronJobResources, ActionAdjustCronJobSchedule, ActionAdjustCronJobDeadline, ActionAdjustCronJobHistory, ActionAdjustCronJobConcurrency, ActionDeleteCronJobActiveJobs, ActionReplaceCronJobTemplate,
	ActionHelmRollback, ActionArgoSyncApp, ActionAdjustHPA, ActionCordonNode, ActionUncordonNode, ActionDrainNode, ActionResizePVC, ActionRotateSecret, ActionExecDiagnostic, ActionUpdateIngress, ActionPatchNetworkPolicy, ActionApplyManifest,
}

// IsValid reports whether a is a catalogue action or Custom.
func (a ActionType) IsValid() bool { return a == ActionCustom || a.IsExecutable() }

// IsExecutable reports whether a is one of the 54 executable actions.
func (a ActionType) IsExecutable() bool { return slices.Contains(ExecutableActions, a) }
