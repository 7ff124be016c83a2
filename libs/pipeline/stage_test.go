package pipeline

import (
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

func TestStageObserves(t *testing.T) {
	s := NewStage("pipeline-test", "a_to_b", "test stage")
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		from, to time.Time
		count    int
	}{
		{"a normal stage", t0, t0.Add(1500 * time.Millisecond), 1},
		{"no start: nothing", time.Time{}, t0, 1},
		{"no end: nothing", t0, time.Time{}, 1},
		{"skew: zero, not negative", t0.Add(time.Second), t0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Observe(tt.from, tt.to)
			if got := sampleCount(t); got != tt.count {
				t.Fatalf("sample count %d, want %d", got, tt.count)
			}
		})
	}
	var nilStage *Stage
	nilStage.Observe(t0, t0.Add(time.Second)) // a service without the stage
}

func sampleCount(t *testing.T) int {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == Name("pipeline-test", "a_to_b") {
			return int(f.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	t.Fatal("stage not registered")
	return 0
}

func TestName(t *testing.T) {
	if got := Name("watcher-bridge", "fault_to_anomaly"); got != "chatcli_watcher_bridge_fault_to_anomaly_seconds" {
		t.Fatal(got)
	}
}
