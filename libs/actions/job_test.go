package actions_test

import (
	"context"
	"errors"
	"regexp"
	"testing"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/actions/jobtest"
)

// failedJob creates a Job (the API server generates its selector and
// labels) and plays its run to failure.
func failedJob(t *testing.T, g Gomega, ns, name string, change func(*batchv1.Job)) (*batchv1.Job, platformv1alpha1.ResourceReference) {
	ctx := context.Background()
	j := jobtest.New(ns, name)
	if change != nil {
		change(j)
	}
	g.Expect(env.Client.Create(ctx, j)).To(Succeed())
	key := client.ObjectKeyFromObject(j)
	g.Expect(jobtest.Run(ctx, env.Client, key, 1)).To(Succeed())
	g.Expect(jobtest.Fail(ctx, env.Client, key)).To(Succeed())
	g.Expect(env.Client.Get(ctx, key, j)).To(Succeed())
	if j.Spec.ManualSelector == nil || !*j.Spec.ManualSelector {
		g.Expect(j.Spec.Selector.MatchLabels).To(HaveKeyWithValue(batchv1.ControllerUidLabel, string(j.UID)), "the API server generated the selector")
	}
	return j, platformv1alpha1.ResourceReference{Kind: "Job", Namespace: ns, Name: name, UID: j.UID}
}

func retryRequest(target platformv1alpha1.ResourceReference, plan types.UID, fence int64) actions.Request {
	return actions.Request{Target: target, Action: platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRetryJob},
		Key: string(plan) + "/0", Plan: plan, Fence: fence}
}

func runJob(ctx context.Context, ex actions.Executor, req actions.Request) (string, actions.Outcome, error) {
	snap, err := ex.Snapshot(ctx, req)
	if err != nil {
		return "", actions.Outcome{}, err
	}
	out, err := ex.Apply(ctx, req, snap)
	return snap, out, err
}

func TestRetryJobRecreatesTheFailedJob(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.NewNamespace(t, "retry", nil)
	ex := actions.NewExecutors(env.Client)
	old, target := failedJob(t, g, ns, "nightly", func(j *batchv1.Job) {
		j.Annotations = map[string]string{"team": "data"}
	})
	key := client.ObjectKeyFromObject(old)
	req := retryRequest(target, "plan-a", 5)

	// A dry-run sends the delete and the create to the server and changes
	// nothing; its diff shows the generated selector and labels dropped.
	dry := req
	dry.DryRun = true
	_, out, err := runJob(ctx, ex, dry)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Changed).To(ConsistOf("Job/" + ns + "/nightly"))
	diff := actions.UnifiedDiff(out.Before, out.After)
	g.Expect(diff).To(And(MatchRegexp(`(?m)^-\s+`+regexp.QuoteMeta(batchv1.ControllerUidLabel)), ContainSubstring("+  "+actions.AnnotationRetryKey+": plan-a/0")))
	live := &batchv1.Job{}
	g.Expect(env.Client.Get(ctx, key, live)).To(Succeed())
	g.Expect(live.UID).To(Equal(old.UID))

	snap, out, err := runJob(ctx, ex, req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Message).To(ContainSubstring("re-ran Job nightly"))
	g.Expect(env.Client.Get(ctx, key, live)).To(Succeed())
	g.Expect(live.UID).NotTo(Equal(old.UID))
	g.Expect(live.Annotations).To(And(
		HaveKeyWithValue(actions.AnnotationRetryKey, "plan-a/0"),
		HaveKeyWithValue(actions.AnnotationRetriedFrom, string(old.UID)),
		HaveKeyWithValue(actions.AnnotationFence, "5"),
		HaveKeyWithValue("team", "data")))
	// The API server generated a selector and labels for the new uid.
	g.Expect(live.Spec.Selector.MatchLabels).To(HaveKeyWithValue(batchv1.ControllerUidLabel, string(live.UID)))
	g.Expect(live.Spec.Template.Labels).To(And(HaveKeyWithValue(batchv1.ControllerUidLabel, string(live.UID)), HaveKeyWithValue("app", "nightly")))
	g.Expect(live.Status.Conditions).To(BeEmpty())

	// Applying again (a resume after the create) creates no second Job.
	out, err = ex.Apply(ctx, req, snap)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Message).To(ContainSubstring("already re-ran"))
	again := &batchv1.Job{}
	g.Expect(env.Client.Get(ctx, key, again)).To(Succeed())
	g.Expect(again.UID).To(Equal(live.UID))

	// The new Job stands for the target in this plan and, as a re-run of
	// the target, outside any plan; never in another plan.
	g.Expect(live.Annotations).To(HaveKeyWithValue(actions.AnnotationRetryOf, string(old.UID)))
	for _, plan := range []types.UID{"plan-a", ""} {
		obj, err := ex.Live(ctx, target, plan)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(obj.GetUID()).To(Equal(live.UID))
	}
	_, err = ex.Live(ctx, target, "plan-b")
	g.Expect(errors.Is(err, actions.ErrTargetReplaced)).To(BeTrue(), "%v", err)

	// A Job that ran cannot be un-run: the restore writes nothing and
	// says so.
	out, err = ex.Restore(ctx, req, snap)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.NotUndone).To(BeTrue())
	g.Expect(out.Message).To(ContainSubstring("cannot be un-run"))
	g.Expect(env.Client.Get(ctx, key, again)).To(Succeed())
	g.Expect(again.UID).To(Equal(live.UID))
}

