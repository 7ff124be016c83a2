package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/e2e/scenario"
	"github.com/chatcli/aiops/libs/grpcx"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
)

// runbookLimit is the memory limit the team's Runbook sets: not what the
// offline analyzer would choose, so the limit tells which tier acted.
const runbookLimit = "192Mi"

// TestAManualRunbookTakesPrecedenceOverTheAI is scenario 6: the namespace
// holds the team's own OOM Runbook, and the OOM Issue is healed by it, not
// by the actions the analysis suggested. The Runbook matches on signal
// type, resource kind and severity (tier 1); the Issue's severity depends
// on which of the fault's signals joined before the plan, so the team
// keeps one Runbook per severity, as people do.
func TestAManualRunbookTakesPrecedenceOverTheAI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := scenario.OOM()
	f.Prepare = func(ctx context.Context, c client.Client, ns string) error {
		return runbookPerSeverity(ctx, c, ns, "oom", platformv1alpha1.SignalOOMKill,
			"The team's fix for an OOMKilled Deployment: a fixed, reviewed memory limit",
			platformv1alpha1.RunbookStep{
				Name: "raise the memory limit", Action: platformv1alpha1.ActionAdjustResources,
				Params: platformv1alpha1.ActionParams{"memory_limit": runbookLimit},
			})
	}
	ns, tracker := injectUntilAnalyzing(ctx, t, f, platformv1alpha1.SignalOOMKill)
	inc, ok := tracker.Wait(ctx, f.App, 3*time.Minute, 30*time.Second, func(i *scenario.Incident) bool { return i.State().IsTerminal() })
	if !ok {
		loopMissing(t, "the Issue did not reach a terminal state: "+describe(&inc))
	}
	if inc.State() != platformv1alpha1.IssueResolved {
		t.Fatalf("Issue %s ended %s: %s", inc.Issue.Name, inc.State(), describe(&inc))
	}
	var runbook string
	for _, p := range inc.Plans {
		if p.Status.State != platformv1alpha1.PlanCompleted {
			continue
		}
		if got := p.Labels[platformv1alpha1.LabelPlanSource]; got != platformv1alpha1.PlanSourceRunbook {
			t.Errorf("the Completed plan %s came from %q, want the runbook tier", p.Name, got)
		}
		if p.Spec.RunbookRef == nil {
			t.Fatalf("the Completed plan %s names no Runbook", p.Name)
		}
		runbook = p.Spec.RunbookRef.Name
		// The severity may still rise after the plan (a later signal joins),
		// so any of the team's OOM Runbooks is right.
		if !strings.HasPrefix(runbook, "oom-") {
			t.Errorf("plan %s used Runbook %s, not one of the team's OOM Runbooks", p.Name, runbook)
		}
	}
	if runbook == "" {
		t.Fatalf("no Completed plan: %s", describe(&inc))
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := scenario.Available(ctx, env.Client, ns, f.App)
		if err != nil {
			return false, nil
		}
		limit := d.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]
		return limit.Cmp(resource.MustParse(runbookLimit)) == 0, nil
	})
	if err != nil {
		t.Errorf("Deployment %s is not available with the Runbook's memory limit %s", f.App, runbookLimit)
	}
	// The Runbook's record counts the use.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		rb := &platformv1alpha1.Runbook{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: runbook}, rb); err != nil {
			return false, nil
		}
		return rb.Status.TimesUsed >= 1 && rb.Status.TimesSucceeded >= 1, nil
	})
	if err != nil {
		t.Errorf("Runbook %s does not count its successful use", runbook)
	}
}

