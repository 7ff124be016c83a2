package alertmanager

import "testing"

// FuzzParse checks that no body panics the parser, and that whatever it
// accepts maps without panic into signals that validate.
func FuzzParse(f *testing.F) {
	f.Add(readTestdata(f))
	for _, seed := range []string{
		``,
		`null`,
		`{}`,
		`[]`,
		`{"version":"4"}`,
		`{"version":"4","status":"firing","alerts":null}`,
		`{"version":"4","status":"firing","alerts":[null]}`,
		`{"version":4,"status":"firing","alerts":[]}`,
		`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"KubePodCrashLooping","namespace":"a","pod":"p"},"startsAt":"2025-03-14T09:26:53Z"}]}`,
		`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"signal_type":"node_not_ready","node":"n1"},"startsAt":"2025-03-14T09:26:53+02:00"}]}`,
		`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"HighErrorRate","namespace":"A_B","deployment":".."},"startsAt":"9999-12-31T23:59:59.999999999Z"}]}`,
		`{"version":"4","status":"resolved","alerts":[{"status":"resolved","labels":{"alertname":"X"},"startsAt":"1970-01-01T00:00:00Z","endsAt":"bad"}]}`,
		`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":1}}]}`,
		`{"version":"4","status":"firing","alerts":[{"status":"firing","annotations":{"summary":"\ud800"},"labels":{"signal_type":"latency","namespace":"a","pod":"p"},"startsAt":"2025-03-14T09:26:53Z"}]}`,
		`{"version":"4","alerts":[`,
	} {
		f.Add([]byte(seed))
	}
	m, err := NewMapper(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := Parse(body)
		if err != nil {
			if p != nil {
				t.Fatalf("Parse returned a payload with error %v", err)
			}
			return
		}
		if len(p.Alerts) > MaxAlerts {
			t.Fatalf("Parse accepted %d alerts", len(p.Alerts))
		}
		firing, resolved, skipped := m.Map(p)
		if n := len(firing) + len(resolved) + len(skipped); n != len(p.Alerts) {
			t.Fatalf("Map accounted for %d of %d alerts", n, len(p.Alerts))
		}
		for _, s := range firing {
			if err := s.Validate(); err != nil {
				t.Fatalf("Map produced an invalid signal %+v: %v", s, err)
			}
		}
		for _, s := range skipped {
			if s.Reason == "" {
				t.Fatalf("skipped alert %d without a reason", s.Index)
			}
		}
	})
}
