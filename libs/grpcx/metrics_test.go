package grpcx_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/chatcli/aiops/libs/grpcx"
)

func TestServerMetrics(t *testing.T) {
	pki := newPKI(t)
	registry := prometheus.NewRegistry()
	useRegistry := func(c *grpcx.ServerConfig) { c.Registerer = registry }
	// Two servers on one registry, as when a service builds its server
	// twice: the second must reuse the collectors, not fail or panic.
	first := startServer(t, pki, useRegistry)
	second := startServer(t, pki, useRegistry)

	withToken := dial(t, first.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken})
	withoutToken := dial(t, first.addr, grpcx.ClientConfig{CAFile: pki.CAFile})
	toSecond := dial(t, second.addr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: testToken})
	calls := []struct {
		name   string
		err    error
		wantOK bool
	}{
		{"ping", call(withToken, pingMethod), true},
		{"ping", call(withToken, pingMethod), true},
		{"ping on the second server", call(toSecond, pingMethod), true},
		{"ping without token", call(withoutToken, pingMethod), false},
		{"panic", call(withToken, panicMethod), false},
		{"stream", call(withToken, countMethod), true},
		{"health check", call(withoutToken, healthCheck), true},
	}
	for _, c := range calls {
		if (c.err == nil) != c.wantOK {
			t.Fatalf("%s: error = %v", c.name, c.err)
		}
	}

	families, err := registry.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	handled := map[string]float64{}
	observed := map[string]uint64{}
	for _, family := range families {
		for _, m := range family.GetMetric() {
			switch family.GetName() {
			case grpcx.MetricHandledTotal:
				handled[labels(m, "service", "method", "code")] = m.GetCounter().GetValue()
			case grpcx.MetricHandlingSeconds:
				observed[labels(m, "service", "method")] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	wantHandled := map[string]float64{
		"grpcx.test.Probe Ping OK":              3,
		"grpcx.test.Probe Ping Unauthenticated": 1,
		"grpcx.test.Probe Panic Internal":       1,
		"grpcx.test.Probe Count OK":             1,
		"grpc.health.v1.Health Check OK":        1,
	}
	if diff := cmp.Diff(wantHandled, handled); diff != "" {
		t.Errorf("%s (-want +got):\n%s", grpcx.MetricHandledTotal, diff)
	}
	wantObserved := map[string]uint64{
		"grpcx.test.Probe Ping":       4,
		"grpcx.test.Probe Panic":      1,
		"grpcx.test.Probe Count":      1,
		"grpc.health.v1.Health Check": 1,
	}
	if diff := cmp.Diff(wantObserved, observed); diff != "" {
		t.Errorf("%s sample counts (-want +got):\n%s", grpcx.MetricHandlingSeconds, diff)
	}
}

// labels joins the values of the named labels of m with spaces.
func labels(m *dto.Metric, names ...string) string {
	values := make([]string, len(names))
	for _, pair := range m.GetLabel() {
		for i, name := range names {
			if pair.GetName() == name {
				values[i] = pair.GetValue()
			}
		}
	}
	return strings.Join(values, " ")
}