// TestDryRunModeWaitsForApproval is scenario 11: in a namespace labelled
// for dry-run mode, the plan records the diff of each action and waits;
// nothing changes in the cluster until a person approves it, and then the
// plan runs and heals the fault.
func TestDryRunModeWaitsForApproval(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := scenario.OOM()
	f.Prepare = func(ctx context.Context, c client.Client, ns string) error {
		nsObj := &corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
			return err
		}
		patch := client.MergeFrom(nsObj.DeepCopy())
		metav1.SetMetaDataLabel(&nsObj.ObjectMeta, "chatcli.io/remediation-mode", "dry-run")
		return c.Patch(ctx, nsObj, patch)
	}
	ns, tracker := injectUntilAnalyzing(ctx, t, f, platformv1alpha1.SignalOOMKill)
	var waiting *platformv1alpha1.RemediationPlan
	inc, ok := tracker.Wait(ctx, f.App, 2*time.Minute, 30*time.Second, func(i *scenario.Incident) bool {
		for _, p := range i.Plans {
			if p.Status.State == platformv1alpha1.PlanWaitingApproval {
				waiting = p
				return true
			}
		}
		return i.State().IsTerminal()
	})
	if !ok || waiting == nil {
		loopMissing(t, "no plan waiting for approval: "+describe(&inc))
	}
	if len(waiting.Status.ActionResults) == 0 {
		t.Fatalf("plan %s waits with no dry-run result", waiting.Name)
	}
	for _, r := range waiting.Status.ActionResults {
		if r.Result != platformv1alpha1.ActionSkipped {
			t.Errorf("plan %s action %s is %s in dry-run mode, want Skipped", waiting.Name, r.Type, r.Result)
		}
	}
	if msg := waiting.Status.ActionResults[0].Message; !containsAll(msg, "dry-run", "memory") {
		t.Errorf("the dry-run result does not show the change: %q", msg)
	}
	// Nothing has changed: the Deployment still has its first template.
	d, err := scenario.Available(ctx, env.Client, ns, f.App)
	if d == nil {
		t.Fatalf("Deployment %s: %v", f.App, err)
	}
	if d.Generation != 1 {
		t.Errorf("Deployment %s was changed (generation %d) while its plan waits for approval", f.App, d.Generation)
	}
	if limit := d.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]; limit.String() != scenario.OOMLimit {
		t.Errorf("memory limit is %s while the plan waits, want the untouched %s", limit.String(), scenario.OOMLimit)
	}

	// A person approves what they read (uid and generation), as
	// RemediatorService.ApprovePlan records it.
	approve(ctx, t, waiting)
	inc, ok = tracker.Wait(ctx, f.App, 2*time.Minute, 30*time.Second, func(i *scenario.Incident) bool { return i.State().IsTerminal() })
	if !ok || inc.State() != platformv1alpha1.IssueResolved {
		t.Fatalf("after the approval the Issue did not resolve: %s", describe(&inc))
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		return f.Healed(ctx, env.Client, ns) == nil, nil
	})
	if err != nil {
		t.Errorf("%s not healed after the approval: %v", f.App, f.Healed(ctx, env.Client, ns))
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// approve calls RemediatorService.ApprovePlan on the remediator, over TLS
// with the platform's token, for the plan as the approver read it.
func approve(ctx context.Context, t *testing.T, plan *platformv1alpha1.RemediationPlan) {
	t.Helper()
	conn, err := grpcx.Dial(env.Services["remediator"].GRPCAddr, grpcx.ClientConfig{CAFile: env.PKI.CAFile, TokenFile: env.TokenFile})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_, err = remediatorv1.NewRemediatorServiceClient(conn).ApprovePlan(ctx, &remediatorv1.ApprovePlanRequest{
		Plan:     &commonv1.ObjectRef{Namespace: plan.Namespace, Name: plan.Name},
		Approver: "e2e-sre", Reason: "the diff is what we want",
		PlanUid: string(plan.UID), PlanGeneration: plan.Generation,
	})
	if err != nil {
		t.Fatalf("approve plan %s: %v", plan.Name, err)
	}
}

// TestAWrongFixThatDoesNotHoldIsReplaced is scenario 4: the team's Runbook
// for an OOM only restarts the Deployment, which does not help. The
// restarted pods are OOMKilled again inside the stability window, the
// attempt fails, and the next one changes strategy (the analysis's
// AdjustResources) and heals it; the Runbook's record counts the failure.
func TestAWrongFixThatDoesNotHoldIsReplaced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	f := scenario.OOM()
	f.Prepare = func(ctx context.Context, c client.Client, ns string) error {
		return runbookPerSeverity(ctx, c, ns, "restart", platformv1alpha1.SignalOOMKill, "Turn it off and on again",
			platformv1alpha1.RunbookStep{Name: "restart", Action: platformv1alpha1.ActionRestartDeployment})
	}
	// The verification of a fix waits at most the Deployment's
	// progressDeadlineSeconds for it to become healthy; this team sets 30 s.
	f.Inject = func(ctx context.Context, c client.Client, ns string) error {
		d := scenario.Deployment(ns, f.App, scenario.HealthyImage, scenario.OOMLimit, 2)
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](30)
		return c.Create(ctx, d)
	}
	ns, tracker := injectUntilAnalyzing(ctx, t, f, platformv1alpha1.SignalOOMKill)
	inc, ok := tracker.Wait(ctx, f.App, 5*time.Minute, 60*time.Second, func(i *scenario.Incident) bool { return i.State().IsTerminal() })
	if !ok {
		loopMissing(t, "the Issue did not reach a terminal state: "+describe(&inc))
	}
	if inc.State() != platformv1alpha1.IssueResolved {
		t.Fatalf("Issue %s ended %s: %s", inc.Issue.Name, inc.State(), describe(&inc))
	}
	attempts := inc.Issue.Status.Attempts
	if len(attempts) < 2 {
		t.Fatalf("resolved in %d attempt(s); the restart should not have held: %s", len(attempts), describe(&inc))
	}
	first := inc.Plans[attempts[0].PlanRef.Name]
	if first == nil || first.Labels[platformv1alpha1.LabelPlanSource] != platformv1alpha1.PlanSourceRunbook || first.Status.State == platformv1alpha1.PlanCompleted {
		t.Errorf("the first attempt was not the Runbook's restart, failed: %s", describe(&inc))
	}
	if !healedBy(&inc, platformv1alpha1.ActionAdjustResources) {
		t.Errorf("no later plan healed it with AdjustResources: %s", describe(&inc))
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		return f.Healed(ctx, env.Client, ns) == nil, nil
	})
	if err != nil {
		t.Errorf("%s not healed the right way: %v", f.App, f.Healed(ctx, env.Client, ns))
	}
	if first != nil && first.Spec.RunbookRef != nil {
		err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			rb := &platformv1alpha1.Runbook{}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: first.Spec.RunbookRef.Name}, rb); err != nil {
				return false, nil
			}
			return rb.Status.TimesFailed >= 1, nil
		})
		if err != nil {
			t.Errorf("Runbook %s does not count its failure", first.Spec.RunbookRef.Name)
		}
	}
}

