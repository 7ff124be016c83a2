package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/e2e/scenario"
)

// TestRedisOutageDuringABurstGivesOneIssuePerFault is part of scenario 10:
// with Redis stopped, a burst of OOMKilled Deployments (each one Anomaly
// with its symptoms as evidence, and a symptom seen alone later would be
// its own Anomaly, which dedup cannot hold back now) still gives
// exactly one Issue per Deployment, no Deployment is touched while Redis is
// down (remediation fails closed), and once Redis is back each Issue gets
// its incident id and is resolved.
func TestRedisOutageDuringABurstGivesOneIssuePerFault(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ns := newNamespace(t, "redis-outage")
	env.Redis.Stop()
	restarted := false
	restart := func() {
		if !restarted {
			restarted = true
			if err := env.Redis.Start(ctx); err != nil {
				t.Fatalf("restart Redis: %v", err)
			}
		}
	}
	defer restart()

	const faults = 4
	apps := make([]string, faults)
	for i := range apps {
		apps[i] = fmt.Sprintf("burst-%d", i)
		if err := env.Client.Create(ctx, scenario.Deployment(ns, apps[i], scenario.HealthyImage, scenario.OOMLimit, 2)); err != nil {
			t.Fatal(err)
		}
	}
	issuesOf := func(ctx context.Context) (map[string][]platformv1alpha1.Issue, error) {
		var list platformv1alpha1.IssueList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return nil, err
		}
		byApp := map[string][]platformv1alpha1.Issue{}
		for _, issue := range list.Items {
			byApp[issue.Spec.Resource.Name] = append(byApp[issue.Spec.Resource.Name], issue)
		}
		return byApp, nil
	}
	// A symptom seen alone can still raise its own Anomaly a few seconds
	// after the cause's: wait for the Issues, then past that, and count
	// again.
	var byApp map[string][]platformv1alpha1.Issue
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		if byApp, err = issuesOf(ctx); err != nil {
			return false, nil
		}
		return len(byApp) == faults, nil
	})
	if err != nil {
		t.Fatalf("with Redis down, Issues exist for %d of %d faulted Deployments: %v", len(byApp), faults, err)
	}
	// Wait until every Anomaly of the burst is correlated, then count again.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		anomalies := &platformv1alpha1.AnomalyList{}
		if err := env.Client.List(ctx, anomalies); err != nil {
			return false, nil
		}
		for _, a := range anomalies.Items {
			if a.Spec.Resource.Namespace == ns && !a.Status.Correlated {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the Anomalies of the burst were not all correlated: %v", err)
	}
	if byApp, err = issuesOf(ctx); err != nil {
		t.Fatal(err)
	}
	for _, app := range apps {
		if n := len(byApp[app]); n != 1 {
			t.Errorf("Deployment %s has %d Issues with Redis down, want exactly 1", app, n)
		}
	}
	var anomalies platformv1alpha1.AnomalyList
	if err := env.Client.List(ctx, &anomalies, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	t.Logf("with Redis down: %d Anomalies correlated into %d Issues", len(anomalies.Items), len(byApp))
	// Remediation fails closed without Redis (its locks and budgets): no
	// Deployment has been touched.
	for _, app := range apps {
		var d appsv1.Deployment
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: app}, &d); err != nil {
			t.Fatal(err)
		}
		if d.Generation != 1 {
			t.Errorf("Deployment %s changed (generation %d) while Redis was down", app, d.Generation)
		}
	}

	restart()
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		if byApp, err = issuesOf(ctx); err != nil {
			return false, nil
		}
		for _, issues := range byApp {
			for _, issue := range issues {
				if issue.Status.IncidentID == "" {
					return false, nil
				}
			}
		}
		return true, nil
	})
	if err != nil {
		for app, issues := range byApp {
			for _, issue := range issues {
				t.Logf("%s: Issue %s incident id %q, state %s", app, issue.Name, issue.Status.IncidentID, issue.Status.State)
			}
		}
		t.Errorf("not every Issue got its incident id within 90 s of Redis coming back: %v", err)
	}
	for app, issues := range byApp {
		if n := len(issues); n != 1 {
			t.Errorf("Deployment %s has %d Issues after Redis came back, want exactly 1", app, n)
		}
	}
	// Then remediation goes on: every Issue resolves and every Deployment
	// is healed.
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if byApp, err = issuesOf(ctx); err != nil {
			return false, nil
		}
		for _, app := range apps {
			if len(byApp[app]) != 1 || byApp[app][0].Status.State != platformv1alpha1.IssueResolved {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		for app, issues := range byApp {
			for _, issue := range issues {
				t.Logf("%s: Issue %s state %s, last failure %q", app, issue.Name, issue.Status.State, issue.Status.LastFailure)
			}
		}
		t.Fatalf("not every Issue of the burst resolved within 2 minutes of Redis coming back: %v", err)
	}
	for _, app := range apps {
		var d appsv1.Deployment
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: app}, &d); err != nil {
			t.Fatal(err)
		}
		if limit := d.Spec.Template.Spec.Containers[0].Resources.Limits["memory"]; limit.String() == scenario.OOMLimit {
			t.Errorf("Deployment %s still has the memory limit %s", app, limit.String())
		}
	}
}

