// Command demo is `make demo`: it starts the local cluster and Redis,
// installs the chart in local-processes mode, runs the six services (make
// built them; the demo builds nothing), deploys a small shop, breaks it two
// ways (an OOMKilled Deployment and a bad rollout), shows each incident
// moving through its states with timings, prints each PostMortem as
// Markdown and shuts down. It exits non-zero when an incident does not reach
// a terminal state within DEMO_INCIDENT_TIMEOUT (default 3m).
//
// KEEP=1 leaves everything running after the incidents end and prints the
// kubeconfig path; Ctrl-C then shuts it down.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/e2e/cluster"
	"github.com/chatcli/aiops/e2e/platform"
	"github.com/chatcli/aiops/e2e/scenario"
	"github.com/chatcli/aiops/libs/testenv"
)

const appNamespace = "shop"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) (err error) {
	bound := 3 * time.Minute
	if v := os.Getenv("DEMO_INCIDENT_TIMEOUT"); v != "" {
		if bound, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("DEMO_INCIDENT_TIMEOUT: %w", err)
		}
	}
	keep := os.Getenv("KEEP") == "1"
	begin := time.Now()
	fmt.Fprintln(out, "==> starting a local cluster: etcd, kube-apiserver, controller-manager, scheduler, kwok with 2 fake nodes")
	c, err := cluster.Start(ctx, cluster.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			c.KeepFiles = true
			fmt.Fprintf(os.Stderr, "logs of every process are kept in %s\n", c.LogDir)
		}
		c.Stop()
	}()
	fmt.Fprintf(out, "    cluster ready in %s\n", c.Timings["total"].Round(time.Millisecond))
	fmt.Fprintln(out, "==> installing the chart (local-processes mode) and starting the six services under their own ServiceAccounts")
	p, err := platform.Start(ctx, c, platform.Options{Env: providerEnv(out)})
	if err != nil {
		return err
	}
	defer p.Stop()
	fmt.Fprintf(out, "    helm install %s, services ready %s\n", p.Timings["helm install"].Round(time.Millisecond), p.Timings["services ready"].Round(time.Millisecond))
	watchful, err := client.NewWithWatch(c.Config, client.Options{Scheme: testenv.NewScheme()})
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}

	fmt.Fprintf(out, "==> deploying the sample shop in namespace %s\n", appNamespace)
	if err := p.NewAppNamespace(ctx, appNamespace); err != nil {
		return err
	}
	faults := []scenario.Fault{scenario.OOM(), scenario.BadRollout()}
	for _, f := range faults {
		if f.Prepare != nil {
			if err := f.Prepare(ctx, p.Client, appNamespace); err != nil {
				return fmt.Errorf("deploy %s: %w", f.App, err)
			}
			fmt.Fprintf(out, "    %s is available\n", f.App)
		}
	}

	tracker := scenario.NewTracker(watchful, appNamespace)
	tracker.Events = make(chan scenario.Event, 256)
	trackCtx, stopTracking := context.WithCancel(ctx)
	defer stopTracking()
	go tracker.Run(trackCtx)
	var printing sync.WaitGroup
	printing.Go(func() { printEvents(out, tracker) })

	fmt.Fprintln(out, "==> breaking it two ways; live view (time since the fault):")
	var watchingHealth sync.WaitGroup
	for _, f := range faults {
		tracker.Track(f.App)
		if err := f.Inject(ctx, p.Client, appNamespace); err != nil {
			return fmt.Errorf("break %s: %w", f.App, err)
		}
		fmt.Fprintf(out, "  %-9s %-10s %s\n", "+0s", f.App, "fault: "+f.Title)
		watchingHealth.Go(func() { reportHealed(trackCtx, f, p, tracker) })
	}

	var unfinished []string
	results := map[string]scenario.Incident{}
	deadline := time.Now().Add(bound) // one bound for all incidents, which run at once
	for _, f := range faults {
		inc, ok := tracker.Wait(ctx, f.App, time.Until(deadline), 0, func(i *scenario.Incident) bool { return i.State().IsTerminal() })
		if !ok {
			unfinished = append(unfinished, fmt.Sprintf("%s (%s)", f.App, stateOrNone(&inc)))
		} else if inc.State() == platformv1alpha1.IssueResolved {
			if err := healed(ctx, f, p); err != nil {
				fmt.Fprintf(out, "  %s was Resolved but is not healthy yet: %v\n", f.App, err)
			}
			// The PostMortem follows Resolved.
			inc, _ = tracker.Wait(ctx, f.App, 30*time.Second, 0, func(i *scenario.Incident) bool { return i.PostMortem != nil && i.PostMortem.Status.GeneratedAt != nil })
		}
		results[f.App] = inc
	}
	stopTracking()
	watchingHealth.Wait()
	close(tracker.Events)
	printing.Wait()

	fmt.Fprintln(out, "\n==> incidents")
	for _, f := range faults {
		summary(out, f, results[f.App])
	}
	for _, f := range faults {
		inc := results[f.App]
		if inc.PostMortem != nil {
			fmt.Fprintf(out, "\n---\n%s", scenario.Markdown(inc.PostMortem))
		} else if inc.State() == platformv1alpha1.IssueResolved {
			fmt.Fprintf(out, "\n(no PostMortem for %s: the postmortem-writer wrote none within 30 s)\n", f.App)
		}
	}
	fmt.Fprintf(out, "\n==> done in %s\n", time.Since(begin).Round(time.Second))
	if keep {
		fmt.Fprintf(out, "\nKEEP=1: everything keeps running. Ctrl-C stops it.\n  export KUBECONFIG=%s\n  kubectl: %s\n  logs: %s\n  internal gRPC token file: %s (CA %s)\n%s",
			c.Kubeconfig, kubectlPath(), c.LogDir, p.TokenFile, p.PKI.CAFile, p.Describe())
		<-ctx.Done()
		fmt.Fprintln(out, "shutting down")
	}
	if len(unfinished) > 0 {
		return fmt.Errorf("incidents not in a terminal state within %s: %s", bound, strings.Join(unfinished, ", "))
	}
	return nil
}

