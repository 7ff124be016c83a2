package builtin

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
)

type P = map[string]string

func deployment(name string) k8sctx.Ref {
	return k8sctx.Ref{Kind: k8sctx.KindDeployment, Namespace: "shop", Name: name}
}

func oomContext() *k8sctx.Context {
	code := int32(137)
	return &k8sctx.Context{
		Found:    true,
		Workload: &k8sctx.Workload{Desired: 2, Ready: 1, Containers: []k8sctx.Container{{Name: "app", Image: "app:1", Requests: P{"memory": "200Mi"}, Limits: P{"memory": "256Mi"}}}},
		Pods: []k8sctx.Pod{{Name: "web-1", Failing: true, Revision: "1", Containers: []k8sctx.ContainerStatus{
			{Name: "app", State: "waiting", Reason: "CrashLoopBackOff", LastTerminationReason: "OOMKilled", LastExitCode: &code},
		}}},
	}
}

// rolledOut is a Deployment failing on revision 3 while revision 2 served.
func rolledOut(lastHealthy int64) *k8sctx.Context {
	code := int32(1)
	return &k8sctx.Context{
		Found:    true,
		Workload: &k8sctx.Workload{Desired: 2, CurrentRevision: 3, Containers: []k8sctx.Container{{Name: "app", Image: "app:3"}}},
		Pods: []k8sctx.Pod{{Name: "web-3", Failing: true, Revision: "3", Containers: []k8sctx.ContainerStatus{
			{Name: "app", State: "waiting", Reason: "CrashLoopBackOff", LastTerminationReason: "Error", LastExitCode: &code},
		}}},
		Revisions: []k8sctx.Revision{
			{Number: 3, Current: true, Changes: []string{"container app image app:2 -> app:3"}},
			{Number: 2, Healthy: lastHealthy == 2, HealthEvidence: "still serving: 1/1 ready"},
		},
		LastHealthyRevision: lastHealthy,
	}
}

