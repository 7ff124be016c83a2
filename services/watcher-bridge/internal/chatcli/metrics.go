package chatcli

import (
	"github.com/chatcli/aiops/libs/collectors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names.
const (
	MetricPollsTotal          = "chatcli_watcher_bridge_getalerts_polls_total"
	MetricAlertsTotal         = "chatcli_watcher_bridge_getalerts_alerts_total"
	MetricUnmappedAlertsTotal = "chatcli_watcher_bridge_getalerts_unmapped_alerts_total"
	MetricCallSeconds         = "chatcli_watcher_bridge_getalerts_duration_seconds"
	MetricDroppedAlertsTotal  = "chatcli_watcher_bridge_getalerts_dropped_alerts_total"
)

// Values of the reason label of MetricDroppedAlertsTotal.
const (
	// DropOutOfScope: the alert is about a namespace the Instance neither
	// lives in nor watches, or about a cluster-scoped object.
	DropOutOfScope = "out_of_scope"
	// DropTooMany: the poll returned more than maxAlertsPerPoll alerts.
	DropTooMany = "too_many"
)

// Values of the result label of MetricPollsTotal.
const (
	// ResultOK: the call succeeded and the Sink took the signals.
	ResultOK = "ok"
	// ResultRPCError: GetAlerts failed (unreachable, Unauthenticated, ...).
	ResultRPCError = "rpc_error"
	// ResultSinkError: the Sink could not store the signals.
	ResultSinkError = "sink_error"
	// ResultConfigError: the TLS or token Secret could not be read, or the
	// client could not be built.
	ResultConfigError = "config_error"
	// ResultRefused: the Instance has no TLS, so it is not polled.
	ResultRefused = "refused"
)

// callBuckets span a loopback call to the 10 s call timeout.
var callBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type metrics struct {
	polls    *prometheus.CounterVec
	alerts   *prometheus.CounterVec
	unmapped *prometheus.CounterVec
	dropped  *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

// newMetrics registers the collectors on reg, reusing those already there,
// so that several Pollers (or tests) can share a registry.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricPollsTotal,
			Help: "GetAlerts polls of ChatCLI Instances, by instance (namespace/name) and result: ok, rpc_error, sink_error, config_error or refused (no TLS).",
		}, []string{"instance", "result"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricAlertsTotal,
			Help: "Alerts returned by GetAlerts, by instance (namespace/name).",
		}, []string{"instance"}),
		unmapped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricUnmappedAlertsTotal,
			Help: "Alerts returned by GetAlerts that map to no signal and were skipped, by instance (namespace/name).",
		}, []string{"instance"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricDroppedAlertsTotal,
			Help: "Alerts returned by GetAlerts and not ingested, by instance (namespace/name) and reason: out_of_scope or too_many.",
		}, []string{"instance", "reason"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricCallSeconds,
			Help:    "Time a GetAlerts call took, by instance (namespace/name).",
			Buckets: callBuckets,
		}, []string{"instance"}),
	}
	var err error
	if m.polls, err = collectors.Register(reg, m.polls); err != nil {
		return nil, err
	}
	if m.alerts, err = collectors.Register(reg, m.alerts); err != nil {
		return nil, err
	}
	if m.unmapped, err = collectors.Register(reg, m.unmapped); err != nil {
		return nil, err
	}
	if m.dropped, err = collectors.Register(reg, m.dropped); err != nil {
		return nil, err
	}
	if m.seconds, err = collectors.Register(reg, m.seconds); err != nil {
		return nil, err
	}
	return m, nil
}

// forget drops the series of an Instance that is no longer polled.
func (m *metrics) forget(instance string) {
	l := prometheus.Labels{"instance": instance}
	m.polls.DeletePartialMatch(l)
	m.alerts.DeletePartialMatch(l)
	m.unmapped.DeletePartialMatch(l)
	m.dropped.DeletePartialMatch(l)
	m.seconds.DeletePartialMatch(l)
}
