// Package incidenttest builds the records of whole incidents, as the
// correlator, analyzer and remediator would have left them, for the
// postmortem-writer's tests: in memory for the report, and in a real API
// server for the reconcilers.
package incidenttest

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/report"
)

// Secrets planted in an agentic observation and an executor message; none
// may reach a PostMortem.
const (
	PlantedAWSKey   = "AKIAIOSFODNN7EXAMPLE"
	PlantedPassword = "hunter2-db-pass"
)

// T0 is the first detection of the histories' incidents.
var T0 = time.Date(2026, 2, 16, 10, 30, 0, 0, time.UTC)

// History is the records of one incident. Each object's status is what
// its owner wrote; Create stores spec and status.
type History struct {
	Issue     *platformv1alpha1.Issue
	Anomalies []platformv1alpha1.Anomaly
	Insights  []platformv1alpha1.AIInsight
	Plans     []platformv1alpha1.RemediationPlan
}

// Records are the history as the report reads it.
func (h History) Records() report.Records {
	return report.Records{Issue: h.Issue, Anomalies: h.Anomalies, Insights: h.Insights, Plans: h.Plans}
}

func at(t0 time.Time, d time.Duration) *metav1.Time { return ptr.To(metav1.NewTime(t0.Add(d))) }

// AgenticResolution is the incident of the issue's tests: two Anomalies,
// an Issue with every transition and two attempts, an AIInsight per
// attempt, a first plan (AI actions) that failed verification and was
// rolled back, and an agentic plan of three steps that resolved it. The
// second step's observation and action message hold planted secrets.
func AgenticResolution(ns, name string, t0 time.Time) History {
	res := platformv1alpha1.ResourceReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: "api-gateway", UID: "1b7e5a38-0c6f-4d7e-9d4a-2f1e7c3b9a10"}
	insight1, insight2 := name+"-insight", name+"-insight-2"
	plan1, plan2 := report.PlanName(name, 1), report.PlanName(name, 2)
	h := History{}
	h.Issue = &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: platformv1alpha1.IssueSpec{
			Severity: platformv1alpha1.SeverityHigh, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalOOMKill,
			Description: "OOMKilled containers on api-gateway", Resource: res, RiskScore: 70,
		},
		Status: platformv1alpha1.IssueStatus{
			State: platformv1alpha1.IssueResolved, StateTransitionTime: at(t0, 10*time.Minute),
			IncidentID: "INC-20260216-001", RemediationAttempts: 2, MaxRemediationAttempts: 3,
			Attempts: []platformv1alpha1.RemediationAttempt{
				{Attempt: 1, InsightRef: &platformv1alpha1.LocalObjectReference{Name: insight1}, PlanRef: &platformv1alpha1.LocalObjectReference{Name: plan1},
					Strategy: "AI actions", Outcome: platformv1alpha1.AttemptRolledBack, StartedAt: at(t0, 6*time.Second), EndedAt: at(t0, 3*time.Minute),
					FailureContext: "AdjustResources memory_limit=1Gi: pods still restarting after 2m"},
				{Attempt: 2, InsightRef: &platformv1alpha1.LocalObjectReference{Name: insight2}, PlanRef: &platformv1alpha1.LocalObjectReference{Name: plan2},
					Strategy: "agentic", Outcome: platformv1alpha1.AttemptSucceeded, StartedAt: at(t0, 3*time.Minute), EndedAt: at(t0, 10*time.Minute)},
			},
			RelatedAnomalies: []string{name + "-oom", name + "-restart"},
			InsightRef:       &platformv1alpha1.LocalObjectReference{Name: insight2},
			PlanRef:          &platformv1alpha1.LocalObjectReference{Name: plan2},
			DetectedAt:       at(t0, 5*time.Second),
			ResolvedAt:       at(t0, 10*time.Minute),
			Resolution:       "All pods stable, issue resolved",
			Timeline: []platformv1alpha1.TimelineEntry{
				{Timestamp: *at(t0, 5*time.Second), Type: "detected", Detail: "Detected oom_kill on Deployment api-gateway"},
				{Timestamp: *at(t0, 6*time.Second), Type: "analysis_requested", FromState: "Detected", ToState: "Analyzing", Attempt: 1, Object: insight1},
				{Timestamp: *at(t0, 60*time.Second), Type: "remediation_started", FromState: "Analyzing", ToState: "Remediating", Attempt: 1, Object: plan1},
				{Timestamp: *at(t0, 3*time.Minute), Type: "retrying", FromState: "Remediating", ToState: "Analyzing", Attempt: 2, Object: insight2},
				{Timestamp: *at(t0, 4*time.Minute), Type: "remediation_started", FromState: "Analyzing", ToState: "Remediating", Attempt: 2, Object: plan2},
				{Timestamp: *at(t0, 10*time.Minute), Type: "resolved", Detail: "All pods stable, issue resolved", FromState: "Remediating", ToState: "Resolved", Attempt: 2, Object: plan2},
			},
		},
	}
	anomaly := func(suffix string, signal platformv1alpha1.SignalType, d time.Duration, desc string) platformv1alpha1.Anomaly {
		return platformv1alpha1.Anomaly{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-" + suffix, Labels: map[string]string{platformv1alpha1.LabelIssue: name}},
			Spec: platformv1alpha1.AnomalySpec{
				SignalType: signal, Source: platformv1alpha1.SourceWatcher, Severity: "high", Resource: res,
				Description: desc, DetectedAt: *at(t0, d),
			},
			Status: platformv1alpha1.AnomalyStatus{Correlated: true, IssueRef: &platformv1alpha1.LocalObjectReference{Name: name}, CorrelatedAt: at(t0, 5*time.Second)},
		}
	}
	// Listed out of time order on purpose: the report sorts.
	h.Anomalies = []platformv1alpha1.Anomaly{
		anomaly("restart", platformv1alpha1.SignalPodRestart, 20*time.Second, "8 restarts in 5m"),
		anomaly("oom", platformv1alpha1.SignalOOMKill, 0, "container app OOMKilled"),
	}
	insight := func(n string, attempt int32, d time.Duration, analysis string, recs []string) platformv1alpha1.AIInsight {
		return platformv1alpha1.AIInsight{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n},
			Spec:       platformv1alpha1.AIInsightSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: name}, Provider: platformv1alpha1.ProviderBuiltin, Attempt: attempt},
			Status: platformv1alpha1.AIInsightStatus{
				Provider: platformv1alpha1.ProviderBuiltin, Model: "builtin-rules", Analysis: analysis, Confidence: ptr.To(0.8),
				Recommendations: recs, GeneratedAt: at(t0, d),
				Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "AnalysisCompleted", LastTransitionTime: *at(t0, d)}},
			},
		}
	}
	h.Insights = []platformv1alpha1.AIInsight{
		insight(insight2, 2, 3*time.Minute+30*time.Second, "A cache leak after the v2 rollout outgrows any memory limit",
			[]string{"Cap the cache size of api-gateway", "Alert on memory growth per pod"}),
		insight(insight1, 1, 50*time.Second, "Memory limit (512Mi) insufficient for the current workload",
			[]string{"Raise the memory limit to 1Gi"}),
	}
	healthy, unhealthy := true, false
	h.Plans = []platformv1alpha1.RemediationPlan{
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: plan2, Labels: map[string]string{platformv1alpha1.LabelIssue: name}},
			Spec: platformv1alpha1.RemediationPlanSpec{
				IssueRef: platformv1alpha1.LocalObjectReference{Name: name}, Attempt: 2, Strategy: "agentic", AgenticMode: true, AgenticMaxSteps: 10,
				AgenticHistory: []platformv1alpha1.AgenticStep{
					{StepNumber: 1, AIMessage: "Restart to clear the leaked cache", Timestamp: at(t0, 5*time.Minute),
						Action:      &platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRestartDeployment},
						Observation: "3/3 pods restarted"},
					{StepNumber: 2, AIMessage: "Add replicas to spread the load", Timestamp: at(t0, 6*time.Minute),
						Action:      &platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: platformv1alpha1.ActionParams{"replicas": "5"}},
						Observation: "5/5 ready; env shows AWS_ACCESS_KEY_ID=" + PlantedAWSKey + " and DB_PASSWORD=" + PlantedPassword},
					{StepNumber: 3, AIMessage: "Memory is flat for 3 minutes; resolved", Timestamp: at(t0, 8*time.Minute)},
				},
			},
			Status: platformv1alpha1.RemediationPlanStatus{
				State: platformv1alpha1.PlanCompleted, Result: "Resolved in 3 agentic steps", AgenticStepCount: 3,
				StartedAt: at(t0, 4*time.Minute+30*time.Second), CompletedAt: at(t0, 9*time.Minute+50*time.Second),
				ActionResults: []platformv1alpha1.ActionResult{
					{Index: ptr.To[int32](0), Type: platformv1alpha1.ActionRestartDeployment, Result: platformv1alpha1.ActionSucceeded,
						StartedAt: at(t0, 5*time.Minute), Timestamp: at(t0, 5*time.Minute+10*time.Second)},
					{Index: ptr.To[int32](1), Type: platformv1alpha1.ActionScaleDeployment, Params: platformv1alpha1.ActionParams{"replicas": "5"}, Result: platformv1alpha1.ActionSucceeded,
						Message: "scaled with token=" + PlantedPassword, StartedAt: at(t0, 6*time.Minute), Timestamp: at(t0, 6*time.Minute+5*time.Second)},
				},
				Verification: &platformv1alpha1.VerificationStatus{StartedAt: at(t0, 8*time.Minute+10*time.Second), Healthy: &healthy, Message: "All pods stable for the window"},
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: plan1, Labels: map[string]string{platformv1alpha1.LabelIssue: name}},
			Spec: platformv1alpha1.RemediationPlanSpec{
				IssueRef: platformv1alpha1.LocalObjectReference{Name: name}, Attempt: 1, Strategy: "Raise the memory limit",
				Actions: []platformv1alpha1.RemediationAction{{Type: platformv1alpha1.ActionAdjustResources, Params: platformv1alpha1.ActionParams{"memory_limit": "1Gi"}}},
			},
			Status: platformv1alpha1.RemediationPlanStatus{
				State: platformv1alpha1.PlanRolledBack, Result: "Verification failed; rolled back",
				StartedAt: at(t0, 70*time.Second), CompletedAt: at(t0, 2*time.Minute+55*time.Second),
				ActionResults: []platformv1alpha1.ActionResult{
					{Index: ptr.To[int32](0), Type: platformv1alpha1.ActionAdjustResources, Params: platformv1alpha1.ActionParams{"memory_limit": "1Gi"},
						Result: platformv1alpha1.ActionRolledBack, StartedAt: at(t0, 80*time.Second), Timestamp: at(t0, 90*time.Second), Snapshot: `{"memory_limit":"512Mi"}`},
				},
				Verification: &platformv1alpha1.VerificationStatus{StartedAt: at(t0, 95*time.Second), Healthy: &unhealthy, Message: "pods still restarting"},
				RollbackResults: []platformv1alpha1.ActionResult{
					{Index: ptr.To[int32](0), Type: platformv1alpha1.ActionAdjustResources, Params: platformv1alpha1.ActionParams{"memory_limit": "512Mi"},
						Result: platformv1alpha1.ActionSucceeded, Timestamp: at(t0, 2*time.Minute+50*time.Second)},
				},
			},
		},
	}
	setAgenticResolution(&h.Plans[0], t0)
	return h
}