// TestCorrelatorStandbyTakesOverFromAStoppedLeader is part of scenario 10:
// a second correlator stands by; when the leader stops (SIGTERM releases
// its Lease), the standby takes the Lease and correlates the next fault.
func TestCorrelatorStandbyTakesOverFromAStoppedLeader(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	leaseKey := client.ObjectKey{Namespace: env.Namespace, Name: "chatcli-correlator"}
	holder := func(ctx context.Context) string {
		var lease coordinationv1.Lease
		if err := env.Client.Get(ctx, leaseKey, &lease); err != nil || lease.Spec.HolderIdentity == nil {
			return ""
		}
		return *lease.Spec.HolderIdentity
	}
	before := holder(ctx)
	if before == "" {
		t.Fatal("the correlator holds no Lease")
	}
	standby, err := env.AddReplica(ctx, "correlator")
	if err != nil {
		t.Fatal(err)
	}
	leader := env.Services["correlator"]
	leader.Process.Stop(15 * time.Second)
	t.Cleanup(func() {
		// The first replica comes back as the standby, then takes over
		// again when the second one stops.
		if err := leader.Restart(context.Background()); err != nil {
			t.Errorf("restart the correlator: %v", err)
		}
		standby.Process.Stop(15 * time.Second)
	})

	ns := newNamespace(t, "failover")
	tracker := scenario.NewTracker(watchful, ns)
	go tracker.Run(ctx)
	f := scenario.OOM()
	tracker.Track(f.App)
	if err := f.Inject(ctx, env.Client, ns); err != nil {
		t.Fatal(err)
	}
	inc, ok := tracker.Wait(ctx, f.App, time.Minute, 0, func(i *scenario.Incident) bool {
		// Analyzing or any state after it: with the whole loop running the
		// Issue may pass through Analyzing between two looks.
		s := i.State()
		return s != "" && s != platformv1alpha1.IssueDetected
	})
	if !ok {
		t.Fatalf("the standby correlator did not take the fault to Analyzing: %s", describe(&inc))
	}
	after := holder(ctx)
	if after == "" || after == before {
		t.Fatalf("Lease holder is %q, want a new holder after %q stopped", after, before)
	}
	t.Logf("standby %s took over; fault → Analyzing %s", after, inc.Since(inc.Transitions[len(inc.Transitions)-1].At))
}

// TestARemediatorKilledMidPlanResumesWithoutRepeatingAnAction is part of
// scenario 10: the remediator is killed (SIGKILL, no clean shutdown) while
// its plan verifies the fix it applied. The restarted process waits for
// the dead leader's Lease to expire, takes the plan up where it stopped
// and completes it, and the action ran once: one result, one rollout.
func TestARemediatorKilledMidPlanResumesWithoutRepeatingAnAction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := scenario.OOM()
	ns, tracker := injectUntilAnalyzing(ctx, t, f, "")
	inc, ok := tracker.Wait(ctx, f.App, 2*time.Minute, 30*time.Second, func(i *scenario.Incident) bool {
		for _, p := range i.Plans {
			if p.Status.State == platformv1alpha1.PlanVerifying && len(p.Status.ActionResults) > 0 {
				return true
			}
		}
		return i.State().IsTerminal()
	})
	if !ok || inc.State().IsTerminal() {
		loopMissing(t, "no plan reached Verifying before the Issue ended: "+describe(&inc))
	}
	remediator := env.Services["remediator"]
	remediator.Process.Kill()
	if err := remediator.Restart(ctx); err != nil {
		t.Fatalf("restart the remediator: %v", err)
	}
	inc, ok = tracker.Wait(ctx, f.App, 3*time.Minute, 90*time.Second, func(i *scenario.Incident) bool { return i.State().IsTerminal() })
	if !ok || inc.State() != platformv1alpha1.IssueResolved {
		t.Fatalf("the Issue did not resolve after the restart: %s", describe(&inc))
	}
	for _, p := range inc.Plans {
		runs := 0
		for _, r := range p.Status.ActionResults {
			if r.Type == platformv1alpha1.ActionAdjustResources {
				runs++
			}
		}
		if runs > 1 {
			t.Errorf("plan %s ran AdjustResources %d times", p.Name, runs)
		}
	}
	var d appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: f.App}, &d); err != nil {
		t.Fatal(err)
	}
	if d.Generation != 2 {
		t.Errorf("Deployment %s is at generation %d, want 2 (created, then one fix)", f.App, d.Generation)
	}
	if err := f.Healed(ctx, env.Client, ns); err != nil {
		t.Errorf("%s not healed: %v", f.App, err)
	}
}
