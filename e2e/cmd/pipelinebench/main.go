// Command pipelinebench is the pipeline benchmark of `make bench`: on the
// e2e harness (a local cluster with fake nodes, the chart, the six services
// under their own ServiceAccounts, the offline analyzer), it repeats the
// OOM and bad-rollout faults one incident at a time, then injects a storm of
// faulted Deployments at once, and prints:
//
//   - per stage, p50/p99/max read off the services' own histograms
//     (chatcli_<service>_<stage>_seconds, libs/pipeline; CR timestamps are
//     whole seconds, so a stage reads to within a second);
//   - fault → Anomaly, first action, healthy and Resolved per incident, on
//     the harness's clock (to the millisecond);
//   - API writes per incident by service and verb, from each service's
//     client metrics (rest_client_requests_total; the API server's own
//     metrics do not say who wrote);
//   - for the storm: incidents per second, one Issue per fault, every fault
//     resolved, no action run twice.
//
// PIPELINE_ROUNDS (default 10) and PIPELINE_STORM (default 50) size it.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/e2e/cluster"
	"github.com/chatcli/aiops/e2e/platform"
	"github.com/chatcli/aiops/e2e/scenario"
	"github.com/chatcli/aiops/libs/testenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "pipelinebench: %v\n", err)
		stop()
		os.Exit(1)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

const nodes = 6

// stages are the histograms read, in pipeline order, by service.
var stages = []struct{ service, stage string }{
	{"correlator", "anomaly_to_issue"},
	{"correlator", "insight_to_plan"},
	{"remediator", "plan_to_first_action"},
	{"remediator", "action_to_healthy"},
	{"correlator", "healthy_to_resolved"},
}

// loopServices are the services whose writes count against the
// per-incident target; the remediator's include the remediation's own.
var loopServices = []string{"correlator", "analyzer", "remediator"}

type bench struct {
	p        *platform.Platform
	watchful client.WithWatch
	out      io.Writer
}

// timing is one incident on the harness's clock, from the fault.
type timing struct {
	anomaly, firstAction, healthy, resolved time.Duration
	ok                                      bool
}