// Escalated is an incident the platform could not fix: one attempt, an
// agentic plan that failed, and the Issue escalated with its attempts
// used up.
func Escalated(ns, name string, t0 time.Time) History {
	h := AgenticResolution(ns, name, t0)
	st := &h.Issue.Status
	st.State, st.ResolvedAt, st.Resolution = platformv1alpha1.IssueEscalated, nil, ""
	st.EscalatedAt, st.EscalationReason = at(t0, 10*time.Minute), platformv1alpha1.IssueAttemptsExhaustedReason
	st.Attempts[1].Outcome = platformv1alpha1.AttemptFailed
	st.Attempts[1].FailureContext = "memory kept growing after every step"
	last := &st.Timeline[len(st.Timeline)-1]
	last.Type, last.Detail, last.ToState = "escalated", "Attempts exhausted", platformv1alpha1.IssueEscalated
	plan := &h.Plans[0]
	plan.Status.State, plan.Status.Result = platformv1alpha1.PlanFailed, "Memory kept growing"
	plan.Status.Verification.Healthy = ptr.To(false)
	clearAgenticResolution(plan)
	return h
}

// Create stores the history the way it comes about: the Issue first,
// then the records that point at it (the AIInsights owned by it), and the
// Issue's final status last, since the end of an Issue is what a
// PostMortem waits for.
func Create(ctx context.Context, c client.Client, h History) error {
	end, err := CreateOpen(ctx, c, h)
	if err != nil {
		return err
	}
	return end(ctx)
}

