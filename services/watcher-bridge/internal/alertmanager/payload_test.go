package alertmanager

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testdataPayload = "testdata/webhook-v4-checkout.json"

func readTestdata(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(testdataPayload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// body builds a version 4 payload around the given alerts, with fields
// overridden or deleted (nil) by top.
func body(t testing.TB, top map[string]any, alerts ...map[string]any) []byte {
	t.Helper()
	p := map[string]any{
		"version": "4", "status": "firing", "receiver": "aiops", "groupKey": "{}:{}",
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{},
		"commonAnnotations": map[string]string{}, "externalURL": "http://am:9093",
		"truncatedAlerts": 0, "alerts": alerts,
	}
	if alerts == nil {
		p["alerts"] = []any{}
	}
	for k, v := range top {
		if v == nil {
			delete(p, k)
			continue
		}
		p[k] = v
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// alert is a firing alert with the given labels and sane timestamps.
func alert(labels map[string]string) map[string]any {
	return map[string]any{
		"status": "firing", "labels": labels, "annotations": map[string]string{},
		"startsAt": "2025-03-14T09:26:53Z", "endsAt": "0001-01-01T00:00:00Z",
		"generatorURL": "http://prom:9090/graph", "fingerprint": "abc123",
	}
}

func with(a map[string]any, key string, v any) map[string]any {
	a[key] = v
	return a
}

func TestParseTestdata(t *testing.T) {
	p, err := Parse(readTestdata(t))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p.Version != "4" || p.Status != StatusFiring || p.Receiver != "chatcli-aiops" || len(p.Alerts) != 3 {
		t.Fatalf("Parse: got version %q status %q receiver %q and %d alerts", p.Version, p.Status, p.Receiver, len(p.Alerts))
	}
	if diff := cmp.Diff(map[string]string{"deployment": "checkout", "namespace": "shop"}, p.GroupLabels); diff != "" {
		t.Errorf("groupLabels (-want +got):\n%s", diff)
	}
	type summary struct {
		Status   Status
		Name     string
		StartsAt time.Time
		EndsAt   time.Time
	}
	var got []summary
	for _, a := range p.Alerts {
		got = append(got, summary{a.Status, a.Name(), a.StartsAt, a.EndsAt})
	}
	want := []summary{
		{StatusFiring, "HighErrorRate", time.Date(2025, 3, 14, 9, 26, 53, 451e6, time.UTC), time.Time{}},
		{StatusFiring, "CheckoutLatencyHigh", time.Date(2025, 3, 14, 9, 27, 23, 451e6, time.UTC), time.Time{}},
		{StatusResolved, "KubeDeploymentReplicasMismatch", time.Date(2025, 3, 14, 8, 41, 8, 451e6, time.UTC), time.Date(2025, 3, 14, 9, 12, 38, 451e6, time.UTC)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

func TestParseToleratesUnknownFields(t *testing.T) {
	b := body(t, map[string]any{"futureField": map[string]any{"x": 1}},
		with(alert(map[string]string{"alertname": "X"}), "silencedBy", []string{"a"}))
	if _, err := Parse(b); err != nil {
		t.Fatalf("Parse: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	many := make([]map[string]any, MaxAlerts+1)
	for i := range many {
		many[i] = alert(map[string]string{"alertname": "X"})
	}
	manyLabels := map[string]string{}
	for i := 0; i <= MaxLabels; i++ {
		manyLabels[fmt.Sprintf("l%d", i)] = "v"
	}
	cases := map[string]struct {
		reason string
		body   []byte
		want   string
	}{
		"Empty": {
			reason: "An empty body is not a payload.",
			body:   []byte("  \n"),
			want:   "empty body; want an Alertmanager webhook payload",
		},
		"Truncated": {
			reason: "Broken JSON names the offset.",
			body:   []byte(`{"version": "4", "alerts": [`),
			want:   "malformed JSON at byte 28: unexpected end of JSON input",
		},
		"TrailingData": {
			reason: "Two values are not one payload.",
			body:   []byte(`{"version": "4"} {}`),
			want:   "malformed JSON at byte 18: invalid character '{' after top-level value",
		},
		"NotAnObject": {
			reason: "The top level must be an object.",
			body:   []byte(`[{"version": "4"}]`),
			want:   "payload: want an object, got array",
		},
		"MissingVersion": {
			reason: "The version is required.",
			body:   body(t, map[string]any{"version": nil}),
			want:   `version: missing; want "4"`,
		},
		"WrongVersion": {
			reason: "Only version 4 is understood.",
			body:   body(t, map[string]any{"version": "3"}),
			want:   `version: got "3", want "4"`,
		},
		"VersionNumber": {
			reason: "The version is a string.",
			body:   body(t, map[string]any{"version": 4}),
			want:   "version: want a string, got number",
		},
		"BadGroupStatus": {
			reason: "The group status is firing or resolved.",
			body:   body(t, map[string]any{"status": "pending"}),
			want:   `status: got "pending", want "firing" or "resolved"`,
		},
		"NegativeTruncated": {
			reason: "A negative count is nonsense.",
			body:   body(t, map[string]any{"truncatedAlerts": -1}),
			want:   "truncatedAlerts: -1 is negative",
		},
		"MissingAlerts": {
			reason: "The alerts list is required.",
			body:   body(t, map[string]any{"alerts": nil}),
			want:   "alerts: missing; want a list of alerts",
		},
		"AlertsNotAList": {
			reason: "Alerts must be a list.",
			body:   body(t, map[string]any{"alerts": map[string]any{"a": 1}}),
			want:   "alerts: want a list, got object",
		},
		"TooManyAlerts": {
			reason: "The number of alerts is capped.",
			body:   body(t, nil, many...),
			want:   "alerts: 1001 alerts, more than the limit of 1000",
		},
		"NullAlert": {
			reason: "An alert must be an object.",
			body:   []byte(`{"version":"4","status":"firing","alerts":[null]}`),
			want:   "alerts[0]: want an object, got null",
		},
		"AlertStatus": {
			reason: "Each alert needs a status.",
			body:   body(t, nil, alert(nil), with(alert(nil), "status", "")),
			want:   `alerts[1].status: missing; want "firing" or "resolved"`,
		},
		"LabelNotString": {
			reason: "Label values are strings, and the error names the key.",
			body:   []byte(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"X","replicas":3},"startsAt":"2025-03-14T09:26:53Z"}]}`),
			want:   `alerts[0].labels["replicas"]: want a string, got number`,
		},
		"LabelsNotObject": {
			reason: "Labels are an object.",
			body:   body(t, nil, with(alert(nil), "labels", []string{"a"})),
			want:   "alerts[0].labels: want an object, got array",
		},
		"TooManyLabels": {
			reason: "The number of labels is capped.",
			body:   body(t, nil, alert(nil), alert(nil), alert(nil), alert(manyLabels)),
			want:   "alerts[3].labels: 129 entries, more than the limit of 128",
		},
		"LongLabelValue": {
			reason: "Label values are capped.",
			body:   body(t, nil, alert(map[string]string{"pod": strings.Repeat("a", MaxLabelValueBytes+1)})),
			want:   `alerts[0].labels["pod"]: value is 4097 bytes, more than the limit of 4096`,
		},
		"LongAnnotation": {
			reason: "Annotations are capped too, more generously.",
			body:   body(t, nil, with(alert(nil), "annotations", map[string]string{"description": strings.Repeat("a", MaxAnnotationValueBytes+1)})),
			want:   `alerts[0].annotations["description"]: value is 16385 bytes, more than the limit of 16384`,
		},
		"LongLabelName": {
			reason: "Label names are capped.",
			body:   body(t, map[string]any{"commonLabels": map[string]string{strings.Repeat("n", MaxLabelNameBytes+1): "v"}}),
			want:   `commonLabels: name "` + strings.Repeat("n", 32) + `"... is 257 bytes, more than the limit of 256`,
		},
		"EmptyLabelName": {
			reason: "A label needs a name.",
			body:   body(t, map[string]any{"groupLabels": map[string]string{"": "v"}}),
			want:   "groupLabels: empty name",
		},
		"MissingStartsAt": {
			reason: "startsAt becomes detectedAt, so it is required.",
			body:   body(t, nil, with(alert(nil), "startsAt", "")),
			want:   "alerts[0].startsAt: missing",
		},
		"ZeroStartsAt": {
			reason: "The zero time is as good as missing.",
			body:   body(t, nil, with(alert(nil), "startsAt", "0001-01-01T00:00:00Z")),
			want:   "alerts[0].startsAt: missing",
		},
		"BadStartsAt": {
			reason: "Timestamps are RFC 3339.",
			body:   body(t, nil, with(alert(nil), "startsAt", "14/03/2025 09:26")),
			want:   `alerts[0].startsAt: "14/03/2025 09:26" is not an RFC 3339 timestamp`,
		},
		"AncientEndsAt": {
			reason: "Timestamps before 1970 are mistakes.",
			body:   body(t, nil, with(alert(nil), "endsAt", "1969-12-31T23:59:59Z")),
			want:   "alerts[0].endsAt: 1969-12-31T23:59:59Z is before 1970",
		},
		"StartsAtNumber": {
			reason: "Timestamps are strings.",
			body:   body(t, nil, with(alert(nil), "startsAt", 1710408413)),
			want:   "alerts[0].startsAt: want a string, got number",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := Parse(tc.body)
			if err == nil {
				t.Fatalf("%s\nParse: got %+v, want error %q", tc.reason, p, tc.want)
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("%s\nParse error (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}