// TestRetryJobResumesAfterACrashBetweenDeleteAndCreate: the old Job is
// gone and nothing was created; applying the recorded snapshot again
// creates the Job once.
func TestRetryJobResumesAfterACrashBetweenDeleteAndCreate(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.NewNamespace(t, "resume", nil)
	ex := &actions.JobExecutor{Client: env.Client}
	old, target := failedJob(t, g, ns, "etl", nil)
	req := retryRequest(target, "plan-c", 2)
	snap, err := ex.Snapshot(ctx, req)
	g.Expect(err).NotTo(HaveOccurred())
	// What the executor does before the crash.
	g.Expect(env.Client.Delete(ctx, old, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())

	out, err := ex.Apply(ctx, req, snap)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Changed).To(HaveLen(1))
	live := &batchv1.Job{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(old), live)).To(Succeed())
	g.Expect(live.UID).NotTo(Equal(old.UID))
	g.Expect(live.Annotations).To(HaveKeyWithValue(actions.AnnotationRetryKey, "plan-c/0"))
}

func TestRetryJobRefusals(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "refuse", nil)
	ex := &actions.JobExecutor{Client: env.Client}
	key := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

	t.Run("a Job that has not failed", func(t *testing.T) {
		g := NewWithT(t)
		j := jobtest.New(ns, "running")
		g.Expect(env.Client.Create(ctx, j)).To(Succeed())
		g.Expect(jobtest.Run(ctx, env.Client, key("running"), 1)).To(Succeed())
		_, err := ex.Snapshot(ctx, retryRequest(platformv1alpha1.ResourceReference{Kind: "Job", Namespace: ns, Name: "running", UID: j.UID}, "p", 1))
		g.Expect(err).To(MatchError(ContainSubstring("has not failed")))
	})
	t.Run("a newer lock holder wrote the Job", func(t *testing.T) {
		g := NewWithT(t)
		j, target := failedJob(t, g, ns, "fenced", nil)
		j.Annotations = map[string]string{actions.AnnotationFence: "9"}
		g.Expect(env.Client.Update(ctx, j)).To(Succeed())
		_, _, err := runJob(ctx, ex, retryRequest(target, "p", 3))
		g.Expect(errors.Is(err, actions.ErrStaleFence)).To(BeTrue(), "%v", err)
		g.Expect(env.Client.Get(ctx, key("fenced"), j)).To(Succeed())
		g.Expect(j.UID).To(Equal(target.UID), "not deleted")
	})
	t.Run("someone else recreated the Job", func(t *testing.T) {
		g := NewWithT(t)
		j, target := failedJob(t, g, ns, "replaced", nil)
		req := retryRequest(target, "p", 1)
		snap, err := ex.Snapshot(ctx, req)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(env.Client.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
		g.Expect(env.Client.Create(ctx, jobtest.New(ns, "replaced"))).To(Succeed())
		_, err = ex.Apply(ctx, req, snap)
		g.Expect(errors.Is(err, actions.ErrTargetReplaced)).To(BeTrue(), "%v", err)
	})
	t.Run("a manual selector is kept", func(t *testing.T) {
		g := NewWithT(t)
		_, target := failedJob(t, g, ns, "manual", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "manual"}}
		})
		_, _, err := runJob(ctx, ex, retryRequest(target, "p", 1))
		g.Expect(err).NotTo(HaveOccurred())
		live := &batchv1.Job{}
		g.Expect(env.Client.Get(ctx, key("manual"), live)).To(Succeed())
		g.Expect(live.UID).NotTo(Equal(target.UID))
		g.Expect(live.Spec.Selector.MatchLabels).To(Equal(map[string]string{"app": "manual"}))
	})
	t.Run("a Deployment target", func(t *testing.T) {
		g := NewWithT(t)
		_, err := actions.NewExecutors(env.Client).Snapshot(ctx, actions.Request{
			Target: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "nope"},
			Action: platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionRetryJob}})
		g.Expect(err).To(HaveOccurred())
	})
}