// providerEnv passes an LLM key through when one is set; otherwise the
// analyzer answers with its offline BUILTIN analysis.
func providerEnv(out io.Writer) []string {
	for _, key := range []string{"ANTHROPIC_API_KEY", "OPENAI_API_KEY"} {
		if os.Getenv(key) != "" {
			fmt.Fprintf(out, "    %s is set: the analyzer may use that provider\n", key)
			return nil
		}
	}
	fmt.Fprintln(out, "    no LLM key set: the analyzer uses its offline BUILTIN analysis")
	return nil
}

func printEvents(out io.Writer, t *scenario.Tracker) {
	for ev := range t.Events {
		inc := t.Incident(ev.App)
		fmt.Fprintf(out, "  %-9s %-10s %s\n", "+"+inc.Since(ev.At).String(), ev.App, ev.Text)
	}
}

// reportHealed adds a line to the live view when the Deployment is first
// healed the right way (fault → healthy).
func reportHealed(ctx context.Context, f scenario.Fault, p *platform.Platform, t *scenario.Tracker) {
	for ctx.Err() == nil {
		if f.Healed(ctx, p.Client, appNamespace) == nil {
			select {
			case t.Events <- scenario.Event{App: f.App, At: time.Now(), Text: "healthy: every replica available, fixed the right way"}:
			case <-ctx.Done():
			}
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func healed(ctx context.Context, f scenario.Fault, p *platform.Platform) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f.Healed(ctx, p.Client, appNamespace)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func summary(out io.Writer, f scenario.Fault, inc scenario.Incident) {
	fmt.Fprintf(out, "  %s: %s\n", f.App, f.Title)
	if inc.AnomalyAt.IsZero() {
		fmt.Fprintln(out, "    no Anomaly")
		return
	}
	steps := []string{fmt.Sprintf("Anomaly %s", inc.Since(inc.AnomalyAt))}
	if inc.Issue != nil {
		steps = append(steps, fmt.Sprintf("Issue %s", inc.Since(inc.IssueAt)))
	}
	for _, tr := range inc.Transitions {
		steps = append(steps, fmt.Sprintf("%s %s", tr.State, inc.Since(tr.At)))
	}
	if inc.PostMortem != nil {
		steps = append(steps, fmt.Sprintf("PostMortem %s", inc.Since(inc.PostMortemAt)))
	}
	fmt.Fprintf(out, "    %s\n", strings.Join(steps, " → "))
	names := make([]string, 0, len(inc.Plans))
	for name := range inc.Plans {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		plan := inc.Plans[name]
		var actions []string
		for _, r := range plan.Status.ActionResults {
			actions = append(actions, fmt.Sprintf("%s=%s", r.Type, r.Result))
		}
		fmt.Fprintf(out, "    plan %s (attempt %d): %s %s\n", name, plan.Spec.Attempt, plan.Status.State, strings.Join(actions, " "))
	}
	if inc.Issue != nil && inc.Issue.Status.Resolution != "" {
		fmt.Fprintf(out, "    resolution: %s\n", inc.Issue.Status.Resolution)
	}
}

func stateOrNone(inc *scenario.Incident) string {
	if s := inc.State(); s != "" {
		return "stopped at " + string(s)
	}
	if inc.AnomalyAt.IsZero() {
		return "no Anomaly"
	}
	return "no Issue"
}

func kubectlPath() string {
	path, err := cluster.Binary("kubectl")
	if err != nil {
		return "not built (make e2e-bins builds it)"
	}
	return path
}
