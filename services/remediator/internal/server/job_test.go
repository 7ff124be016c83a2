package server

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/actions/jobtest"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
)

// TestAFailedJobGetsARetryPlan: the BUILTIN analysis of a job_failed
// Issue suggests RetryJob; the proposal turns it into a plan on the Job,
// and a dry-run of it shows what the retry would change, changing nothing.
func TestAFailedJobGetsARetryPlan(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	f := serve(t, func(s *Server) { s.Executor = actions.NewExecutors(s.Reader.(client.Client)) })
	ns := env.NewNamespace(t, "jobincident", nil)
	j := jobtest.New(ns, "nightly")
	g.Expect(env.Client.Create(ctx, j)).To(Succeed())
	g.Expect(jobtest.Fail(ctx, env.Client, client.ObjectKeyFromObject(j))).To(Succeed())
	issue := &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly-failed"},
		Spec: platformv1alpha1.IssueSpec{
			Severity: platformv1alpha1.SeverityMedium, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalJobFailed,
			Resource: platformv1alpha1.ResourceReference{Kind: "Job", Namespace: ns, Name: "nightly", UID: j.UID},
		},
	}
	g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
	issue.Status.State, issue.Status.RemediationAttempts, issue.Status.MaxRemediationAttempts = platformv1alpha1.IssueRemediating, 1, 3
	g.Expect(env.Client.Status().Update(ctx, issue)).To(Succeed())
	insight := &platformv1alpha1.AIInsight{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly-failed-insight"},
		Spec:       platformv1alpha1.AIInsightSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: issue.Name}, Attempt: 1},
	}
	g.Expect(env.Client.Create(ctx, insight)).To(Succeed())
	insight.Status.Analysis = "the Job failed"
	insight.Status.SuggestedActions = []platformv1alpha1.SuggestedAction{{Name: "Retry", Action: platformv1alpha1.ActionRetryJob}}
	meta.SetStatusCondition(&insight.Status.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "AnalysisCompleted"})
	g.Expect(env.Client.Status().Update(ctx, insight)).To(Succeed())

	resp, err := f.client.ProposePlan(ctx, &remediatorv1.ProposePlanRequest{
		Issue: &commonv1.ObjectRef{Namespace: ns, Name: issue.Name}, Attempt: 1, IssueUid: string(issue.UID), InsightName: insight.Name,
	})
	g.Expect(err).NotTo(HaveOccurred())
	plan := &platformv1alpha1.RemediationPlan{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: resp.Plan.Name}, plan)).To(Succeed())
	g.Expect(plan.Spec.Actions).To(ConsistOf(HaveField("Type", platformv1alpha1.ActionRetryJob)))
	g.Expect(plan.Spec.Approval == nil || !plan.Spec.Approval.Required).To(BeTrue(), "RetryJob is disruptive, not destructive")

	jobs, err := f.client.ListActions(ctx, &remediatorv1.ListActionsRequest{TargetKind: "Job"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(jobs.Actions).To(HaveLen(9))

	dr, err := f.client.DryRun(ctx, &remediatorv1.DryRunRequest{Source: &remediatorv1.DryRunRequest_Plan{Plan: &commonv1.ObjectRef{Namespace: ns, Name: plan.Name}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(dr.Results).To(HaveLen(1))
	g.Expect(dr.Results[0].Succeeded).To(BeTrue(), dr.Results[0].Message)
	g.Expect(dr.Results[0].Message).To(ContainSubstring("+  " + actions.AnnotationRetryKey))
	live := &batchv1.Job{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(j), live)).To(Succeed())
	g.Expect(live.UID).To(Equal(j.UID), "a dry-run deletes nothing")
}

// TestALaterAttemptOnAReRunJobIsNotResourceGone: the Job an earlier
// attempt re-ran has another uid, and is still the incident's Job; a Job
// recreated by hand is not.
func TestALaterAttemptOnAReRunJobIsNotResourceGone(t *testing.T) {
	ctx := context.Background()
	f := serve(t, func(s *Server) { s.Executor = actions.NewExecutors(s.Reader.(client.Client)) })
	for name, tc := range map[string]struct {
		rerun   bool
		wantErr string
	}{
		"ReRun":           {true, ""},
		"RecreatedByHand": {false, "RESOURCE_GONE"},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ns := env.NewNamespace(t, "rerun", nil)
			j := jobtest.New(ns, "nightly")
			j.Annotations = map[string]string{}
			if tc.rerun {
				j.Annotations[actions.AnnotationRetryOf] = "the-first-jobs-uid"
			}
			g.Expect(env.Client.Create(ctx, j)).To(Succeed())
			issue := &platformv1alpha1.Issue{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly-failed"},
				Spec: platformv1alpha1.IssueSpec{
					Severity: platformv1alpha1.SeverityMedium, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalJobFailed,
					Resource: platformv1alpha1.ResourceReference{Kind: "Job", Namespace: ns, Name: "nightly", UID: "the-first-jobs-uid"},
				},
			}
			g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
			issue.Status.State, issue.Status.RemediationAttempts, issue.Status.MaxRemediationAttempts = platformv1alpha1.IssueRemediating, 2, 3
			g.Expect(env.Client.Status().Update(ctx, issue)).To(Succeed())
			insight := &platformv1alpha1.AIInsight{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly-failed-insight-2"},
				Spec:       platformv1alpha1.AIInsightSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: issue.Name}, Attempt: 2},
			}
			g.Expect(env.Client.Create(ctx, insight)).To(Succeed())
			insight.Status.SuggestedActions = []platformv1alpha1.SuggestedAction{{Name: "More retries", Action: platformv1alpha1.ActionAdjustJobBackoffLimit, Params: P{"backoffLimit": "4"}}}
			meta.SetStatusCondition(&insight.Status.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "AnalysisCompleted"})
			g.Expect(env.Client.Status().Update(ctx, insight)).To(Succeed())
			_, err := f.client.ProposePlan(ctx, &remediatorv1.ProposePlanRequest{
				Issue: &commonv1.ObjectRef{Namespace: ns, Name: issue.Name}, Attempt: 2, IssueUid: string(issue.UID), InsightName: insight.Name,
			})
			if tc.wantErr == "" {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			g.Expect(reasonOf(err)).To(Equal(tc.wantErr))
		})
	}
}