// TestAdjustJobResourcesRecreatesTheJobWithThem: a Job's pod template is
// immutable, so new resources take a new Job, made as RetryJob makes it.
func TestAdjustJobResourcesRecreatesTheJobWithThem(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.NewNamespace(t, "jobres", nil)
	ex := actions.NewExecutors(env.Client)
	old, target := failedJob(t, g, ns, "oom", nil)
	req := actions.Request{Target: target, Key: "plan-r/0", Plan: "plan-r", Fence: 1,
		Action: platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionAdjustJobResources, Params: P{"memory_limit": "512Mi"}}}

	dry := req
	dry.DryRun = true
	_, out, err := runJob(ctx, ex, dry)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(actions.UnifiedDiff(out.Before, out.After)).To(And(ContainSubstring("-            memory: 256Mi"), ContainSubstring("+            memory: 512Mi")))

	// A limit below the current request is refused before anything is deleted.
	bad := req
	bad.Action.Params = P{"memory_limit": "64Mi"}
	_, _, err = runJob(ctx, ex, bad)
	g.Expect(err).To(MatchError(ContainSubstring("below its request")))
	live := &batchv1.Job{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(old), live)).To(Succeed())
	g.Expect(live.UID).To(Equal(old.UID))

	snap, out, err := runJob(ctx, ex, req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Message).To(ContainSubstring("with the resources of container work"))
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(old), live)).To(Succeed())
	g.Expect(live.UID).NotTo(Equal(old.UID))
	g.Expect(live.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String()).To(Equal("512Mi"))
	g.Expect(live.Annotations).To(HaveKeyWithValue(actions.AnnotationRetryKey, "plan-r/0"))
	out, err = ex.Restore(ctx, req, snap)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.NotUndone).To(BeTrue())
}

func TestJobSettingsApplyAndRestore(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "settings", nil)
	ex := actions.NewExecutors(env.Client)
	for _, tc := range []struct {
		name   string
		action platformv1alpha1.RemediationAction
		check  func(g Gomega, j *batchv1.Job)
	}{
		{"suspend", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionSuspendJob},
			func(g Gomega, j *batchv1.Job) { g.Expect(*j.Spec.Suspend).To(BeTrue()) }},
		{"parallelism", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionAdjustJobParallelism, Params: P{"parallelism": "3"}},
			func(g Gomega, j *batchv1.Job) { g.Expect(*j.Spec.Parallelism).To(BeEquivalentTo(3)) }},
		{"deadline", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionAdjustJobDeadline, Params: P{"activeDeadlineSeconds": "900"}},
			func(g Gomega, j *batchv1.Job) { g.Expect(*j.Spec.ActiveDeadlineSeconds).To(BeEquivalentTo(900)) }},
		{"backoff", platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionAdjustJobBackoffLimit, Params: P{"backoffLimit": "5"}},
			func(g Gomega, j *batchv1.Job) { g.Expect(*j.Spec.BackoffLimit).To(BeEquivalentTo(5)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			j := jobtest.New(ns, "job-"+tc.name)
			g.Expect(env.Client.Create(ctx, j)).To(Succeed())
			key := client.ObjectKeyFromObject(j)
			before := j.Spec.DeepCopy()
			target := platformv1alpha1.ResourceReference{Kind: "Job", Namespace: ns, Name: j.Name, UID: j.UID}
			req := actions.Request{Target: target, Action: tc.action, Key: "plan/0", Plan: "plan", Fence: 4}

			dry := req
			dry.DryRun = true
			_, out, err := runJob(ctx, ex, dry)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(actions.UnifiedDiff(out.Before, out.After)).NotTo(BeEmpty())
			g.Expect(env.Client.Get(ctx, key, j)).To(Succeed())
			g.Expect(j.Spec).To(Equal(*before), "a dry-run changes nothing")

			snap, _, err := runJob(ctx, ex, req)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(env.Client.Get(ctx, key, j)).To(Succeed())
			tc.check(g, j)
			g.Expect(j.Annotations).To(HaveKeyWithValue(actions.AnnotationFence, "4"))

			gen := j.Generation
			_, err = ex.Apply(ctx, req, snap)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(env.Client.Get(ctx, key, j)).To(Succeed())
			g.Expect(j.Generation).To(Equal(gen), "applying again changes nothing")

			stale := req
			stale.Fence = 1
			_, err = ex.Restore(ctx, stale, snap)
			g.Expect(errors.Is(err, actions.ErrStaleFence)).To(BeTrue(), "%v", err)

			_, err = ex.Restore(ctx, req, snap)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(env.Client.Get(ctx, key, j)).To(Succeed())
			g.Expect(j.Spec).To(Equal(*before))
		})
	}

	t.Run("resume", func(t *testing.T) {
		g := NewWithT(t)
		j := jobtest.New(ns, "job-resume")
		j.Spec.Suspend = ptr.To(true)
		g.Expect(env.Client.Create(ctx, j)).To(Succeed())
		target := platformv1alpha1.ResourceReference{Kind: "Job", Namespace: ns, Name: j.Name, UID: j.UID}
		req := actions.Request{Target: target, Action: platformv1alpha1.RemediationAction{Type: platformv1alpha1.ActionResumeJob}, Key: "plan/0", Fence: 1}
		snap, out, err := runJob(ctx, ex, req)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(out.Message).To(Equal("resumed the Job"))
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(j), j)).To(Succeed())
		g.Expect(*j.Spec.Suspend).To(BeFalse())
		_, err = ex.Restore(ctx, req, snap)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(j), j)).To(Succeed())
		g.Expect(*j.Spec.Suspend).To(BeTrue())
	})
}
