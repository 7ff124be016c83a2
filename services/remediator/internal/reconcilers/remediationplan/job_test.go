package remediationplan

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/actions/jobtest"
	"github.com/chatcli/aiops/services/remediator/internal/policy"
)

// jobScenario is a job_failed Issue on a Job that ran and failed.
type jobScenario struct {
	ns    string
	job   client.ObjectKey
	uid   string
	issue *platformv1alpha1.Issue
}

func newJobScenario(t *testing.T, g Gomega) *jobScenario {
	ctx := context.Background()
	ns := env.NewNamespace(t, "jobplan", nil)
	j := jobtest.New(ns, "nightly")
	g.Expect(env.Client.Create(ctx, j)).To(Succeed())
	key := client.ObjectKeyFromObject(j)
	g.Expect(jobtest.Run(ctx, env.Client, key, 1)).To(Succeed())
	g.Expect(jobtest.Fail(ctx, env.Client, key)).To(Succeed())
	issue := &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly-failed"},
		Spec: platformv1alpha1.IssueSpec{
			Severity: platformv1alpha1.SeverityMedium, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalJobFailed,
			Resource: platformv1alpha1.ResourceReference{Kind: "Job", Namespace: ns, Name: "nightly", UID: j.UID},
		},
	}
	g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
	return &jobScenario{ns: ns, job: key, uid: string(j.UID), issue: issue}
}

func (s *jobScenario) plan(g Gomega, acts ...platformv1alpha1.RemediationAction) *platformv1alpha1.RemediationPlan {
	p := &platformv1alpha1.RemediationPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "nightly-failed-plan-1", Labels: map[string]string{platformv1alpha1.LabelIssue: s.issue.Name}},
		Spec:       platformv1alpha1.RemediationPlanSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: s.issue.Name}, Attempt: 1, Actions: acts},
	}
	g.Expect(controllerutil.SetControllerReference(s.issue, p, env.Scheme)).To(Succeed())
	return p
}

// retried waits for the Job a RetryJob of p created and returns it.
func (s *jobScenario) retried(g Gomega, p *platformv1alpha1.RemediationPlan) *batchv1.Job {
	j := &batchv1.Job{}
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), s.job, j)).To(Succeed())
		g.Expect(string(j.UID)).NotTo(Equal(s.uid))
		g.Expect(j.Annotations).To(HaveKeyWithValue(actions.AnnotationRetryKey, string(getPlan(g, p).UID)+"/0"))
	}).WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	return j
}

var retryJob = platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRetryJob}

// TestARetriedJobIsVerifiedWhenItCompletes: the plan deletes the failed
// Job, creates it anew, waits while the new one runs and completes when
// it completes; the new uid is the plan's own doing, not a replacement.
func TestARetriedJobIsVerifiedWhenItCompletes(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	start(t, func(r *Reconciler) { r.StabilityWindow = time.Minute })
	s := newJobScenario(t, g)
	p := s.plan(g, retryJob)
	g.Expect(env.Client.Create(ctx, p)).To(Succeed())
	fresh := s.retried(g, p)
	g.Expect(fresh.Annotations).To(HaveKeyWithValue(actions.AnnotationRetriedFrom, s.uid))

	// Not healthy before the Job controller starts its pods.
	g.Eventually(func(g Gomega) {
		v := getPlan(g, p).Status.Verification
		g.Expect(v).NotTo(BeNil())
		g.Expect(v.Checks).To(ContainElement(And(HaveField("Name", "job-active"), HaveField("Healthy", ptr.To(false)))))
	}).WithTimeout(30 * time.Second).Should(Succeed())
	g.Expect(getPlan(g, p).Status.State).To(Equal(platformv1alpha1.PlanVerifying))

	g.Expect(jobtest.Run(ctx, env.Client, s.job, 1)).To(Succeed())
	g.Eventually(func(g Gomega) {
		v := getPlan(g, p).Status.Verification
		g.Expect(v).NotTo(BeNil())
		g.Expect(v.HealthySince).NotTo(BeNil())
	}).WithTimeout(30 * time.Second).Should(Succeed())
	// Its pods succeeded before the Job controller counted them, then
	// before it wrote Complete: a Job finishing is not a Job broken inside
	// the window.
	for _, finishing := range []func(context.Context, client.Client, client.ObjectKey) error{jobtest.SucceedPods, jobtest.Uncounted, jobtest.Finishing} {
		g.Expect(finishing(ctx, env.Client, s.job)).To(Succeed())
		g.Consistently(func(g Gomega) {
			got := getPlan(g, p)
			g.Expect(got.Status.State).To(Equal(platformv1alpha1.PlanVerifying), "result %q, checks %+v", got.Status.Result, got.Status.Verification)
		}).WithTimeout(2 * time.Second).Should(Succeed())
	}
	// Complete ends the verification without waiting out the minute.
	g.Expect(jobtest.Complete(ctx, env.Client, s.job)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanCompleted)

	g.Expect(got.Status.ResolvedTarget.APIVersion).To(Equal("batch/v1"))
	g.Expect(string(got.Status.ResolvedTarget.UID)).To(Equal(s.uid), "resolvedTarget keeps the Issue's Job")
	g.Expect(got.Status.ActionResults).To(ConsistOf(HaveField("Result", platformv1alpha1.ActionSucceeded)))
	g.Expect(got.Status.ActionResults[0].Message).To(ContainSubstring("created uid " + string(fresh.UID)))
	g.Expect(*got.Status.Verification.Healthy).To(BeTrue())
	g.Expect(got.Status.Verification.Checks).To(ContainElement(And(HaveField("Name", "job-complete"), HaveField("Healthy", ptr.To(true)))))
	g.Expect(condReason(got, platformv1alpha1.RemediationPlanVerifiedCondition)).To(Equal("True/Healthy"))
	g.Expect(condReason(got, platformv1alpha1.RemediationPlanTargetResolvedCondition)).To(Equal("True/TargetFound"))
}