// CreateOpen stores the history but leaves the Issue without its status;
// end writes it, which ends the incident.
func CreateOpen(ctx context.Context, c client.Client, h History) (end func(context.Context) error, err error) {
	final := h.Issue.Status.DeepCopy()
	issue := h.Issue.DeepCopy()
	issue.Status = platformv1alpha1.IssueStatus{}
	if err := c.Create(ctx, issue); err != nil {
		return nil, fmt.Errorf("create Issue: %w", err)
	}
	h.Issue.ObjectMeta = issue.ObjectMeta
	for i := range h.Anomalies {
		if err := createWithStatus(ctx, c, &h.Anomalies[i], func(dst, src *platformv1alpha1.Anomaly) { dst.Status = src.Status }); err != nil {
			return nil, err
		}
	}
	for i := range h.Insights {
		in := &h.Insights[i]
		if err := controllerutil.SetControllerReference(issue, in, c.Scheme()); err != nil {
			return nil, err
		}
		if err := createWithStatus(ctx, c, in, func(dst, src *platformv1alpha1.AIInsight) { dst.Status = src.Status }); err != nil {
			return nil, err
		}
	}
	for i := range h.Plans {
		if err := createWithStatus(ctx, c, &h.Plans[i], func(dst, src *platformv1alpha1.RemediationPlan) { dst.Status = src.Status }); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context) error {
		issue.Status = *final
		if err := c.Status().Update(ctx, issue); err != nil {
			return fmt.Errorf("end Issue %s: %w", issue.Name, err)
		}
		h.Issue.ObjectMeta = issue.ObjectMeta
		return nil
	}, nil
}

// OnResource moves the history to another object of the same kind and
// namespace, so that incidents of one test do not recur on each other.
func (h History) OnResource(name string) History {
	h.Issue.Spec.Resource.Name = name
	for i := range h.Anomalies {
		h.Anomalies[i].Spec.Resource.Name = name
	}
	return h
}

// createWithStatus creates obj, then writes the status it was given (a
// create ignores the status subresource), leaving obj as stored.
func createWithStatus[T client.Object](ctx context.Context, c client.Client, obj T, copyStatus func(dst, src T)) error {
	want := obj.DeepCopyObject().(T)
	if err := c.Create(ctx, obj); err != nil {
		return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
	}
	copyStatus(obj, want)
	if err := c.Status().Update(ctx, obj); err != nil {
		return fmt.Errorf("write the status of %T %s: %w", obj, obj.GetName(), err)
	}
	return nil
}
