package postmortem_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/encoding/protojson"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/incidenttest"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/reconcilers/issue"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/reconcilers/postmortem"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/report"
)

// recent is a first detection close enough to now that the report waits
// for every record the Issue names to reach the cache.
func recent() time.Time { return time.Now().Add(-10 * time.Minute).Truncate(time.Second) }

func getPM(g Gomega, ns, issueName string) *platformv1alpha1.PostMortem {
	pm := &platformv1alpha1.PostMortem{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: report.PostMortemName(issueName)}, pm)).To(Succeed())
	return pm
}

// waitWritten waits until the PostMortem of the Issue holds its report.
func waitWritten(t testing.TB, ns, issueName string) *platformv1alpha1.PostMortem {
	t.Helper()
	g := NewWithT(t)
	var pm *platformv1alpha1.PostMortem
	g.Eventually(func(g Gomega) {
		pm = getPM(g, ns, issueName)
		g.Expect(meta.IsStatusConditionTrue(pm.Status.Conditions, platformv1alpha1.PostMortemReadyCondition)).To(BeTrue(), "Ready")
	}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	return pm
}

func noSecrets(g Gomega, what string, v any) {
	data, err := json.Marshal(v)
	g.Expect(err).NotTo(HaveOccurred())
	for _, secret := range []string{incidenttest.PlantedAWSKey, incidenttest.PlantedPassword} {
		g.Expect(string(data)).NotTo(ContainSubstring(secret), "%s holds a planted secret", what)
	}
}

// TestAgenticIncident follows the incident of incidenttest from its
// records to its PostMortem: every field, the timeline in time order, the
// duration, the analyzer's refinement, the promotion once, no planted
// secret anywhere, and nothing written twice by a second writer after a
// restart.
func TestAgenticIncident(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	an := &analyzer{answer: &analyzerv1.SummarizeIncidentResponse{
		Summary:        "A cache leak after v2 restarted api-gateway until an agentic restart and scale-out fixed it",
		LessonsLearned: []string{"Watch memory per pod after a rollout", "the leak dumped DB_PASSWORD=" + incidenttest.PlantedPassword},
	}}
	rem := &remediator{}
	first := startWriter(t, peers{analyzer: an, remediator: rem}, issue.Policy{})

	ns := env.NewNamespace(t, "incident", nil)
	t0 := recent()
	h := incidenttest.AgenticResolution(ns, "gw-oom", t0)
	g.Expect(incidenttest.Create(ctx, env.Client, h)).To(Succeed())

	var pm *platformv1alpha1.PostMortem
	g.Eventually(func(g Gomega) {
		pm = getPM(g, ns, "gw-oom")
		g.Expect(pm.Status.RunbookRef).NotTo(BeNil(), "promoted")
	}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())

	// Identity: owned by the Issue, labelled for the correlator and trends.
	g.Expect(metav1.IsControlledBy(pm, h.Issue)).To(BeTrue(), "the Issue is the PostMortem's controller owner")
	g.Expect(pm.Labels).To(Equal(map[string]string{
		platformv1alpha1.LabelIssue:       "gw-oom",
		platformv1alpha1.LabelResourceKey: report.ResourceKey(h.Issue.Spec.Resource),
		platformv1alpha1.LabelSignalType:  "oom_kill",
		platformv1alpha1.LabelIncidentID:  "INC-20260216-001",
	}))
	g.Expect(pm.Spec.IssueRef.Name).To(Equal("gw-oom"))
	g.Expect(pm.Spec.Resource).To(Equal(h.Issue.Spec.Resource))
	g.Expect(pm.Spec.Severity).To(Equal(platformv1alpha1.SeverityHigh))
	g.Expect(pm.Spec.IncidentID).To(Equal("INC-20260216-001"))
	g.Expect(pm.Spec.InsightRef).To(Equal(&platformv1alpha1.LocalObjectReference{Name: "gw-oom-insight-2"}), "the insight of the attempt that worked")
	g.Expect(pm.Spec.PlanRefs).To(Equal([]platformv1alpha1.LocalObjectReference{{Name: "gw-oom-plan-1"}, {Name: "gw-oom-plan-2"}}))

	// The report.
	st := pm.Status
	g.Expect(st.State).To(Equal(platformv1alpha1.PostMortemOpen))
	g.Expect(st.Summary).To(Equal(an.answer.Summary), "the analyzer refines the summary")
	g.Expect(st.RootCause).To(Equal("A cache leak after the v2 rollout; the AI saw AWS key [REDACTED:aws_key] in the env"), "the agentic resolution's, scrubbed")
	g.Expect(st.Impact).To(Equal(incidenttest.AgenticImpact), "the agentic resolution's, which the analyzer left alone")
	g.Expect(st.LessonsLearned).To(Equal([]string{"Watch memory per pod after a rollout", "the leak dumped DB_PASSWORD=[REDACTED:password]"}))
	g.Expect(st.PreventionActions).To(Equal([]string{"Configure HPA with min 3 replicas for api-gateway"}))
	g.Expect(st.Duration).To(Equal(&metav1.Duration{Duration: 10 * time.Minute}), "from the first Anomaly to the resolution")
	g.Expect(st.GeneratedAt).NotTo(BeNil())
	g.Expect(st.RunbookRef).To(Equal(&platformv1alpha1.LocalObjectReference{Name: "gw-oom-plan-2-runbook"}))
	g.Expect(meta.IsStatusConditionTrue(st.Conditions, platformv1alpha1.PostMortemSummarizedCondition)).To(BeTrue())
	g.Expect(meta.IsStatusConditionTrue(st.Conditions, platformv1alpha1.PostMortemRunbookPromotedCondition)).To(BeTrue())
	g.Expect(st.Recurrence).To(Equal(&platformv1alpha1.PostMortemRecurrence{Count: 0, Window: &metav1.Duration{Duration: report.RecurrenceWindow}}))

	var types []string
	for i, e := range st.Timeline {
		types = append(types, e.Type)
		if i > 0 {
			g.Expect(e.Timestamp.Before(&st.Timeline[i-1].Timestamp)).To(BeFalse(), "timeline entry %d (%s) comes before the one ahead of it", i, e.Type)
		}
	}
	g.Expect(types).To(Equal([]string{
		"anomaly_detected", "detected", "analysis_requested", "anomaly_detected", "insight_generated", "remediation_started",
		"action_rolled_back", "verification_failed", "rollback", "plan_rolledback", "retrying", "insight_generated", "remediation_started",
		"agentic_step", "action_executed", "agentic_step", "action_executed", "agentic_step", "verification_passed", "plan_completed", "resolved",
	}))
	g.Expect(st.Timeline[0].Timestamp.Time).To(BeTemporally("==", t0), "the first detection opens the timeline")
	g.Expect(st.Timeline[len(st.Timeline)-1].Timestamp.Time).To(BeTemporally("==", h.Issue.Status.ResolvedAt.Time))

	g.Expect(st.ActionsExecuted).To(HaveLen(3))
	g.Expect(st.ActionsExecuted[0]).To(And(
		HaveField("Action", platformv1alpha1.ActionAdjustResources),
		HaveField("Params", platformv1alpha1.ActionParams{"memory_limit": "1Gi"}),
		HaveField("Result", platformv1alpha1.ActionRolledBack)))
	g.Expect(st.ActionsExecuted[2]).To(And(
		HaveField("Action", platformv1alpha1.ActionScaleDeployment),
		HaveField("Params", platformv1alpha1.ActionParams{"replicas": "5"}),
		HaveField("Result", platformv1alpha1.ActionSucceeded)))

	// No planted secret reached the CR, nor the analyzer.
	noSecrets(g, "the PostMortem", pm)
	calls := an.calls()
	g.Expect(calls).To(HaveLen(1))
	sent, err := protojson.Marshal(calls[0])
	g.Expect(err).NotTo(HaveOccurred())
	for _, secret := range []string{incidenttest.PlantedAWSKey, incidenttest.PlantedPassword} {
		g.Expect(string(sent)).NotTo(ContainSubstring(secret), "SummarizeIncident was sent a planted secret")
	}
	g.Expect(calls[0].GetTimeline()).To(HaveLen(len(st.Timeline)))
	g.Expect(calls[0].GetIncidentId()).To(Equal("INC-20260216-001"))
	g.Expect(rem.promotions()).To(Equal(map[string]int{ns + "/gw-oom-plan-2": 1}))

	// A restart: the next writer finds the report written and the Runbook
	// promoted, and writes and calls nothing.
	first.stop()
	startWriter(t, peers{analyzer: an, remediator: rem}, issue.Policy{})
	g.Consistently(func(g Gomega) {
		list := &platformv1alpha1.PostMortemList{}
		g.Expect(env.Client.List(ctx, list, client.InNamespace(ns))).To(Succeed())
		g.Expect(list.Items).To(HaveLen(1))
		g.Expect(list.Items[0].Status.GeneratedAt.Equal(st.GeneratedAt)).To(BeTrue(), "the report is not rewritten")
		g.Expect(list.Items[0].ResourceVersion).To(Equal(pm.ResourceVersion))
	}).WithTimeout(4 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	g.Expect(an.calls()).To(HaveLen(1), "the analyzer is not asked again")
	g.Expect(rem.promotions()).To(Equal(map[string]int{ns + "/gw-oom-plan-2": 1}), "promoted once")
}

// TestEscalatedIncident checks an escalation: a PostMortem at the default
// severity threshold, written from the records alone when the analyzer
// fails, with nothing promoted; and none for an escalation below the
// threshold.
func TestEscalatedIncident(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	an := &analyzer{fail: true}
	rem := &remediator{}
	startWriter(t, peers{analyzer: an, remediator: rem, markdown: true}, issue.Policy{})

	ns := env.NewNamespace(t, "escalated", nil)
	high := incidenttest.Escalated(ns, "gw-high", recent())
	g.Expect(incidenttest.Create(ctx, env.Client, high)).To(Succeed())
	low := incidenttest.Escalated(ns, "gw-low", recent())
	low.Issue.Spec.Severity = platformv1alpha1.SeverityLow
	low.Issue.Spec.Resource.Name = "batch"
	for i := range low.Anomalies {
		low.Anomalies[i].Spec.Resource.Name = "batch"
	}
	g.Expect(incidenttest.Create(ctx, env.Client, low)).To(Succeed())

	pm := waitWritten(t, ns, "gw-high")
	st := pm.Status
	g.Expect(st.State).To(Equal(platformv1alpha1.PostMortemOpen))
	g.Expect(st.Summary).To(Equal("INC-20260216-001: oom_kill on Deployment " + ns + "/api-gateway (high) was escalated to people after 2 attempt(s): AttemptsExhausted"))
	g.Expect(st.RootCause).To(Equal("A cache leak after the v2 rollout outgrows any memory limit"), "the last insight's analysis")
	g.Expect(st.LessonsLearned).To(ContainElement("The platform could not fix this on its own (AttemptsExhausted); people took over"))
	g.Expect(st.Duration).To(Equal(&metav1.Duration{Duration: 10 * time.Minute}))
	g.Expect(st.Timeline[len(st.Timeline)-1].Type).To(Equal("escalated"))
	cond := meta.FindStatusCondition(st.Conditions, platformv1alpha1.PostMortemSummarizedCondition)
	g.Expect(cond).NotTo(BeNil())
	g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(cond.Reason).To(Equal(platformv1alpha1.PostMortemAnalyzerFailedReason))
	g.Expect(an.calls()).NotTo(BeEmpty(), "the analyzer was asked")
	noSecrets(g, "the PostMortem", pm)

	// The Markdown copy beside it, owned by it.
	g.Eventually(func(g Gomega) {
		cm := &corev1.ConfigMap{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: postmortem.MarkdownConfigMapName(pm.Name)}, cm)).To(Succeed())
		g.Expect(metav1.IsControlledBy(cm, pm)).To(BeTrue())
		g.Expect(cm.Data[postmortem.MarkdownKey]).To(Equal(report.Render(getPM(g, ns, "gw-high"))))
	}).WithTimeout(20 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())

	g.Consistently(func(g Gomega) {
		g.Expect(rem.promotions()).To(BeEmpty(), "nothing is promoted after an escalation")
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: report.PostMortemName("gw-low")}, &platformv1alpha1.PostMortem{})
		g.Expect(client.IgnoreNotFound(err)).To(Succeed())
		g.Expect(err).To(HaveOccurred(), "a low-severity escalation gets no PostMortem by default")
		g.Expect(getPM(g, ns, "gw-high").Status.RunbookRef).To(BeNil())
	}).WithTimeout(3 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
}