func TestRules(t *testing.T) {
	tests := map[string]struct {
		reason      string
		in          Input
		wantRule    string
		wantActions []platformv1alpha1.SuggestedAction
		wantText    string
	}{
		"oom raises the limit 1.5x": {
			reason:   "256Mi * 1.5 = 384Mi; the request stays",
			in:       Input{Signal: platformv1alpha1.SignalOOMKill, Resource: deployment("web"), Context: oomContext()},
			wantRule: "oom-raise-memory-limit",
			wantActions: []platformv1alpha1.SuggestedAction{{Action: platformv1alpha1.ActionAdjustResources,
				Params: P{"container": "app", "memory_limit": "384Mi"}}},
			wantText: "OOMKilled",
		},
		"oom on a StatefulSet uses its action": {
			reason:      "each kind has its own variant",
			in:          Input{Signal: platformv1alpha1.SignalOOMKill, Resource: k8sctx.Ref{Kind: "StatefulSet", Namespace: "db", Name: "pg"}, Context: oomContext()},
			wantRule:    "oom-raise-memory-limit",
			wantActions: []platformv1alpha1.SuggestedAction{{Action: platformv1alpha1.ActionAdjustStatefulSetResources, Params: P{"container": "app", "memory_limit": "384Mi"}}},
		},
		"crash loop from an OOM is an OOM": {
			reason:      "the last termination says OOMKilled",
			in:          Input{Signal: platformv1alpha1.SignalCrashLoopBackOff, Resource: deployment("web"), Context: oomContext()},
			wantRule:    "oom-raise-memory-limit",
			wantActions: []platformv1alpha1.SuggestedAction{{Action: platformv1alpha1.ActionAdjustResources, Params: P{"container": "app", "memory_limit": "384Mi"}}},
		},
		"crash loop after a rollout rolls back": {
			reason:      "revision 2 was healthy, 3 fails",
			in:          Input{Signal: platformv1alpha1.SignalCrashLoopBackOff, Resource: deployment("web"), Context: rolledOut(2)},
			wantRule:    "rollback-to-healthy-revision",
			wantActions: []platformv1alpha1.SuggestedAction{{Action: platformv1alpha1.ActionRollbackDeployment, Params: P{"toRevision": "2"}}},
			wantText:    "image app:2 -> app:3",
		},
		"image pull error after a rollout of a DaemonSet": {
			reason:      "DaemonSets roll back through their own action",
			in:          Input{Signal: platformv1alpha1.SignalImagePullError, Resource: k8sctx.Ref{Kind: "DaemonSet", Namespace: "x", Name: "agent"}, Context: rolledOut(2)},
			wantRule:    "rollback-to-healthy-revision",
			wantActions: []platformv1alpha1.SuggestedAction{{Action: platformv1alpha1.ActionRollbackDaemonSet, Params: P{"toRevision": "2"}}},
		},
		"crash loop without a healthy revision": {
			reason:   "nothing known-good to go back to: no action, honest analysis",
			in:       Input{Signal: platformv1alpha1.SignalCrashLoopBackOff, Resource: deployment("web"), Context: rolledOut(0)},
			wantRule: "failing-without-healthy-revision",
			wantText: "No earlier revision is known to have been healthy",
		},
		"retry does not repeat a rollback": {
			reason:   "the failure context says RollbackDeployment failed",
			in:       Input{Signal: platformv1alpha1.SignalCrashLoopBackOff, Resource: deployment("web"), Context: rolledOut(2), Attempt: 2, FailureContext: "attempt 1: RollbackDeployment toRevision=2 ran, pods still CrashLoopBackOff"},
			wantRule: "failing-without-healthy-revision",
			wantText: "RollbackDeployment (rule rollback-to-healthy-revision) was already tried",
		},
		"retry does not repeat a memory raise": {
			reason:   "AdjustResources was tried; no other rule has an action for an OOM",
			in:       Input{Signal: platformv1alpha1.SignalOOMKill, Resource: deployment("web"), Context: oomContext(), Attempt: 2, FailureContext: "AdjustResources memory_limit=384Mi: still OOMKilled"},
			wantRule: "explain-without-action",
			wantText: "already tried",
		},
		"failed job is retried": {
			reason:      "RetryJob",
			in:          Input{Signal: platformv1alpha1.SignalJobFailed, Resource: k8sctx.Ref{Kind: "Job", Namespace: "b", Name: "report"}, Context: &k8sctx.Context{Workload: &k8sctx.Workload{Conditions: []k8sctx.Condition{{Type: "Failed", Status: "True", Reason: "BackoffLimitExceeded"}}}}},
			wantRule:    "retry-failed-job",
			wantActions: []platformv1alpha1.SuggestedAction{{Action: platformv1alpha1.ActionRetryJob}},
			wantText:    "BackoffLimitExceeded",
		},
		"missed cronjob is triggered": {
			reason:      "TriggerCronJob",
			in:          Input{Signal: platformv1alpha1.SignalCronJobMissed, Resource: k8sctx.Ref{Kind: "CronJob", Namespace: "b", Name: "nightly"}, Context: &k8sctx.Context{Workload: &k8sctx.Workload{Schedule: "0 2 * * *"}}},
			wantRule:    "trigger-missed-cronjob",
			wantActions: []platformv1alpha1.SuggestedAction{{Action: platformv1alpha1.ActionTriggerCronJob}},
		},
		"suspended cronjob is left alone": {
			reason:   "suspension is on purpose",
			in:       Input{Signal: platformv1alpha1.SignalCronJobMissed, Resource: k8sctx.Ref{Kind: "CronJob", Namespace: "b", Name: "nightly"}, Context: &k8sctx.Context{Workload: &k8sctx.Workload{Suspended: true}}},
			wantRule: "trigger-missed-cronjob",
			wantText: "suspended",
		},
		"maxed HPA gets room": {
			reason:      "10 * 1.5 = 15",
			in:          Input{Signal: platformv1alpha1.SignalHPAMaxed, Resource: k8sctx.Ref{Kind: "HorizontalPodAutoscaler", Namespace: "s", Name: "web"}, Context: &k8sctx.Context{HPA: &k8sctx.HPA{MaxReplicas: 10, CurrentReplicas: 10, DesiredReplicas: 14}}},
			wantRule:    "raise-hpa-ceiling",
			wantActions: []platformv1alpha1.SuggestedAction{{Action: platformv1alpha1.ActionAdjustHPA, Params: P{"maxReplicas": "15"}}},
		},
		"not-ready node is cordoned": {
			reason:      "CordonNode, never a drain",
			in:          Input{Signal: platformv1alpha1.SignalNodeNotReady, Resource: k8sctx.Ref{Kind: "Node", Name: "n1"}, Context: &k8sctx.Context{Node: &k8sctx.Node{Conditions: []k8sctx.Condition{{Type: "Ready", Status: "Unknown", Reason: "NodeStatusUnknown"}}}}},
			wantRule:    "cordon-unhealthy-node",
			wantActions: []platformv1alpha1.SuggestedAction{{Action: platformv1alpha1.ActionCordonNode}},
		},
		"cordoned node needs nothing more": {
			reason:   "already unschedulable",
			in:       Input{Signal: platformv1alpha1.SignalNodeNotReady, Resource: k8sctx.Ref{Kind: "Node", Name: "n1"}, Context: &k8sctx.Context{Node: &k8sctx.Node{Unschedulable: true}}},
			wantRule: "cordon-unhealthy-node",
			wantText: "already cordoned",
		},
		"pending PVC gives the reason": {
			reason:   "no action provides storage",
			in:       Input{Signal: platformv1alpha1.SignalPVCPending, Resource: k8sctx.Ref{Kind: "PersistentVolumeClaim", Namespace: "s", Name: "data"}, Context: &k8sctx.Context{PVC: &k8sctx.PVC{Phase: "Pending", StorageClass: "fast"}, Events: []k8sctx.Event{{Type: "Warning", Reason: "ProvisioningFailed", Message: "storageclass \"fast\" not found"}}}},
			wantRule: "explain-pending-pvc",
			wantText: "ProvisioningFailed",
		},
		"latency scales out": {
			reason:      "one more replica",
			in:          Input{Signal: platformv1alpha1.SignalLatency, Resource: deployment("web"), Context: &k8sctx.Context{Workload: &k8sctx.Workload{Desired: 3, Ready: 3}}},
			wantRule:    "scale-out-under-load",
			wantActions: []platformv1alpha1.SuggestedAction{{Action: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "4"}}},
		},
		"certificate expiring is explained": {
			reason:   "secrets are never rotated automatically",
			in:       Input{Signal: platformv1alpha1.SignalCertExpiring, Resource: k8sctx.Ref{Kind: "Ingress", Namespace: "s", Name: "web"}},
			wantRule: "explain-without-action",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := Analyze(tc.in)
			if f.Rule != tc.wantRule {
				t.Fatalf("%s: rule = %s, want %s (%s)", tc.reason, f.Rule, tc.wantRule, f.Analysis)
			}
			got := slices.Clone(f.Actions)
			for i := range got {
				got[i].Name, got[i].Description = "", ""
			}
			if diff := cmp.Diff(tc.wantActions, got); diff != "" {
				t.Errorf("%s: actions (-want +got):\n%s", tc.reason, diff)
			}
			if !strings.Contains(f.Analysis, tc.wantText) {
				t.Errorf("%s: analysis %q does not say %q", tc.reason, f.Analysis, tc.wantText)
			}
			if f.Confidence <= 0 || f.Confidence > 1 {
				t.Errorf("confidence %v out of (0, 1]", f.Confidence)
			}
			for _, a := range f.Actions {
				if a.Action == platformv1alpha1.ActionRestartDeployment {
					t.Errorf("a restart was proposed")
				}
			}
		})
	}
}

