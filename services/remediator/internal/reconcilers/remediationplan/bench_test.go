package remediationplan

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions/deploymenttest"
)

// BenchmarkPlanToFirstAction creates 100 plans at once on 100 Deployments
// and measures, per plan, the time from its creation to its first action
// applied (the Deployment's replicas changed), and the API writes the
// remediator makes per plan until Completed. Target: p99 < 200 ms.
//
//	go test -run XXX -bench PlanToFirstAction ./services/remediator/internal/reconcilers/remediationplan/
func BenchmarkPlanToFirstAction(b *testing.B) {
	const plans = 100
	ctx := context.Background()
	var writes atomic.Int64
	count := func(context.Context, client.WithWatch, client.Object, ...any) { writes.Add(1) }
	start(b, func(r *Reconciler) {
		r.StabilityWindow, r.PollInterval, r.Workers = time.Nanosecond, 50*time.Millisecond, 16
		r.Client = interceptor.NewClient(r.Client.(client.WithWatch), interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
				count(ctx, c, o)
				return c.Create(ctx, o, opts...)
			},
			Update: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
				count(ctx, c, o)
				return c.Update(ctx, o, opts...)
			},
			Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
				count(ctx, c, o)
				return c.Patch(ctx, o, p, opts...)
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
				writes.Add(1)
				return c.SubResource(sub).Patch(ctx, o, p, opts...)
			},
		})
		r.Executor.Client = r.Client
		r.Policy.Config.ActionsPerNamespacePerHour, r.Policy.Config.PlansPerHour = 10*plans, 10*plans
	})
	ns := env.NewNamespace(b, "bench", nil)
	var issues []*platformv1alpha1.Issue
	for i := range plans {
		d := deploymenttest.New(ns, fmt.Sprintf("d-%d", i), 1)
		must(b, env.Client.Create(ctx, d))
		must(b, deploymenttest.Rollout(ctx, env.Client, client.ObjectKeyFromObject(d), deploymenttest.Options{}))
		issue := &platformv1alpha1.Issue{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: d.Name},
			Spec: platformv1alpha1.IssueSpec{Severity: platformv1alpha1.SeverityHigh, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalOOMKill,
				Resource: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: d.Name, UID: d.UID}},
		}
		must(b, env.Client.Create(ctx, issue))
		issues = append(issues, issue)
	}
	b.ResetTimer()
	created := make([]time.Time, plans)
	applied := make([]time.Time, plans)
	var wg sync.WaitGroup
	for i, issue := range issues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &platformv1alpha1.RemediationPlan{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: issue.Name + "-plan-1"},
				Spec: platformv1alpha1.RemediationPlanSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: issue.Name}, Attempt: 1,
					Actions: []platformv1alpha1.RemediationAction{{Type: platformv1alpha1.ActionScaleDeployment, Params: P{"replicas": "2"}}}},
			}
			_ = controllerutil.SetControllerReference(issue, p, env.Scheme)
			created[i] = time.Now()
			must(b, env.Client.Create(ctx, p))
		}()
	}
	wg.Wait()
	// One goroutine watches for the first action, another plays the
	// Deployment controller so that plans can verify and complete.
	ctx, stop := context.WithTimeout(ctx, 3*time.Minute)
	defer stop()
	var mu sync.Mutex
	seen := 0
	go func() {
		for ctx.Err() == nil {
			list := &appsv1.DeploymentList{}
			if env.Client.List(ctx, list, client.InNamespace(ns)) == nil {
				now := time.Now()
				mu.Lock()
				for _, d := range list.Items {
					var i int
					_, _ = fmt.Sscanf(d.Name, "d-%d", &i)
					if *d.Spec.Replicas == 2 && applied[i].IsZero() {
						applied[i] = now
						seen++
					}
				}
				mu.Unlock()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	go func() {
		for ctx.Err() == nil {
			dl := &appsv1.DeploymentList{}
			if env.Client.List(ctx, dl, client.InNamespace(ns)) == nil {
				for _, d := range dl.Items {
					if d.Status.ObservedGeneration < d.Generation {
						_ = deploymenttest.Rollout(ctx, env.Client, client.ObjectKeyFromObject(&d), deploymenttest.Options{})
					}
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	for {
		mu.Lock()
		n := seen
		mu.Unlock()
		if n == plans || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	firstWrites := writes.Load()
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for i := range plans {
		if applied[i].IsZero() {
			b.Fatalf("plan %d never applied its first action", i)
		}
		lat = append(lat, applied[i].Sub(created[i]))
	}
	slices.Sort(lat)
	// Then to Completed, for the writes of a whole plan.
	for completed := 0; completed < plans && ctx.Err() == nil; {
		list := &platformv1alpha1.RemediationPlanList{}
		must(b, env.Client.List(ctx, list, client.InNamespace(ns)))
		completed = 0
		for _, p := range list.Items {
			if p.Status.State == platformv1alpha1.PlanCompleted {
				completed++
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(float64(p(0.50).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p(0.99).Milliseconds()), "p99-ms")
	b.ReportMetric(float64(firstWrites)/plans, "writes/plan-to-first-action")
	b.ReportMetric(float64(writes.Load())/plans, "writes/plan")
	b.Logf("plan created → first action applied over %d concurrent plans: p50 %s, p99 %s (target < 200ms); API writes per plan: %.1f to the first action, %.1f to Completed",
		plans, p(0.50), p(0.99), float64(firstWrites)/plans, float64(writes.Load())/plans)
}

func must(b testing.TB, err error) {
	if err != nil {
		b.Fatal(err)
	}
}