func run(ctx context.Context, out io.Writer) error {
	rounds, storm := envInt("PIPELINE_ROUNDS", 10), envInt("PIPELINE_STORM", 50)
	// Six fake nodes of 110 pods, so the storm's 50 Deployments of 2
	// replicas and their rollouts' surge never wait for node capacity.
	c, err := cluster.Start(ctx, cluster.Options{Nodes: nodes})
	if err != nil {
		return err
	}
	defer c.Stop()
	args := map[string][]string{}
	for _, s := range platform.Services {
		// One replica each, without leader election: its Lease renewals
		// would count as writes of every incident.
		args[s] = []string{"--metrics-secure=false", "--leader-elect=false"}
	}
	// The blast-radius budgets (10 actions per namespace and 20 plans per
	// hour by default) would hold the storm back on purpose: a benchmark
	// of throughput lifts them, as an SRE would for a drill.
	args["remediator"] = append(args["remediator"], "--plans-per-hour=10000", "--actions-per-namespace-per-hour=10000")
	p, err := platform.Start(ctx, c, platform.Options{Args: args})
	if err != nil {
		c.WriteLogs(os.Stderr, 6000)
		return err
	}
	defer p.Stop()
	watchful, err := client.NewWithWatch(c.Config, client.Options{Scheme: testenv.NewScheme()})
	if err != nil {
		return err
	}
	b := &bench{p: p, watchful: watchful, out: out}
	fmt.Fprintf(out, "pipeline benchmark: %d rounds of each fault one at a time, then a storm of %d (offline analyzer, %d fake nodes)\n", rounds, storm, nodes)

	before, err := b.scrape(ctx)
	if err != nil {
		return err
	}
	var seq []timing
	for i := range rounds {
		for _, f := range []scenario.Fault{scenario.OOM(), scenario.BadRollout()} {
			t, err := b.one(ctx, fmt.Sprintf("bench-%s-%d", f.Name, i), f)
			if err != nil {
				return err
			}
			seq = append(seq, t)
		}
	}
	afterRounds, err := b.scrape(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== %d incidents, one at a time\n", len(seq))
	b.report(seq, before, afterRounds, len(seq), true)

	stormTimes, stormReport, err := b.storm(ctx, storm)
	if err != nil {
		return err
	}
	afterStorm, err := b.scrape(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== storm of %d faulted Deployments at once\n%s", storm, stormReport)
	b.report(stormTimes, afterRounds, afterStorm, storm, false)
	return nil
}

// one injects f into a namespace of its own and follows it to Resolved.
func (b *bench) one(ctx context.Context, ns string, f scenario.Fault) (timing, error) {
	if err := b.p.NewAppNamespace(ctx, ns); err != nil {
		return timing{}, err
	}
	if f.Prepare != nil {
		if err := f.Prepare(ctx, b.p.Client, ns); err != nil {
			return timing{}, err
		}
	}
	tracker := scenario.NewTracker(b.watchful, ns)
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go tracker.Run(tctx)
	times := b.follow(tctx, tracker, ns, []scenario.Fault{f}, 3*time.Minute)
	// Its pods would hold node capacity the storm needs.
	_ = b.p.Client.DeleteAllOf(ctx, &appsv1.Deployment{}, client.InNamespace(ns))
	return times[0], nil
}

// follow injects every fault at once and times each to Resolved.
func (b *bench) follow(ctx context.Context, tracker *scenario.Tracker, ns string, faults []scenario.Fault, bound time.Duration) []timing {
	out := make([]timing, len(faults))
	var wg sync.WaitGroup
	start := time.Now()
	for i, f := range faults {
		tracker.Track(f.App)
		injected := time.Now()
		if err := f.Inject(ctx, b.p.Client, ns); err != nil {
			fmt.Fprintf(b.out, "inject %s: %v\n", f.App, err)
			continue
		}
		// The fault's own write is the generation the first action
		// moves on from.
		gen := int64(1)
		if d := (&appsv1.Deployment{}); b.p.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: f.App}, d) == nil {
			gen = d.Generation
		}
		wg.Go(func() {
			t := &out[i]
			// The first action changes the Deployment's spec; healthy is
			// the right fix rolled out.
			_ = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, bound, true, func(ctx context.Context) (bool, error) {
				d := &appsv1.Deployment{}
				if t.firstAction == 0 && b.p.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: f.App}, d) == nil && d.Generation > gen {
					t.firstAction = time.Since(injected)
				}
				if t.healthy == 0 && t.firstAction != 0 && f.Healed(ctx, b.p.Client, ns) == nil {
					t.healthy = time.Since(injected)
				}
				return t.healthy != 0, nil
			})
			inc, ok := tracker.Wait(ctx, f.App, bound-time.Since(start), 0, func(i *scenario.Incident) bool { return i.State().IsTerminal() })
			if !inc.AnomalyAt.IsZero() {
				t.anomaly = inc.AnomalyAt.Sub(injected)
			}
			if ok && inc.State() == platformv1alpha1.IssueResolved {
				t.ok = true
				t.resolved = inc.Transitions[len(inc.Transitions)-1].At.Sub(injected)
			}
		})
	}
	wg.Wait()
	return out
}

func (b *bench) storm(ctx context.Context, n int) ([]timing, string, error) {
	const ns = "bench-storm"
	if err := b.p.NewAppNamespace(ctx, ns); err != nil {
		return nil, "", err
	}
	var faults []scenario.Fault
	for i := range n {
		if i%2 == 0 {
			faults = append(faults, scenario.OOMOf(fmt.Sprintf("oom-%02d", i)))
		} else {
			faults = append(faults, scenario.BadRolloutOf(fmt.Sprintf("rollout-%02d", i)))
		}
	}
	for _, f := range faults {
		if f.Prepare != nil {
			if err := f.Prepare(ctx, b.p.Client, ns); err != nil {
				return nil, "", err
			}
		}
	}
	tracker := scenario.NewTracker(b.watchful, ns)
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go tracker.Run(tctx)
	begin := time.Now()
	times := b.follow(tctx, tracker, ns, faults, 6*time.Minute)
	wall := time.Since(begin)

	var report strings.Builder
	issues := &platformv1alpha1.IssueList{}
	if err := b.p.Client.List(ctx, issues, client.InNamespace(ns)); err != nil {
		return nil, "", err
	}
	perApp := map[string]int{}
	resolved := 0
	for _, is := range issues.Items {
		perApp[is.Spec.Resource.Name]++
		if is.Status.State == platformv1alpha1.IssueResolved {
			resolved++
		}
	}
	dupIssues, missing := 0, 0
	for _, f := range faults {
		switch perApp[f.App] {
		case 0:
			missing++
		case 1:
		default:
			dupIssues++
		}
	}
	plans := &platformv1alpha1.RemediationPlanList{}
	if err := b.p.Client.List(ctx, plans, client.InNamespace(ns)); err != nil {
		return nil, "", err
	}
	twice := 0
	for _, p := range plans.Items {
		seen := map[int32]bool{}
		for _, r := range p.Status.ActionResults {
			if r.Index != nil && r.Result == platformv1alpha1.ActionSucceeded {
				if seen[*r.Index] {
					twice++
				}
				seen[*r.Index] = true
			}
		}
	}
	last := time.Duration(0)
	for _, t := range times {
		last = max(last, t.resolved)
	}
	fmt.Fprintf(&report, "  wall %s; last Resolved at %s; %.2f incidents/s\n", wall.Round(time.Millisecond), last.Round(time.Millisecond), float64(resolved)/last.Seconds())
	fmt.Fprintf(&report, "  exactly one Issue per fault: %s (%d faults without an Issue, %d with more than one)\n", verdict(dupIssues == 0 && missing == 0), missing, dupIssues)
	fmt.Fprintf(&report, "  every fault resolved: %s (%d of %d Issues Resolved)\n", verdict(resolved == n && len(issues.Items) == n), resolved, len(issues.Items))
	fmt.Fprintf(&report, "  no action run twice: %s (%d repeats over %d plans)\n", verdict(twice == 0), twice, len(plans.Items))
	for i, f := range faults {
		if !times[i].ok {
			report.WriteString(whereItStopped(tracker.Incident(f.App), times[i]))
		}
	}
	return times, report.String(), nil
}

