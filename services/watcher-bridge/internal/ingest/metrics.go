package ingest

import (
	"time"

	"github.com/chatcli/aiops/libs/collectors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatcli/aiops/libs/signals"
)

// Metrics of the ingest pipeline.
type Metrics struct {
	Signals          *prometheus.CounterVec
	RedisUnavailable prometheus.Counter
	Latency          prometheus.Histogram
	BudgetExhausted  *prometheus.CounterVec
}

// NewMetrics registers the ingest metrics on reg; nil leaves them
// unregistered (tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Signals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatcli_watcher_bridge_signals_total",
			Help: "Signals ingested, by source, signal type and outcome (created, duplicate, rejected).",
		}, []string{"source", "signal_type", "status"}),
		RedisUnavailable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatcli_watcher_bridge_redis_unavailable_total",
			Help: "Signals deduplicated by deterministic Anomaly names alone because Redis was unreachable.",
		}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chatcli_watcher_bridge_ingest_seconds",
			Help:    "Time to dedup a signal and create or find its Anomaly.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		BudgetExhausted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatcli_watcher_bridge_anomaly_budget_exhausted_total",
			Help: "Signals of outside sources refused because the source's Anomaly budget in the namespace was spent, by source.",
		}, []string{"source"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.Signals, err = collectors.Register(reg, m.Signals); err != nil {
		return nil, err
	}
	if m.RedisUnavailable, err = collectors.Register(reg, m.RedisUnavailable); err != nil {
		return nil, err
	}
	if m.Latency, err = collectors.Register(reg, m.Latency); err != nil {
		return nil, err
	}
	if m.BudgetExhausted, err = collectors.Register(reg, m.BudgetExhausted); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) observe(s signals.Signal, res signals.IngestResult, took time.Duration) {
	// Label values of rejected signals come from callers; keep them from
	// growing the series without bound.
	source, signalType := string(s.Source), string(s.Type)
	if !s.Source.IsValid() {
		source = "invalid"
	}
	if !s.Type.IsValid() {
		signalType = "invalid"
	}
	m.Signals.WithLabelValues(source, signalType, string(res.Status)).Inc()
	m.Latency.Observe(took.Seconds())
}

// register reuses a collector already registered, so that two pipelines in
// one process (tests) share the metrics.