// TestARetriedJobRunningThroughTheWindowIsHealthy: a Job whose pods run
// for the whole stability window passes, as a Deployment would.
func TestARetriedJobRunningThroughTheWindowIsHealthy(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	start(t, nil) // a stability window of 1s
	s := newJobScenario(t, g)
	p := s.plan(g, retryJob)
	g.Expect(env.Client.Create(ctx, p)).To(Succeed())
	s.retried(g, p)
	g.Expect(jobtest.Run(ctx, env.Client, s.job, 2)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanCompleted)
	g.Expect(got.Status.Verification.Message).To(ContainSubstring("stable"))
	g.Expect(got.Status.Verification.Checks).To(ContainElement(And(HaveField("Name", "pods-running"), HaveField("Healthy", ptr.To(true)))))
}

// TestARetriedJobThatFailsAgainIsRolledBackHonestly: the new Job fails, so
// verification fails at once; the retry cannot be undone, and the plan
// says so instead of claiming it was.
func TestARetriedJobThatFailsAgainIsRolledBackHonestly(t *testing.T) {
	for name, breakIt := range map[string]func(context.Context, client.Client, client.ObjectKey) error{
		"TheJobFails":          jobtest.Fail,
		"APodFailsInTheWindow": jobtest.FailPod,
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			start(t, func(r *Reconciler) { r.StabilityWindow = time.Minute })
			s := newJobScenario(t, g)
			p := s.plan(g, retryJob)
			g.Expect(env.Client.Create(ctx, p)).To(Succeed())
			s.retried(g, p)
			g.Expect(jobtest.Run(ctx, env.Client, s.job, 1)).To(Succeed())
			g.Eventually(func(g Gomega) {
				v := getPlan(g, p).Status.Verification
				g.Expect(v).NotTo(BeNil())
				g.Expect(v.HealthySince).NotTo(BeNil())
			}).WithTimeout(30 * time.Second).Should(Succeed())
			g.Expect(breakIt(ctx, env.Client, s.job)).To(Succeed())
			got := waitState(g, p, platformv1alpha1.PlanRolledBack)
			g.Expect(*got.Status.Verification.Healthy).To(BeFalse())
			g.Expect(condReason(got, platformv1alpha1.RemediationPlanVerifiedCondition)).To(Equal("False/VerificationFailed"))
			g.Expect(got.Status.RollbackResults).To(ConsistOf(And(
				HaveField("Type", platformv1alpha1.ActionRetryJob),
				HaveField("Result", platformv1alpha1.ActionSkipped),
				HaveField("Message", ContainSubstring("cannot be un-run")))))
			g.Expect(got.Status.ActionResults[0].Result).To(Equal(platformv1alpha1.ActionSucceeded), "the retry ran, and stays")
			g.Expect(got.Status.Result).To(ContainSubstring("what could not be undone stays"))
		})
	}
}

