package issue

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// TestAResolvedIssueIsRetiredAfterItsRetention resolves an Issue, then
// moves the clock past the retention: the Issue waits while an Anomaly
// still names it, then goes, and its PostMortem stays, released from it.
func TestAResolvedIssueIsRetiredAfterItsRetention(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	p := startPeers(t)
	startReconcilerWith(t, &Reconciler{Now: now, Retention: time.Hour}, p)
	ns := env.NewNamespace(t, "retire", nil)
	issue := newIssue(ns, "checkout-oom")
	g.Expect(env.Client.Create(ctx, issue)).To(Succeed())
	key := client.ObjectKeyFromObject(issue)
	decideInsight(t, ns, "checkout-oom-insight", metav1.ConditionTrue)
	waitState(t, key, platformv1alpha1.IssueRemediating)
	endPlan(t, ns, "checkout-oom-plan-1", platformv1alpha1.PlanCompleted)
	resolved := waitState(t, key, platformv1alpha1.IssueResolved)

	// What the postmortem-writer and the watcher-bridge leave behind.
	pm := &platformv1alpha1.PostMortem{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-oom-postmortem", Labels: map[string]string{platformv1alpha1.LabelIssue: issue.Name}},
		Spec: platformv1alpha1.PostMortemSpec{
			IssueRef: platformv1alpha1.LocalObjectReference{Name: issue.Name}, Resource: issue.Spec.Resource, Severity: issue.Spec.Severity,
		},
	}
	g.Expect(controllerutil.SetControllerReference(resolved, pm, env.Scheme)).To(Succeed())
	g.Expect(env.Client.Create(ctx, pm)).To(Succeed())
	anomaly := &platformv1alpha1.Anomaly{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-oom-kill", Labels: map[string]string{
			platformv1alpha1.LabelResourceKind: "Deployment", platformv1alpha1.LabelIssue: issue.Name}},
		Spec: platformv1alpha1.AnomalySpec{
			SignalType: platformv1alpha1.SignalOOMKill, Source: platformv1alpha1.SourceWatcher, Resource: issue.Spec.Resource,
			Severity: platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityHigh), DetectedAt: metav1.Now(),
		},
	}
	g.Expect(env.Client.Create(ctx, anomaly)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := get(g, key)
		g.Expect(got.Status.PostMortemRef).To(Equal(&platformv1alpha1.LocalObjectReference{Name: pm.Name}))
		g.Expect(got.Status.Conditions).To(ContainElement(And(
			HaveField("Type", platformv1alpha1.IssueDedupReleasedCondition), HaveField("Status", metav1.ConditionTrue))))
	}).WithTimeout(lifecycleTimeout).Should(Succeed())

	// Within the retention nothing goes.
	poke := func(value string) {
		t.Helper()
		got := get(g, key)
		patch := client.MergeFrom(got.DeepCopy())
		metav1.SetMetaDataAnnotation(&got.ObjectMeta, "test/poke", value)
		g.Expect(env.Client.Patch(ctx, got, patch)).To(Succeed())
	}
	poke("1")
	g.Consistently(func() error { return env.Client.Get(ctx, key, &platformv1alpha1.Issue{}) }).
		WithTimeout(2 * time.Second).Should(Succeed())

	// Past it, the Anomaly still naming the Issue holds it.
	skew.Store(int64(2 * time.Hour))
	poke("2")
	g.Consistently(func() error { return env.Client.Get(ctx, key, &platformv1alpha1.Issue{}) }).
		WithTimeout(2 * time.Second).Should(Succeed())

	// Once the Anomaly is gone (its deletion wakes the Issue), the Issue goes
	// and its PostMortem stays, with no owner that would take it along.
	g.Expect(env.Client.Delete(ctx, anomaly)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, key, &platformv1alpha1.Issue{}))
	}).WithTimeout(lifecycleTimeout).Should(BeTrue())
	kept := &platformv1alpha1.PostMortem{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pm), kept)).To(Succeed())
	g.Expect(kept.OwnerReferences).To(BeEmpty())
}