// TestTheAdmissionWebhookIsLive: the API server reaches the remediator's
// admission webhook (registered by URL, over TLS with the harness CA), which
// refuses a Runbook whose params the action catalogue rejects.
func TestTheAdmissionWebhookIsLive(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "webhook")
	rb := &platformv1alpha1.Runbook{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad-params"},
		Spec: platformv1alpha1.RunbookSpec{
			Trigger: platformv1alpha1.RunbookTrigger{Severity: platformv1alpha1.SeverityHigh, ResourceKind: "Deployment"},
			Steps: []platformv1alpha1.RunbookStep{{
				Name: "scale", Action: platformv1alpha1.ActionScaleDeployment, Params: platformv1alpha1.ActionParams{"replicas": "many"},
			}},
		},
	}
	err := env.Client.Create(ctx, rb)
	if err == nil || !strings.Contains(err.Error(), "replicas") || !strings.Contains(err.Error(), "admission webhook") {
		t.Fatalf("a Runbook with replicas=many was not refused by the admission webhook: %v", err)
	}
}

// runbookPerSeverity creates the team's Runbook for signal on Deployments,
// named <prefix>-<severity>, once for each severity: tier 1 matches the
// Issue's severity too, which depends on the signals that joined before
// the plan.
func runbookPerSeverity(ctx context.Context, c client.Client, ns, prefix string, signal platformv1alpha1.SignalType, description string, steps ...platformv1alpha1.RunbookStep) error {
	for _, sev := range []platformv1alpha1.Severity{platformv1alpha1.SeverityLow, platformv1alpha1.SeverityMedium, platformv1alpha1.SeverityHigh, platformv1alpha1.SeverityCritical} {
		rb := &platformv1alpha1.Runbook{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: prefix + "-" + string(sev)},
			Spec: platformv1alpha1.RunbookSpec{
				Description: description,
				Trigger:     platformv1alpha1.RunbookTrigger{SignalType: signal, Severity: sev, ResourceKind: "Deployment"},
				Steps:       steps,
			},
		}
		if err := c.Create(ctx, rb); err != nil {
			return fmt.Errorf("create Runbook %s: %w", rb.Name, err)
		}
	}
	return nil
}