// TestACrashBetweenTheDeleteAndTheCreateResumes: the remediator died after
// deleting the failed Job and before creating the new one; the next one
// creates it from the recorded snapshot, once.
func TestACrashBetweenTheDeleteAndTheCreateResumes(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s := newJobScenario(t, g)
	p := s.plan(g, retryJob)
	g.Expect(env.Client.Create(ctx, p)).To(Succeed())
	target := s.issue.Spec.Resource
	target.APIVersion = "batch/v1"
	ex := &actions.JobExecutor{Client: env.Client}
	snap, err := ex.Snapshot(ctx, actions.Request{Target: target, Action: retryJob, Plan: p.UID})
	g.Expect(err).NotTo(HaveOccurred())
	old := &batchv1.Job{}
	g.Expect(env.Client.Get(ctx, s.job, old)).To(Succeed())
	g.Expect(env.Client.Delete(ctx, old, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
	now := metav1.Now()
	p.Status = platformv1alpha1.RemediationPlanStatus{
		State: platformv1alpha1.PlanExecuting, ResolvedTarget: &target, StartedAt: &now, CurrentActionIndex: ptr.To[int32](0),
		PendingAction: &platformv1alpha1.PendingAction{Index: 0, Type: platformv1alpha1.ActionRetryJob, StartedAt: &now, Snapshot: snap},
	}
	g.Expect(env.Client.Status().Update(ctx, p)).To(Succeed())

	start(t, nil)
	fresh := s.retried(g, p)
	g.Expect(jobtest.Run(ctx, env.Client, s.job, 1)).To(Succeed())
	g.Expect(jobtest.Complete(ctx, env.Client, s.job)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanCompleted)
	g.Expect(got.Status.ActionResults).To(HaveLen(1))
	live := &batchv1.Job{}
	g.Expect(env.Client.Get(ctx, s.job, live)).To(Succeed())
	g.Expect(live.UID).To(Equal(fresh.UID), "one Job was created, not two")
}

// TestActionsAreRefusedOnTheWrongKind: a RetryJob on a Deployment and a
// ScaleDeployment on a Job never run.
func TestActionsAreRefusedOnTheWrongKind(t *testing.T) {
	start(t, nil)
	t.Run("RetryJobOnADeployment", func(t *testing.T) {
		g := NewWithT(t)
		s := newScenario(t, g, 2)
		p := s.plan(g, "api-oom-plan-1", retryJob)
		g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
		got := waitState(g, p, platformv1alpha1.PlanFailed)
		c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.RemediationPlanPolicyAllowedCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Message).To(ContainSubstring(string(policy.RuleTargetKind)))
		g.Expect(replicas(g, s.deploy)).To(BeEquivalentTo(2))
	})
	t.Run("ScaleDeploymentOnAJob", func(t *testing.T) {
		g := NewWithT(t)
		s := newJobScenario(t, g)
		p := s.plan(g, platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "3"}})
		g.Expect(env.Client.Create(context.Background(), p)).To(Succeed())
		got := waitState(g, p, platformv1alpha1.PlanFailed)
		c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.RemediationPlanPolicyAllowedCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Message).To(ContainSubstring(string(policy.RuleTargetKind)))
		j := &batchv1.Job{}
		g.Expect(env.Client.Get(context.Background(), s.job, j)).To(Succeed())
		g.Expect(string(j.UID)).To(Equal(s.uid))
	})
}

