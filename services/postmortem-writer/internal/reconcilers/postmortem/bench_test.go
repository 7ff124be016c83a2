package postmortem_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/incidenttest"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/reconcilers/issue"
)

// BenchmarkIssueResolvedToPostMortem ends 100 incidents at once (their
// records already stored) and measures, per incident, the time from its
// Issue's resolution to its PostMortem's report being visible through the
// API server: p50, p99 and max, in seconds. Run it with -benchtime=1x
// (one round is 1400 writes of setup):
//
//	go test -run '^$' -bench IssueResolvedToPostMortem -benchtime=1x ./services/postmortem-writer/internal/reconcilers/postmortem/
func BenchmarkIssueResolvedToPostMortem(b *testing.B) {
	const incidents = 100
	ctx := context.Background()
	startWriter(b, peers{analyzer: &analyzerOK, remediator: &remediator{}}, issue.Policy{})
	var all []time.Duration
	for round := 0; b.Loop(); round++ {
		b.StopTimer()
		ns := env.NewNamespace(b, "bench", nil)
		t0 := recent()
		ends := make([]func(context.Context) error, incidents)
		setup, setupCtx := errgroup.WithContext(ctx)
		setup.SetLimit(8)
		for i := range incidents {
			setup.Go(func() error {
				h := incidenttest.AgenticResolution(ns, fmt.Sprintf("inc-%03d", i), t0).OnResource(fmt.Sprintf("svc-%03d", i))
				end, err := incidenttest.CreateOpen(setupCtx, env.Client, h)
				ends[i] = end
				return err
			})
		}
		if err := setup.Wait(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		var mu sync.Mutex
		ended := map[string]time.Time{}
		var endAll errgroup.Group
		for i, end := range ends {
			endAll.Go(func() error {
				start := time.Now()
				if err := end(ctx); err != nil {
					return err
				}
				mu.Lock()
				ended[fmt.Sprintf("pm-inc-%03d", i)] = start
				mu.Unlock()
				return nil
			})
		}
		if err := endAll.Wait(); err != nil {
			b.Fatal(err)
		}
		seen := map[string]bool{}
		deadline := time.Now().Add(2 * time.Minute)
		for len(seen) < incidents {
			if time.Now().After(deadline) {
				b.Fatalf("round %d: %d of %d PostMortems written after 2m", round, len(seen), incidents)
			}
			list := &platformv1alpha1.PostMortemList{}
			if err := env.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			for _, pm := range list.Items {
				if !seen[pm.Name] && meta.IsStatusConditionTrue(pm.Status.Conditions, platformv1alpha1.PostMortemReadyCondition) {
					seen[pm.Name] = true
					all = append(all, now.Sub(ended[pm.Name]))
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	slices.Sort(all)
	quantile := func(q float64) float64 { return all[int(q*float64(len(all)-1))].Seconds() }
	b.ReportMetric(quantile(0.50), "p50-s")
	b.ReportMetric(quantile(0.99), "p99-s")
	b.ReportMetric(all[len(all)-1].Seconds(), "max-s")
}

// analyzerOK answers every SummarizeIncident at once.
var analyzerOK = analyzer{answer: &analyzerv1.SummarizeIncidentResponse{}}