// TestRecurrence checks the trend: earlier PostMortems of the same
// resource and signal type within 30 days are counted and named, the most
// recent first; older ones, and other resources, are not.
func TestRecurrence(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	startWriter(t, peers{}, issue.Policy{})
	ns := env.NewNamespace(t, "recurring", nil)
	now := time.Now().Add(-time.Hour).Truncate(time.Second)
	day := 24 * time.Hour
	for name, t0 := range map[string]time.Time{
		"gw-45d": now.Add(-45 * day), "gw-20d": now.Add(-20 * day), "gw-3d": now.Add(-3 * day), "gw-now": now,
	} {
		g.Expect(incidenttest.Create(ctx, env.Client, incidenttest.AgenticResolution(ns, name, t0))).To(Succeed())
	}
	other := incidenttest.AgenticResolution(ns, "other-3d", now.Add(-3*day))
	other.Issue.Spec.Resource.Name = "billing"
	g.Expect(incidenttest.Create(ctx, env.Client, other)).To(Succeed())

	g.Eventually(func(g Gomega) {
		rec := getPM(g, ns, "gw-now").Status.Recurrence
		g.Expect(rec).NotTo(BeNil())
		g.Expect(rec.Count).To(BeEquivalentTo(2))
		var names []string
		for _, p := range rec.PostMortems {
			names = append(names, p.Name)
			g.Expect(p.Namespace).To(Equal(ns))
			g.Expect(p.IncidentID).To(Equal("INC-20260216-001"))
		}
		g.Expect(names).To(Equal([]string{"pm-gw-3d", "pm-gw-20d"}))
		g.Expect(rec.PostMortems[0].DetectedAt.Time).To(BeTemporally("==", now.Add(-3*day)))
	}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	for name, want := range map[string][]string{"gw-20d": {"pm-gw-45d"}, "gw-45d": nil, "other-3d": nil} {
		g.Eventually(func(g Gomega) {
			rec := getPM(g, ns, name).Status.Recurrence
			g.Expect(rec).NotTo(BeNil())
			var names []string
			for _, p := range rec.PostMortems {
				names = append(names, p.Name)
			}
			g.Expect(names).To(Equal(want), "%s: 25 days back is in the window, 45 is not, and another resource never counts", name)
			g.Expect(rec.Count).To(BeEquivalentTo(len(want)))
		}).WithTimeout(30 * time.Second).Should(Succeed())
	}
}