// whereItStopped is one unresolved incident in a few lines: the states its
// Issue went through and, per plan, its state and latest condition, so that
// an unresolved storm says where each incident waits.
func whereItStopped(inc scenario.Incident, t timing) string {
	var b strings.Builder
	states := make([]string, 0, len(inc.Transitions))
	for _, tr := range inc.Transitions {
		states = append(states, fmt.Sprintf("%s@%s", tr.State, tr.At.Sub(inc.InjectedAt).Round(100*time.Millisecond)))
	}
	fmt.Fprintf(&b, "  unresolved %s: signals %v, Issue %v, first action %s, healthy %s\n", inc.App, inc.Signals, states, t.firstAction.Round(time.Millisecond), t.healthy.Round(time.Millisecond))
	for _, name := range slices.Sorted(maps.Keys(inc.Plans)) {
		p := inc.Plans[name]
		latest := ""
		for _, c := range p.Status.Conditions {
			latest += fmt.Sprintf(" [%s=%s %s: %.160s]", c.Type, c.Status, c.Reason, c.Message)
		}
		fmt.Fprintf(&b, "    plan %s: %s, %d action results%s\n", name, p.Status.State, len(p.Status.ActionResults), latest)
	}
	return b.String()
}

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// report prints the stage histograms' deltas, the end-to-end figures and
// the writes per incident; targets apply to one incident at a time.
func (b *bench) report(times []timing, before, after metricsByService, incidents int, targets bool) {
	out := b.out
	fmt.Fprintf(out, "  %-44s %8s %8s %8s %6s\n", "stage (services' histograms)", "p50", "p99", "max≤", "n")
	for _, s := range stages {
		h := after[s.service].histogram(s.service, s.stage).minus(before[s.service].histogram(s.service, s.stage))
		fmt.Fprintf(out, "  %-44s %8s %8s %8s %6d\n", s.service+" "+s.stage, secs(h.quantile(0.5)), secs(h.quantile(0.99)), secs(h.maxBound()), h.count)
	}
	var anomaly, first, healthy, resolved []time.Duration
	failed := 0
	for _, t := range times {
		if !t.ok {
			failed++
			continue
		}
		anomaly, first, healthy, resolved = append(anomaly, t.anomaly), append(first, t.firstAction), append(healthy, t.healthy), append(resolved, t.resolved)
	}
	fmt.Fprintf(out, "  %-44s %8s %8s %8s %6s\n", "end to end (harness clock)", "p50", "p99", "max", "n")
	for _, row := range []struct {
		name string
		ds   []time.Duration
	}{{"fault → Anomaly", anomaly}, {"fault → first action", first}, {"fault → healthy", healthy}, {"fault → Resolved", resolved}} {
		fmt.Fprintf(out, "  %-44s %8s %8s %8s %6d\n", row.name, dur(pct(row.ds, 0.5)), dur(pct(row.ds, 0.99)), dur(pct(row.ds, 1)), len(row.ds))
	}
	if failed > 0 {
		fmt.Fprintf(out, "  %d incident(s) did not reach Resolved in time\n", failed)
	}
	fmt.Fprintf(out, "  API writes per incident (client metrics, by verb):\n")
	loop := 0.0
	for _, s := range platform.Services {
		verbs := after[s].writes().minus(before[s].writes())
		var parts []string
		total := 0.0
		for _, v := range slices.Sorted(maps.Keys(verbs)) {
			per := verbs[v] / float64(incidents)
			total += per
			parts = append(parts, fmt.Sprintf("%s %.1f", v, per))
		}
		if slices.Contains(loopServices, s) {
			loop += total
		}
		fmt.Fprintf(out, "    %-18s %5.1f  %s\n", s, total, strings.Join(parts, ", "))
	}
	if !targets {
		return
	}
	fmt.Fprintln(out, "  targets (one incident at a time):")
	p99First, p50Healthy := pct(first, 0.99), pct(healthy, 0.5)
	fmt.Fprintf(out, "    fault → first action p99 < 3s: %s (%s)\n", met(p99First > 0 && p99First < 3*time.Second), dur(p99First))
	fmt.Fprintf(out, "    fault → healthy median ≤ 3s: %s (%s; the reference takes about 38s to Resolved)\n", met(p50Healthy > 0 && p50Healthy <= 3*time.Second), dur(p50Healthy))
	fmt.Fprintf(out, "    ≤ 15 correlator+analyzer+remediator writes per incident: %s (%.1f, the remediation's own writes included)\n", met(loop <= 15), loop)
}

