package v1alpha1_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// TestFullyPopulatedObjectsRoundTrip writes an object of each kind with
// every contract field set, through the Go types, the API server (with
// strict field validation, so that no field is unknown to the schema) and
// back, and checks that nothing was dropped or changed.
func TestFullyPopulatedObjectsRoundTrip(t *testing.T) {
	ns := env.NewNamespace(t, "roundtrip", nil)
	at := func(minute int) metav1.Time {
		return metav1.NewTime(time.Date(2026, 2, 16, 10, minute, 0, 0, time.UTC))
	}
	t0, t1, t2 := at(30), at(31), at(32)
	target := platformv1alpha1.ResourceReference{
		APIVersion: "apps/v1", Kind: "Deployment", Name: "api-gateway", Namespace: ns,
		UID: "6f1c6b0e-0000-4000-8000-000000000001",
	}
	ref := func(name string) *platformv1alpha1.LocalObjectReference {
		return &platformv1alpha1.LocalObjectReference{Name: name}
	}
	condition := func(kind string) []metav1.Condition {
		return []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Done", Message: kind + " is done", LastTransitionTime: t1, ObservedGeneration: 1}}
	}
	timeline := []platformv1alpha1.TimelineEntry{
		{Timestamp: t0, Type: "detected", Detail: "Issue detected"},
		{Timestamp: t1, Type: "analyzing", FromState: platformv1alpha1.IssueDetected, ToState: platformv1alpha1.IssueAnalyzing, Attempt: 1, Object: "api-insight-1"},
	}
	params := platformv1alpha1.ActionParams{"replicas": "4", "memory_limit": "1Gi"}

	tests := map[string]client.Object{
		"Anomaly": &platformv1alpha1.Anomaly{
			Spec: platformv1alpha1.AnomalySpec{
				SignalType: platformv1alpha1.SignalOOMKill, Source: platformv1alpha1.SourceWatcher,
				Severity: platformv1alpha1.SignalSeverityWarning, Resource: target,
				Description: "OOMKilled", DetectedAt: t0, Value: "3", Threshold: "1",
			},
			Status: platformv1alpha1.AnomalyStatus{
				Conditions: condition("Anomaly"), ObservedGeneration: 1, Correlated: true,
				IssueRef: ref("api-issue"), CorrelatedAt: &t1,
			},
		},
		"Issue": &platformv1alpha1.Issue{
			Spec: platformv1alpha1.IssueSpec{
				Severity: platformv1alpha1.SeverityHigh, Source: platformv1alpha1.SourceWatcher,
				SignalType: platformv1alpha1.SignalOOMKill, Description: "OOM on api-gateway",
				Resource: target, RiskScore: 65,
			},
			Status: platformv1alpha1.IssueStatus{
				Conditions: condition("Issue"), ObservedGeneration: 1,
				State: platformv1alpha1.IssueEscalated, StateTransitionTime: &t2,
				IncidentID: "INC-20260216-001", RemediationAttempts: 2, MaxRemediationAttempts: 2,
				Attempts: []platformv1alpha1.RemediationAttempt{
					{Attempt: 1, InsightRef: ref("api-insight-1"), PlanRef: ref("api-plan-1"), Strategy: "runbook high-error-rate",
						Outcome: platformv1alpha1.AttemptRolledBack, StartedAt: &t0, EndedAt: &t1, FailureContext: "pods still restarting"},
					{Attempt: 2, InsightRef: ref("api-insight-2"), PlanRef: ref("api-plan-2"), Strategy: "agentic",
						Outcome: platformv1alpha1.AttemptRejected, StartedAt: &t1, EndedAt: &t2},
				},
				RelatedAnomalies: []string{"oom-kill-api-gateway-0123456789ab"},
				InsightRef:       ref("api-insight-2"), PlanRef: ref("api-plan-2"),
				RecurrenceOf: ref("api-issue-0"), PostMortemRef: ref("pm-api-issue"),
				DetectedAt: &t0, EscalatedAt: &t2,
				EscalationReason: platformv1alpha1.IssuePlanRejectedReason,
				LastFailure:      "plan rejected", Resolution: "escalated to people",
				Timeline: timeline,
			},
		},
		"AIInsight": &platformv1alpha1.AIInsight{
			Spec: platformv1alpha1.AIInsightSpec{
				IssueRef: platformv1alpha1.LocalObjectReference{Name: "api-issue"}, Provider: platformv1alpha1.ProviderClaudeAI,
				Model: "claude-sonnet-4-5", Attempt: 2, FailureContext: "attempt 1 rolled back: pods still restarting",
			},
			Status: platformv1alpha1.AIInsightStatus{
				Conditions: condition("AIInsight"), ObservedGeneration: 1,
				Provider: platformv1alpha1.ProviderBuiltin, Model: "rules-v1",
				Analysis: "Memory limit too low", Confidence: ptr.To(0.87),
				Recommendations: []string{"Increase memory limit to 1Gi"},
				SuggestedActions: []platformv1alpha1.SuggestedAction{
					{Name: "Scale up", Action: platformv1alpha1.ActionScaleDeployment, Description: "spread load", Params: params},
				},
				RejectedActions: []platformv1alpha1.RejectedAction{
					{Action: "NukeCluster", Params: platformv1alpha1.ActionParams{"scope": "all"}, Reason: "not in the catalogue"},
				},
				GeneratedAt: &t1,
			},
		},
		"RemediationPlan": &platformv1alpha1.RemediationPlan{
			Spec: platformv1alpha1.RemediationPlanSpec{
				IssueRef: platformv1alpha1.LocalObjectReference{Name: "api-issue"}, Attempt: 2,
				Strategy: "Attempt 2 via runbook", RunbookRef: ref("rb-1"),
				Actions: []platformv1alpha1.RemediationAction{
					{Type: platformv1alpha1.ActionRestartDeployment},
					{Type: platformv1alpha1.ActionScaleDeployment, Params: params},
				},
				SafetyConstraints: []string{"No delete operations"},
				Approval:          &platformv1alpha1.PlanApprovalSpec{Required: true},
				AgenticMaxSteps:   10,
			},
			Status: platformv1alpha1.RemediationPlanStatus{
				Conditions: condition("RemediationPlan"), ObservedGeneration: 1,
				State: platformv1alpha1.PlanRolledBack, Result: "rolled back after verification failed",
				Approval: &platformv1alpha1.PlanApprovalStatus{
					RequestedAt: &t0, ExpiresAt: &t2, Generation: 1, ApprovedBy: "alice@example.com", ApprovedAt: &t0, Reason: "looks safe",
				},
				ResolvedTarget:     &target,
				CurrentActionIndex: ptr.To[int32](1),
				ActionResults: []platformv1alpha1.ActionResult{
					{Index: ptr.To[int32](0), Type: platformv1alpha1.ActionRestartDeployment, Result: platformv1alpha1.ActionRolledBack,
						Message: "restarted", StartedAt: &t0, Timestamp: &t0, Snapshot: `{"restartedAt":""}`},
					{Index: ptr.To[int32](1), Type: platformv1alpha1.ActionScaleDeployment, Params: params, Result: platformv1alpha1.ActionSkipped},
				},
				Verification: &platformv1alpha1.VerificationStatus{
					StartedAt: &t0, Deadline: &t1, Healthy: ptr.To(false), Message: "still crashing",
					Checks: []platformv1alpha1.VerificationCheck{
						{Name: "rollout-complete", Healthy: ptr.To(true)},
						{Name: "no-restarts", Healthy: ptr.To(false), Message: "3 restarts"},
					},
				},
				RollbackResults: []platformv1alpha1.ActionResult{
					{Index: ptr.To[int32](0), Type: platformv1alpha1.ActionRestartDeployment, Result: platformv1alpha1.ActionSucceeded, Timestamp: &t1},
				},
				StartedAt: &t0, CompletedAt: &t1,
			},
		},
		"Runbook": &platformv1alpha1.Runbook{
			Spec: platformv1alpha1.RunbookSpec{
				Description: "promoted",
				Trigger:     platformv1alpha1.RunbookTrigger{SignalType: platformv1alpha1.SignalOOMKill, Severity: platformv1alpha1.SeverityHigh, ResourceKind: "Deployment"},
				Steps:       []platformv1alpha1.RunbookStep{{Name: "scale", Action: platformv1alpha1.ActionScaleDeployment, Description: "scale up", Params: params}},
				MaxAttempts: 3, Origin: platformv1alpha1.RunbookGenerated, PromotedFrom: ref("api-plan-1"),
			},
			Status: platformv1alpha1.RunbookStatus{
				Conditions: condition("Runbook"), ObservedGeneration: 1,
				TimesUsed: 5, TimesSucceeded: 3, TimesFailed: 2, TimesRecurred: 1,
				LastUsedAt: &t1, LastSucceededAt: &t0,
			},
		},
		"PostMortem": &platformv1alpha1.PostMortem{
			Spec: platformv1alpha1.PostMortemSpec{
				IssueRef: platformv1alpha1.LocalObjectReference{Name: "api-issue"}, Resource: target,
				Severity: platformv1alpha1.SeverityHigh, IncidentID: "INC-20260216-001",
				InsightRef: ref("api-insight-1"),
				PlanRefs:   []platformv1alpha1.LocalObjectReference{{Name: "api-plan-1"}, {Name: "api-plan-2"}},
			},
			Status: platformv1alpha1.PostMortemStatus{
				Conditions: condition("PostMortem"), ObservedGeneration: 1,
				State: platformv1alpha1.PostMortemOpen, Summary: "s", RootCause: "r", Impact: "i",
				Timeline: timeline,
				ActionsExecuted: []platformv1alpha1.ExecutedAction{
					{Action: platformv1alpha1.ActionScaleDeployment, Params: params, Result: platformv1alpha1.ActionSucceeded, Timestamp: &t1},
				},
				LessonsLearned: []string{"l"}, PreventionActions: []string{"p"},
				Duration:   &metav1.Duration{Duration: 2*time.Minute + 10*time.Second},
				RunbookRef: ref("rb-1"), GeneratedAt: &t2,
			},
		},
	}
	ctx := context.Background()
	statusOpts := &client.SubResourceUpdateOptions{UpdateOptions: client.UpdateOptions{FieldValidation: "Strict"}}
	for kind, want := range tests {
		t.Run(kind, func(t *testing.T) {
			gvk, err := apiutil.GVKForObject(want, env.Scheme)
			if err != nil {
				t.Fatal(err)
			}
			want.SetNamespace(ns)
			want.SetName("full-" + strings.ToLower(kind))
			content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(want)
			if err != nil {
				t.Fatal(err)
			}
			obj := &unstructured.Unstructured{Object: content}
			obj.SetGroupVersionKind(gvk)
			status := obj.Object["status"]
			delete(obj.Object, "status")
			if err := env.Client.Create(ctx, obj, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("create: %v", err)
			}
			obj.Object["status"] = status
			if err := env.Client.Status().Update(ctx, obj, statusOpts); err != nil {
				t.Fatalf("update status: %v", err)
			}

			got, err := env.Scheme.New(gvk)
			if err != nil {
				t.Fatal(err)
			}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(want), got.(client.Object)); err != nil {
				t.Fatalf("get: %v", err)
			}
			opts := cmp.Options{
				cmpopts.IgnoreTypes(metav1.TypeMeta{}, metav1.ObjectMeta{}),
				cmp.Comparer(func(a, b metav1.Time) bool { return a.Equal(&b) }),
			}
			if diff := cmp.Diff(want, got, opts); diff != "" {
				t.Errorf("the object changed on its way through the API server (-sent +stored):\n%s", diff)
			}
		})
	}
}
