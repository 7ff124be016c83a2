package incidents

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
	postmortemv1 "github.com/chatcli/aiops/proto/chatcli/platform/postmortem/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
)

func anomaly(ns, name, issue string, signal platformv1alpha1.SignalType, detected string) *platformv1alpha1.Anomaly {
	a := &platformv1alpha1.Anomaly{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{platformv1alpha1.LabelDedupKey: "abc"}},
		Spec: platformv1alpha1.AnomalySpec{
			SignalType: signal, Source: platformv1alpha1.SourceWatcher, Severity: platformv1alpha1.SignalSeverityWarning,
			Resource:   platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "checkout"},
			DetectedAt: mustTime(detected),
		},
	}
	if issue != "" {
		a.Labels[platformv1alpha1.LabelIssue] = issue
	}
	return a
}

// TestGetIncident reads one incident by its Issue and by its id, with the
// objects that belong to it however they are tied to it (label, owner
// reference, spec.issueRef, status.postMortemRef) and none of another
// incident's.
func TestGetIncident(t *testing.T) {
	g := newG(t)
	ctx := context.Background()
	h := startServer(t, nil)
	ns := env.NewNamespace(t, "get", nil)

	issue := newIssue(ns, "checkout-oom")
	issue.Labels = map[string]string{platformv1alpha1.LabelIncidentID: "INC-20260216-007"}
	createIssue(t, issue, platformv1alpha1.IssueStatus{
		State: platformv1alpha1.IssueRemediating, IncidentID: "INC-20260216-007", RemediationAttempts: 2,
		RelatedAnomalies: []string{"a-oom", "a-crash", "a-restart"},
		InsightRef:       &platformv1alpha1.LocalObjectReference{Name: "checkout-oom-insight-2"},
		PlanRef:          &platformv1alpha1.LocalObjectReference{Name: "checkout-oom-plan-2"},
		PostMortemRef:    &platformv1alpha1.LocalObjectReference{Name: "pm-checkout"},
		DetectedAt:       ptr.To(mustTime("2026-02-16T10:30:00Z")),
		Timeline:         []platformv1alpha1.TimelineEntry{{Timestamp: mustTime("2026-02-16T10:30:00Z"), Type: "detected", Detail: "opened"}},
	})
	other := createIssue(t, newIssue(ns, "other"), platformv1alpha1.IssueStatus{State: platformv1alpha1.IssueDetected})

	// Two labelled Anomalies, one the status names only, one of another
	// Issue.
	create(t, anomaly(ns, "a-restart", issue.Name, platformv1alpha1.SignalPodRestart, "2026-02-16T10:30:02Z"))
	create(t, anomaly(ns, "a-oom", issue.Name, platformv1alpha1.SignalOOMKill, "2026-02-16T10:30:00Z"))
	create(t, anomaly(ns, "a-crash", "", platformv1alpha1.SignalCrashLoopBackOff, "2026-02-16T10:30:01Z"))
	create(t, anomaly(ns, "a-other", other.Name, platformv1alpha1.SignalOOMKill, "2026-02-16T10:29:00Z"))

	// The first insight is owned by the Issue, the second only names it;
	// one belongs to the other Issue.
	first := &platformv1alpha1.AIInsight{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-oom-insight-1", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: platformv1alpha1.GroupVersion.String(), Kind: "Issue", Name: issue.Name, UID: issue.UID,
		}}},
		Spec: platformv1alpha1.AIInsightSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: "renamed-elsewhere"}, Provider: platformv1alpha1.ProviderClaudeAI, Attempt: 1},
	}
	create(t, first)
	first.Status = platformv1alpha1.AIInsightStatus{
		Provider: "BUILTIN", Model: "rules", Analysis: "Memory limit too low", Confidence: ptr.To(0.75),
		Recommendations:  []string{"Raise the limit"},
		SuggestedActions: []platformv1alpha1.SuggestedAction{{Action: platformv1alpha1.ActionRestartDeployment}},
		Conditions: []metav1.Condition{{Type: platformv1alpha1.AIInsightReadyCondition, Status: metav1.ConditionTrue, Reason: "Analyzed",
			LastTransitionTime: metav1.Now()}},
	}
	setStatus(t, first)
	create(t, &platformv1alpha1.AIInsight{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-oom-insight-2"},
		Spec:       platformv1alpha1.AIInsightSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: issue.Name}, Attempt: 2},
	})
	create(t, &platformv1alpha1.AIInsight{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other-insight-1"},
		Spec:       platformv1alpha1.AIInsightSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: other.Name}, Attempt: 1},
	})

	for _, attempt := range []int32{2, 1} {
		plan := &platformv1alpha1.RemediationPlan{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-plan-%d", issue.Name, attempt)},
			Spec: platformv1alpha1.RemediationPlanSpec{
				IssueRef: platformv1alpha1.LocalObjectReference{Name: issue.Name}, Attempt: attempt, Strategy: "restart",
				Actions: []platformv1alpha1.RemediationAction{{Type: platformv1alpha1.ActionRestartDeployment}},
			},
		}
		create(t, plan)
		plan.Status.State = platformv1alpha1.PlanFailed
		if attempt == 2 {
			plan.Status.State = platformv1alpha1.PlanExecuting
		}
		setStatus(t, plan)
	}
	pm := &platformv1alpha1.PostMortem{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pm-checkout"},
		Spec: platformv1alpha1.PostMortemSpec{
			IssueRef: platformv1alpha1.LocalObjectReference{Name: issue.Name}, Resource: issue.Spec.Resource,
			Severity: platformv1alpha1.SeverityHigh, IncidentID: "INC-20260216-007",
		},
	}
	create(t, pm)
	pm.Status = platformv1alpha1.PostMortemStatus{State: platformv1alpha1.PostMortemOpen, Summary: "OOM", Duration: &metav1.Duration{Duration: 750e9}}
	setStatus(t, pm)

	byRef := &correlatorv1.GetIncidentRequest{Ref: &correlatorv1.GetIncidentRequest_Issue{Issue: &commonv1.ObjectRef{Namespace: ns, Name: issue.Name}}}
	byID := &correlatorv1.GetIncidentRequest{Ref: &correlatorv1.GetIncidentRequest_IncidentId{IncidentId: "INC-20260216-007"}}
	for _, req := range []*correlatorv1.GetIncidentRequest{byRef, byID} {
		g.Eventually(func(g Gomega) {
			resp, err := h.client.GetIncident(ctx, req)
			g.Expect(err).NotTo(HaveOccurred())
			inc := resp.GetIncident()
			g.Expect(inc.GetName()).To(Equal(issue.Name))
			g.Expect(inc.GetIncidentId()).To(Equal("INC-20260216-007"))
			g.Expect(inc.GetState()).To(Equal(correlatorv1.IncidentState_INCIDENT_STATE_REMEDIATING))
			g.Expect(inc.GetSeverity()).To(Equal("high"))
			g.Expect(inc.GetResource().GetUid()).To(Equal("uid-checkout"))
			g.Expect(inc.GetRemediationAttempts()).To(Equal(int32(2)))
			g.Expect(inc.GetInsightName()).To(Equal("checkout-oom-insight-2"))
			g.Expect(inc.GetPlanName()).To(Equal("checkout-oom-plan-2"))
			g.Expect(inc.GetTimeline()).To(HaveLen(1))
			g.Expect(inc.GetDetectedAt().AsTime()).To(Equal(mustTime("2026-02-16T10:30:00Z").Time))

			var anomalies []string
			for _, a := range resp.GetAnomalies() {
				anomalies = append(anomalies, a.GetName())
			}
			g.Expect(anomalies).To(Equal([]string{"a-oom", "a-crash", "a-restart"}), "oldest first, the other Issue's left out")
			g.Expect(resp.GetAnomalies()[0].GetSignal().GetSignalType()).To(Equal("oom_kill"))

			g.Expect(resp.GetInsights()).To(HaveLen(2))
			g.Expect(resp.GetInsights()[0].GetName()).To(Equal("checkout-oom-insight-1"))
			g.Expect(resp.GetInsights()[0].GetProvider()).To(Equal("BUILTIN"), "what answered, not what was asked")
			g.Expect(resp.GetInsights()[0].GetReady()).To(BeTrue())
			g.Expect(resp.GetInsights()[0].GetConfidence()).To(BeNumerically("~", 0.75, 1e-6))
			g.Expect(resp.GetInsights()[0].GetSuggestedActions()).To(HaveLen(1))
			g.Expect(resp.GetInsights()[1].GetName()).To(Equal("checkout-oom-insight-2"))
			g.Expect(resp.GetInsights()[1].GetReady()).To(BeFalse())

			g.Expect(resp.GetPlans()).To(HaveLen(2))
			g.Expect(resp.GetPlans()[0].GetAttempt()).To(Equal(int32(1)))
			g.Expect(resp.GetPlans()[0].GetState()).To(Equal(remediatorv1.PlanState_PLAN_STATE_FAILED))
			g.Expect(resp.GetPlans()[1].GetState()).To(Equal(remediatorv1.PlanState_PLAN_STATE_EXECUTING))
			g.Expect(resp.GetPlans()[1].GetSource()).To(Equal(remediatorv1.PlanSource_PLAN_SOURCE_AI_ACTIONS))

			g.Expect(resp.GetPostMortem().GetName()).To(Equal("pm-checkout"))
			g.Expect(resp.GetPostMortem().GetState()).To(Equal(postmortemv1.PostMortemState_POST_MORTEM_STATE_OPEN))
			g.Expect(resp.GetPostMortem().GetDuration()).To(Equal("12m30s"))
		}).Should(Succeed())
	}

	// The other Issue has no post-mortem, no plans and one Anomaly.
	resp, err := h.client.GetIncident(ctx, &correlatorv1.GetIncidentRequest{Ref: &correlatorv1.GetIncidentRequest_Issue{Issue: &commonv1.ObjectRef{Namespace: ns, Name: other.Name}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.GetPostMortem()).To(BeNil())
	g.Expect(resp.GetPlans()).To(BeEmpty())
	g.Expect(resp.GetInsights()).To(HaveLen(1))
	g.Expect(resp.GetAnomalies()).To(HaveLen(1))
}

func TestGetIncidentErrors(t *testing.T) {
	h := startServer(t, nil)
	ns := env.NewNamespace(t, "get-errors", nil)
	for _, tc := range []struct {
		name string
		req  *correlatorv1.GetIncidentRequest
		code codes.Code
	}{
		{"no reference", &correlatorv1.GetIncidentRequest{}, codes.InvalidArgument},
		{"empty incident id", &correlatorv1.GetIncidentRequest{Ref: &correlatorv1.GetIncidentRequest_IncidentId{}}, codes.InvalidArgument},
		{"malformed incident id", &correlatorv1.GetIncidentRequest{Ref: &correlatorv1.GetIncidentRequest_IncidentId{IncidentId: "INC-2026-1"}}, codes.InvalidArgument},
		{"issue without namespace", &correlatorv1.GetIncidentRequest{Ref: &correlatorv1.GetIncidentRequest_Issue{Issue: &commonv1.ObjectRef{Name: "x"}}}, codes.InvalidArgument},
		{"nil issue", &correlatorv1.GetIncidentRequest{Ref: &correlatorv1.GetIncidentRequest_Issue{}}, codes.InvalidArgument},
		{"unknown issue", &correlatorv1.GetIncidentRequest{Ref: &correlatorv1.GetIncidentRequest_Issue{Issue: &commonv1.ObjectRef{Namespace: ns, Name: "nope"}}}, codes.NotFound},
		{"unknown incident id", &correlatorv1.GetIncidentRequest{Ref: &correlatorv1.GetIncidentRequest_IncidentId{IncidentId: "INC-19990101-001"}}, codes.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.GetIncident(context.Background(), tc.req)
			if got := status.Code(err); got != tc.code {
				t.Fatalf("code %v (%v), want %v", got, err, tc.code)
			}
		})
	}
}
