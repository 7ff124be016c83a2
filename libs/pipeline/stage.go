// Package pipeline measures how long incidents spend in each stage of the
// pipeline, fault to Resolved. Each stage is measured by the service that
// ends it, from timestamps on the CRs (an Anomaly's creation, an insight's
// generatedAt, a plan's first action), so a stage's latency includes the
// queueing and the API round trips between services, not only the work of
// one function. Each stage is one histogram,
// chatcli_<service>_<stage>_seconds, on the service's /metrics.
//
// CR timestamps are whole seconds (metav1.Time), so a stage that starts at
// one reads to within a second; the end is the service's own clock. Use
// the histograms for where time goes across many incidents, and a
// harness's clock for a single incident's end-to-end latency.
package pipeline

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Buckets span 5 ms to about 10 min in steps of 1.5×, fine enough for a
// p99 read off the buckets to be within half a step of the truth, from a
// sub-second detection to a slow rollout.
var Buckets = prometheus.ExponentialBuckets(0.005, 1.5, 30)

// Stage is one stage's latency histogram.
type Stage struct {
	histogram prometheus.Histogram
}

// NewStage registers chatcli_<service>_<stage>_seconds with
// controller-runtime's registry (served on /metrics). service is spelled
// with dashes or underscores; it panics on a duplicate, so stages are
// package-level variables.
func NewStage(service, stage, help string) *Stage {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    Name(service, stage),
		Help:    help,
		Buckets: Buckets,
	})
	metrics.Registry.MustRegister(h)
	return &Stage{histogram: h}
}

// Name is the metric name of a stage.
func Name(service, stage string) string {
	return "chatcli_" + strings.ReplaceAll(service, "-", "_") + "_" + stage + "_seconds"
}

// Observe records that a stage started at from ended at to. A zero from
// (an older object without the timestamp) records nothing; clock skew
// between the writers of the two timestamps never records a negative.
func (s *Stage) Observe(from, to time.Time) {
	if s == nil || from.IsZero() || to.IsZero() {
		return
	}
	s.histogram.Observe(max(to.Sub(from), 0).Seconds())
}