// TestEverySignalHasARule: every signal the watcher-bridge can emit gets
// a rule's answer, never the no-rule fallback.
func TestEverySignalHasARule(t *testing.T) {
	for _, s := range platformv1alpha1.SignalTypes {
		f := Analyze(Input{Signal: s, Resource: deployment("web")})
		if f.Rule == "no-rule" {
			t.Errorf("signal %s has no rule", s)
		}
	}
}

func TestRaiseMemory(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"Mi":        {"256Mi", "384Mi"},
		"rounds up": {"100Mi", "150Mi"},
		"odd":       {"101Mi", "152Mi"},
		"Gi":        {"1Gi", "1536Mi"},
		"bytes":     {"1000000", "2Mi"},
		"decimal":   {"500M", "716Mi"},
	}
	for name, tc := range tests {
		got, ok := RaiseMemory(tc.in)
		if !ok || got != tc.want {
			t.Errorf("%s: RaiseMemory(%s) = %s, %v; want %s", name, tc.in, got, ok, tc.want)
		}
	}
	if _, ok := RaiseMemory("nonsense"); ok {
		t.Error("nonsense was raised")
	}
}

func TestTriedActions(t *testing.T) {
	got := TriedActions("RollbackDeployment failed; then AdjustResources. Not a Custom one, nor Rollback.")
	want := []platformv1alpha1.ActionType{platformv1alpha1.ActionRollbackDeployment, platformv1alpha1.ActionAdjustResources}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}
