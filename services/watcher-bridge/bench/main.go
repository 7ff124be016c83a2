// Command bench measures the watcher-bridge against a real kube-apiserver
// and redis-server and prints a report: detection latency with many watched
// workloads, IngestSignals throughput with Redis dedup, and the memory it
// takes to watch many pods. `make bench` runs it; no test asserts a timing.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

type options struct {
	binary     string
	workloads  int
	samples    int
	pods       int
	signals    int
	batch      int
	clients    int
	distinct   int
	skipMemory bool
	faults     int
}

func main() {
	o := options{}
	flag.StringVar(&o.binary, "watcher-bridge", "bin/watcher-bridge", "watcher-bridge binary to measure")
	flag.IntVar(&o.workloads, "workloads", 2000, "watched Deployments during the latency run")
	flag.IntVar(&o.samples, "samples", 200, "faults timed in the latency run")
	flag.IntVar(&o.pods, "pods", 10000, "watched pods during the memory run")
	flag.IntVar(&o.signals, "signals", 200000, "signals sent in the throughput run")
	flag.IntVar(&o.batch, "batch", 100, "signals per IngestSignals call")
	flag.IntVar(&o.clients, "clients", 4, "concurrent IngestSignals callers")
	flag.IntVar(&o.distinct, "distinct", 500, "distinct faults among the signals (each becomes one Anomaly)")
	flag.BoolVar(&o.skipMemory, "skip-memory", false, "skip the memory run")
	flag.IntVar(&o.faults, "faults", 20, "Deployments broken each way in the fault-cost run (0 skips it)")
	flag.Parse()
	// The bench's own API clients have nothing to log.
	ctrllog.SetLogger(logr.Discard())

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	rig, err := startRig(ctx, o.binary)
	if err != nil {
		return err
	}
	defer rig.stop()

	fmt.Printf("watcher-bridge benchmark: %d CPUs, %s, kube-apiserver v1.37.2 and redis-server on loopback\n\n", runtime.NumCPU(), runtime.Version())

	lat, err := measureLatency(ctx, rig, o)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	fmt.Printf("Detection latency, status write to Anomaly visible (%d watched Deployments, %d faults):\n", o.workloads, o.samples)
	fmt.Printf("  p50 %s  p90 %s  p99 %s  max %s   target p99 < 1s: %s\n\n",
		ms(lat.p50), ms(lat.p90), ms(lat.p99), ms(lat.max), verdict(lat.p99 < time.Second))

	tp, err := measureThroughput(ctx, rig, o)
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	fmt.Printf("IngestSignals throughput, batches of %d, %d clients, Redis dedup:\n", o.batch, o.clients)
	fmt.Printf("  new faults:  %d signals created %d Anomalies in %s (%.0f signals/s)\n", tp.newSignals, tp.created, tp.newTook.Round(time.Millisecond), tp.newRate())
	fmt.Printf("  repeats:     %d signals, all duplicates, in %s: %.0f signals/s   target >= 10000/s: %s\n\n",
		tp.dupSignals, tp.dupTook.Round(time.Millisecond), tp.dupRate(), verdict(tp.dupRate() >= 10000))

	if !o.skipMemory {
		mem, err := measureMemory(ctx, rig, o)
		if err != nil {
			return fmt.Errorf("memory: %w", err)
		}
		fmt.Printf("Memory, a fresh watcher-bridge watching %d pods and %d Deployments, nodes too (RSS = heap and stacks + the binary's own pages):\n", mem.pods, o.workloads)
		for _, row := range []struct {
			name string
			res  residency
		}{
			{"Go defaults", mem.plain},
			{fmt.Sprintf("limit from a %d MiB container", containerLimit>>20), mem.limited},
		} {
			fmt.Printf("  %-32s RSS %.1f MiB = %.1f anon + %.1f file (peak %.1f)   target < 150 MiB: %s\n",
				row.name+":", mib(row.res.total), mib(row.res.anon), mib(row.res.file), mib(row.res.peak), verdict(mib(row.res.total) < 150))
		}
		fmt.Println()
		if hold := os.Getenv("BENCH_HOLD"); hold != "" {
			// Keep the rig up for a profile (BENCH_PPROF_ADDRESS).
			d, _ := time.ParseDuration(hold)
			time.Sleep(d)
		}
	}

	// After the memory run, so that its cluster is the one it always measured.
	if o.faults > 0 {
		costs, err := measureFaults(ctx, rig, o.faults)
		if err != nil {
			return fmt.Errorf("faults: %w", err)
		}
		fmt.Printf("Cost of one fault, %d Deployments of 2 pods broken each way, %d restarts each (pod status as the kubelet writes it):\n", o.faults, faultRounds)
		for _, c := range costs {
			fmt.Printf("  %-22s %.2f Anomalies and %.2f API writes per fault (%s; %d evidence entries)   target 1 Anomaly: %s\n",
				c.name+":", c.perFault(c.anomalies), c.perFault(c.writes), c.signals(), c.evidence, verdict(c.anomalies == c.faults))
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
