package instance

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// BenchmarkInstanceToDeploymentAndService creates 100 Instances at once
// and measures, per Instance, the time from its create to both its
// Deployment and its Service existing (seen by an informer that starts
// before the first create). It reports p50 and p99, and the heap and RSS
// of the test process (which runs the operator's manager; etcd and the
// API server are other processes) with the 100 Instances reconciled.
//
//	go test -run '^$' -bench InstanceToDeploymentAndService -benchtime 1x ./services/instance-operator/internal/reconcilers/instance/
func BenchmarkInstanceToDeploymentAndService(b *testing.B) {
	const instances = 100
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	for range b.N {
		ns, _ := start(b)
		if err := env.Client.Create(ctx, secret(ns, "keys", true, map[string]string{"ANTHROPIC_API_KEY": "k"})); err != nil {
			b.Fatal(err)
		}

		var mu sync.Mutex
		seen := map[string]map[string]time.Time{"Deployment": {}, "Service": {}}
		all := make(chan struct{})
		c, err := cache.New(env.Config, cache.Options{Scheme: env.Scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
		if err != nil {
			b.Fatal(err)
		}
		for kind, obj := range map[string]client.Object{"Deployment": &appsv1.Deployment{}, "Service": &corev1.Service{}} {
			inf, err := c.GetInformer(ctx, obj)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: func(o any) {
				now := time.Now()
				mu.Lock()
				defer mu.Unlock()
				if name := o.(client.Object).GetName(); seen[kind][name].IsZero() {
					seen[kind][name] = now
					if len(seen["Deployment"]) == instances && len(seen["Service"]) == instances {
						close(all)
					}
				}
			}}); err != nil {
				b.Fatal(err)
			}
		}
		go func() { _ = c.Start(ctx) }()
		if !c.WaitForCacheSync(ctx) {
			b.Fatal("informer cache did not sync")
		}

		created := make([]time.Time, instances)
		b.ResetTimer()
		var g errgroup.Group
		g.SetLimit(32)
		for i := range instances {
			g.Go(func() error {
				inst := basicInstance(ns, "srv-"+strconv.Itoa(i))
				created[i] = time.Now()
				return env.Client.Create(ctx, inst)
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		select {
		case <-all:
		case <-time.After(2 * time.Minute):
			mu.Lock()
			defer mu.Unlock()
			b.Fatalf("after 2m: %d Deployments, %d Services of %d", len(seen["Deployment"]), len(seen["Service"]), instances)
		}
		b.StopTimer()

		latencies := make([]time.Duration, instances)
		for i := range instances {
			name := "srv-" + strconv.Itoa(i)
			latencies[i] = max(seen["Deployment"][name].Sub(created[i]), seen["Service"][name].Sub(created[i]))
		}
		slices.Sort(latencies)
		p50, p99 := latencies[instances/2], latencies[instances*99/100-1]
		b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
		b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")

		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		if rss, ok := rssMiB(); ok {
			b.ReportMetric(rss, "rss-MiB")
		}
		b.Logf("%d Instances: create to Deployment and Service p50 %v, p99 %v", instances, p50, p99)
	}
}

// rssMiB reads the resident set of this process from /proc.
func rssMiB() (float64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb); err == nil {
				return kb / 1024, true
			}
		}
	}
	return 0, false
}