// TestARetryJobInDryRunModeRecordsTheDiff: the plan changes nothing,
// records the server-side dry-run's diff and waits; the approval runs it.
func TestARetryJobInDryRunModeRecordsTheDiff(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	start(t, nil)
	s := newJobScenario(t, g)
	ns := &corev1.Namespace{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: s.ns}, ns)).To(Succeed())
	ns.Labels[ModeLabel] = string(ModeDryRun)
	g.Expect(env.Client.Update(ctx, ns)).To(Succeed())
	p := s.plan(g, retryJob, platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionAdjustJobBackoffLimit, Params: P{"backoffLimit": "4"}})
	g.Expect(env.Client.Create(ctx, p)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanWaitingApproval)
	g.Expect(got.Status.ActionResults).To(HaveLen(2))
	g.Expect(got.Status.ActionResults[0].Result).To(Equal(platformv1alpha1.ActionSkipped))
	g.Expect(got.Status.ActionResults[0].Message).To(And(
		ContainSubstring("dry-run: would delete Job nightly"),
		ContainSubstring(fmt.Sprintf("+  %s: %s/0", actions.AnnotationRetryKey, got.UID))))
	g.Expect(got.Status.ActionResults[1].Message).To(And(ContainSubstring("-  backoffLimit: 2"), ContainSubstring("+  backoffLimit: 4")))
	j := &batchv1.Job{}
	g.Expect(env.Client.Get(ctx, s.job, j)).To(Succeed())
	g.Expect(string(j.UID)).To(Equal(s.uid), "a dry-run deletes nothing")
	g.Expect(*j.Spec.BackoffLimit).To(BeEquivalentTo(2))

	// Approved, it runs for real: the retry, then the backoff limit on the
	// Job the retry created.
	decide(g, p, "approve", "dana", got.Generation)
	fresh := s.retried(g, p)
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, s.job, j)).To(Succeed())
		g.Expect(*j.Spec.BackoffLimit).To(BeEquivalentTo(4))
	}).WithTimeout(30 * time.Second).Should(Succeed())
	g.Expect(j.UID).To(Equal(fresh.UID))
	g.Expect(jobtest.Run(ctx, env.Client, s.job, 1)).To(Succeed())
	g.Expect(jobtest.Complete(ctx, env.Client, s.job)).To(Succeed())
	waitState(g, p, platformv1alpha1.PlanCompleted)
}

// TestAJobRerunWithMoreMemoryCompletes: AdjustJobResources recreates the
// failed Job with the new limit, and the plan verifies the new Job.
func TestAJobRerunWithMoreMemoryCompletes(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	start(t, nil)
	s := newJobScenario(t, g)
	p := s.plan(g, platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionAdjustJobResources, Params: P{"memory_limit": "512Mi"}})
	g.Expect(env.Client.Create(ctx, p)).To(Succeed())
	fresh := s.retried(g, p)
	g.Expect(fresh.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String()).To(Equal("512Mi"))
	g.Expect(jobtest.Run(ctx, env.Client, s.job, 1)).To(Succeed())
	g.Expect(jobtest.Complete(ctx, env.Client, s.job)).To(Succeed())
	got := waitState(g, p, platformv1alpha1.PlanCompleted)
	g.Expect(got.Status.ActionResults[0].Message).To(ContainSubstring("with the resources of container work"))
}

// TestALaterAttemptActsOnTheReRunJob: an earlier attempt re-ran the
// Issue's Job, so the Job now live has another uid; being its re-run
// (retry-of-uid), it is the target the next plan resolves and acts on. A
// Job recreated by hand is not.
func TestALaterAttemptActsOnTheReRunJob(t *testing.T) {
	ctx := context.Background()
	start(t, nil)
	for name, tc := range map[string]struct {
		rerun bool
		state platformv1alpha1.PlanState
	}{
		"ReRun":           {true, platformv1alpha1.PlanCompleted},
		"RecreatedByHand": {false, platformv1alpha1.PlanFailed},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			s := newJobScenario(t, g)
			old := &batchv1.Job{}
			g.Expect(env.Client.Get(ctx, s.job, old)).To(Succeed())
			g.Expect(env.Client.Delete(ctx, old, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
			j := jobtest.New(s.ns, "nightly")
			if tc.rerun {
				j.Annotations = map[string]string{actions.AnnotationRetryOf: s.uid}
			}
			j.Spec.Suspend = ptr.To(true)
			g.Expect(env.Client.Create(ctx, j)).To(Succeed())
			p := s.plan(g, platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionResumeJob})
			p.Name = "nightly-failed-plan-2"
			g.Expect(env.Client.Create(ctx, p)).To(Succeed())
			if tc.state == platformv1alpha1.PlanFailed {
				got := waitState(g, p, tc.state)
				g.Expect(condReason(got, platformv1alpha1.RemediationPlanTargetResolvedCondition)).To(Equal("False/TargetReplaced"))
				return
			}
			g.Eventually(func(g Gomega) {
				g.Expect(env.Client.Get(ctx, s.job, j)).To(Succeed())
				g.Expect(*j.Spec.Suspend).To(BeFalse())
			}).WithTimeout(30 * time.Second).Should(Succeed())
			g.Expect(jobtest.Run(ctx, env.Client, s.job, 1)).To(Succeed())
			got := waitState(g, p, tc.state)
			g.Expect(got.Status.ResolvedTarget.UID).To(Equal(j.UID))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.RemediationPlanTargetResolvedCondition).Message).To(ContainSubstring("a re-run of the Issue's uid " + s.uid))
		})
	}
}
