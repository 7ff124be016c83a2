package aiinsight

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// analysisDuration is the time of one AnalyzeIssue call, by the provider
// that answered and the Ready reason it led to, so that the analysis stage
// of the pipeline can be read from /metrics.
var analysisDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "chatcli_analyzer_analysis_duration_seconds",
	Help:    "Duration of one AIInsight analysis call, by provider and outcome (the Ready reason, or retry).",
	Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
}, []string{"provider", "outcome"})

func init() { metrics.Registry.MustRegister(analysisDuration) }