func met(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}

func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func dur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(10 * time.Millisecond).String()
}

func secs(s float64) string {
	if math.IsNaN(s) {
		return "-"
	}
	return dur(time.Duration(s * float64(time.Second)))
}

// metricsByService is each service's /metrics, as sample name+labels →
// value.
type metricsByService map[string]samples

type samples map[string]float64

func (b *bench) scrape(ctx context.Context) (metricsByService, error) {
	out := metricsByService{}
	for _, name := range platform.Services {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.p.Services[name].MetricsAddr+"/metrics", nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("scrape %s: %w", name, err)
		}
		out[name] = parse(resp.Body)
		_ = resp.Body.Close()
	}
	return out, nil
}

// parse reads the Prometheus text format's samples.
func parse(r io.Reader) samples {
	s := samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			s[line[:i]] = v
		}
	}
	return s
}

// writes sums rest_client_requests_total by write verb.
func (s samples) writes() verbs {
	out := verbs{}
	for k, v := range s {
		if !strings.HasPrefix(k, "rest_client_requests_total{") {
			continue
		}
		m := label(k, "method")
		if m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE" {
			out[m] += v
		}
	}
	return out
}

type verbs map[string]float64

func (a verbs) minus(b verbs) verbs {
	out := verbs{}
	for k, v := range a {
		if d := v - b[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func label(sample, name string) string {
	_, rest, ok := strings.Cut(sample, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// hist is a histogram's cumulative buckets.
type hist struct {
	bounds []float64
	counts []float64
	count  uint64
}

func (s samples) histogram(service, stage string) hist {
	name := "chatcli_" + strings.ReplaceAll(service, "-", "_") + "_" + stage + "_seconds"
	h := hist{}
	type bucket struct{ le, n float64 }
	var bs []bucket
	for k, v := range s {
		if !strings.HasPrefix(k, name+"_bucket{") {
			continue
		}
		le := label(k, "le")
		bound := math.Inf(1)
		if le != "+Inf" {
			bound, _ = strconv.ParseFloat(le, 64)
		}
		bs = append(bs, bucket{bound, v})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	for _, b := range bs {
		h.bounds, h.counts = append(h.bounds, b.le), append(h.counts, b.n)
	}
	h.count = uint64(s[name+"_count"])
	return h
}

func (a hist) minus(b hist) hist {
	out := hist{bounds: a.bounds, counts: slices.Clone(a.counts), count: a.count - min(a.count, b.count)}
	for i := range out.counts {
		if i < len(b.counts) {
			out.counts[i] -= b.counts[i]
		}
	}
	return out
}

// quantile interpolates within the bucket holding the q-th observation.
func (h hist) quantile(q float64) float64 {
	if h.count == 0 || len(h.counts) == 0 {
		return math.NaN()
	}
	rank := q * float64(h.count)
	lower, prev := 0.0, 0.0
	for i, c := range h.counts {
		if c >= rank {
			upper := h.bounds[i]
			if math.IsInf(upper, 1) {
				return lower
			}
			if c == prev {
				return upper
			}
			return lower + (upper-lower)*(rank-prev)/(c-prev)
		}
		lower, prev = h.bounds[i], c
	}
	return lower
}

// maxBound is the upper bound of the highest bucket with an observation.
func (h hist) maxBound() float64 {
	if h.count == 0 {
		return math.NaN()
	}
	for i := range h.counts {
		if h.counts[i] >= float64(h.count) {
			return h.bounds[i]
		}
	}
	return math.NaN()
}
