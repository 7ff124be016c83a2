package alertmanager

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/signals"
)

func defaultMapper(t testing.TB) *Mapper {
	t.Helper()
	m, err := NewMapper(Config{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var startsAt = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// firingAlert is a parsed firing alert with the given labels.
func firingAlert(labels map[string]string) Alert {
	return Alert{Status: StatusFiring, Labels: labels, Annotations: map[string]string{}, StartsAt: startsAt, Fingerprint: "f1"}
}

// wantCheckoutSignals are the signals of the testdata payload.
func wantCheckoutSignals() []signals.Signal {
	checkout := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "shop", Name: "checkout"}
	return []signals.Signal{{
		Type:        platformv1alpha1.SignalErrorRate,
		Source:      platformv1alpha1.SourcePrometheus,
		Severity:    platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityCritical),
		Resource:    checkout,
		Description: "Checkout is returning errors: 5.2% of requests to checkout in namespace shop failed with 5xx over the last 5 minutes.",
		DetectedAt:  time.Date(2025, 3, 14, 9, 26, 53, 451e6, time.UTC),
		Value:       "0.052",
		Threshold:   "0.05",
		Labels:      map[string]string{"alertname": "HighErrorRate", "fingerprint": "5e8a1f0c9d2b7a43", "container": "checkout"},
	}, {
		Type:        platformv1alpha1.SignalLatency,
		Source:      platformv1alpha1.SourcePrometheus,
		Severity:    platformv1alpha1.SignalSeverityWarning,
		Resource:    checkout,
		Description: "Checkout is slow: p99 latency of checkout is 1.84s, above 750ms for 10 minutes.",
		DetectedAt:  time.Date(2025, 3, 14, 9, 27, 23, 451e6, time.UTC),
		Labels:      map[string]string{"alertname": "CheckoutLatencyHigh", "fingerprint": "b13c4f6e08d95a21"},
	}}
}

func TestMapTestdata(t *testing.T) {
	p, err := Parse(readTestdata(t))
	if err != nil {
		t.Fatal(err)
	}
	firing, resolved, skipped := defaultMapper(t).Map(p)
	if diff := cmp.Diff(wantCheckoutSignals(), firing); diff != "" {
		t.Errorf("firing (-want +got):\n%s", diff)
	}
	wantResolved := []ResolvedAlert{{
		Alertname:   "KubeDeploymentReplicasMismatch",
		Fingerprint: "0f7d2c85a3e61b94",
		SignalType:  platformv1alpha1.SignalDeployFailing,
		Resource:    platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "shop", Name: "checkout"},
		StartsAt:    time.Date(2025, 3, 14, 8, 41, 8, 451e6, time.UTC),
		EndsAt:      time.Date(2025, 3, 14, 9, 12, 38, 451e6, time.UTC),
	}}
	if diff := cmp.Diff(wantResolved, resolved); diff != "" {
		t.Errorf("resolved (-want +got):\n%s", diff)
	}
	if len(skipped) != 0 {
		t.Errorf("skipped: got %+v, want none", skipped)
	}
}

func TestMapSignalType(t *testing.T) {
	cases := map[string]struct {
		reason string
		labels map[string]string
		config Config
		want   platformv1alpha1.SignalType
		skip   string
	}{
		"LabelBeatsRule": {
			reason: "signal_type on the alert wins over the HighErrorRate rule.",
			labels: map[string]string{"alertname": "HighErrorRate", "signal_type": "latency"},
			want:   platformv1alpha1.SignalLatency,
		},
		"LabelWithoutRule": {
			reason: "signal_type alone is enough, and is normalised.",
			labels: map[string]string{"alertname": "Whatever", "signal_type": " OOM_Kill "},
			want:   platformv1alpha1.SignalOOMKill,
		},
		"BadLabel": {
			reason: "An unknown signal_type skips the alert even when a rule matches.",
			labels: map[string]string{"alertname": "HighErrorRate", "signal_type": "errors"},
			skip:   `label signal_type="errors" is not a known signal type`,
		},
		"ExactRule": {
			reason: "A default exact rule.",
			labels: map[string]string{"alertname": "KubePodCrashLooping"},
			want:   platformv1alpha1.SignalCrashLoopBackOff,
		},
		"RegexRule": {
			reason: "A default pattern rule.",
			labels: map[string]string{"alertname": "PaymentsLatencyHigh"},
			want:   platformv1alpha1.SignalLatency,
		},
		"RegexIsAnchored": {
			reason: "A pattern matches the whole alertname, not a part.",
			labels: map[string]string{"alertname": "HighLatencyBudgetBurnSilenced"},
			skip:   `no rule maps alertname "HighLatencyBudgetBurnSilenced" and it has no signal_type label`,
		},
		"OperatorRuleFirst": {
			reason: "Operator rules come before the defaults.",
			labels: map[string]string{"alertname": "HighErrorRate"},
			config: Config{Rules: []Rule{{Alertname: "HighErrorRate", SignalType: platformv1alpha1.SignalIngressError}}},
			want:   platformv1alpha1.SignalIngressError,
		},
		"DefaultsDisabled": {
			reason: "Without defaults, unknown alerts are skipped.",
			labels: map[string]string{"alertname": "KubePodCrashLooping"},
			config: Config{DisableDefaultRules: true},
			skip:   `no rule maps alertname "KubePodCrashLooping" and it has no signal_type label`,
		},
		"NoAlertname": {
			reason: "An alert with neither name nor type cannot be mapped.",
			labels: map[string]string{},
			skip:   "no alertname label and no signal_type label",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := NewMapper(tc.config)
			if err != nil {
				t.Fatal(err)
			}
			tc.labels["namespace"] = "shop"
			tc.labels["deployment"] = "checkout"
			firing, _, skipped := m.Map(&Payload{Alerts: []Alert{firingAlert(tc.labels)}})
			if tc.skip != "" {
				want := []Skipped{{Alertname: tc.labels["alertname"], Fingerprint: "f1", Reason: tc.skip}}
				if diff := cmp.Diff(want, skipped); diff != "" || len(firing) != 0 {
					t.Errorf("%s\nskipped (-want +got):\n%s\nfiring: %+v", tc.reason, diff, firing)
				}
				return
			}
			if len(firing) != 1 || firing[0].Type != tc.want {
				t.Errorf("%s\ngot firing %+v skipped %+v, want type %s", tc.reason, firing, skipped, tc.want)
			}
		})
	}
}

func TestResourceFromLabels(t *testing.T) {
	cases := map[string]struct {
		reason string
		labels map[string]string
		typ    platformv1alpha1.SignalType
		want   platformv1alpha1.ResourceReference
		ok     bool
	}{
		"Deployment":  {labels: map[string]string{"namespace": "a", "deployment": "web", "pod": "web-1"}, want: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "a", Name: "web"}, ok: true, reason: "A workload label beats pod."},
		"StatefulSet": {labels: map[string]string{"namespace": "a", "statefulset": "db", "pod": "db-0"}, want: platformv1alpha1.ResourceReference{Kind: "StatefulSet", Namespace: "a", Name: "db"}, ok: true},
		"DaemonSet":   {labels: map[string]string{"namespace": "a", "daemonset": "agent"}, want: platformv1alpha1.ResourceReference{Kind: "DaemonSet", Namespace: "a", Name: "agent"}, ok: true},
		"CronJob":     {labels: map[string]string{"namespace": "a", "cronjob": "nightly", "job_name": "nightly-123"}, want: platformv1alpha1.ResourceReference{Kind: "CronJob", Namespace: "a", Name: "nightly"}, ok: true},
		"Job":         {labels: map[string]string{"namespace": "a", "job_name": "migrate", "job": "kube-state-metrics"}, want: platformv1alpha1.ResourceReference{Kind: "Job", Namespace: "a", Name: "migrate"}, ok: true},
		"ScrapeJob":   {labels: map[string]string{"namespace": "a", "job": "kube-state-metrics"}, ok: false, reason: "Prometheus' job label is the scrape job, not a Job."},
		"Pod":         {labels: map[string]string{"namespace": "a", "pod": "web-5d9c-x2"}, want: platformv1alpha1.ResourceReference{Kind: "Pod", Namespace: "a", Name: "web-5d9c-x2"}, ok: true, reason: "A pod alone stays a Pod; the caller finds its owner."},
		"Node":        {labels: map[string]string{"namespace": "monitoring", "node": "worker-1"}, want: platformv1alpha1.ResourceReference{Kind: "Node", Name: "worker-1"}, ok: true, reason: "Nodes are cluster-scoped."},
		"PVC":         {labels: map[string]string{"namespace": "a", "persistentvolumeclaim": "data"}, want: platformv1alpha1.ResourceReference{Kind: "PersistentVolumeClaim", Namespace: "a", Name: "data"}, ok: true},
		"HPA":         {labels: map[string]string{"namespace": "a", "horizontalpodautoscaler": "web"}, want: platformv1alpha1.ResourceReference{Kind: "HorizontalPodAutoscaler", Namespace: "a", Name: "web"}, ok: true},
		"NodeTypePrefersNode": {
			reason: "A node alert scraped through kube-state-metrics' pod is about the node.",
			labels: map[string]string{"namespace": "monitoring", "pod": "kube-state-metrics-0", "node": "worker-2"},
			typ:    platformv1alpha1.SignalNodeNotReady,
			want:   platformv1alpha1.ResourceReference{Kind: "Node", Name: "worker-2"}, ok: true,
		},
		"HPATypePrefersHPA": {
			labels: map[string]string{"namespace": "a", "deployment": "web", "horizontalpodautoscaler": "web-hpa"},
			typ:    platformv1alpha1.SignalHPAMaxed,
			want:   platformv1alpha1.ResourceReference{Kind: "HorizontalPodAutoscaler", Namespace: "a", Name: "web-hpa"}, ok: true,
		},
		"Nothing": {labels: map[string]string{"namespace": "a", "service": "web"}, ok: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := ResourceFromLabels(tc.labels, tc.typ)
			if diff := cmp.Diff(tc.want, got); diff != "" || ok != tc.ok {
				t.Errorf("%s\nResourceFromLabels: ok %v, want %v; (-want +got):\n%s", tc.reason, ok, tc.ok, diff)
			}
		})
	}
}

func TestMapSkipsInvalidSignals(t *testing.T) {
	alerts := []Alert{
		firingAlert(map[string]string{"alertname": "HighErrorRate", "deployment": "web"}),
		firingAlert(map[string]string{"alertname": "HighErrorRate", "namespace": "a", "service": "web"}),
		firingAlert(map[string]string{"alertname": "HighErrorRate", "namespace": "a", "pod": "Not_A_Name"}),
		firingAlert(map[string]string{"alertname": "HighErrorRate", "namespace": "a", "pod": "ok"}),
	}
	firing, _, skipped := defaultMapper(t).Map(&Payload{Alerts: alerts})
	want := []Skipped{
		{Index: 0, Alertname: "HighErrorRate", Fingerprint: "f1", Reason: "invalid signal: resource namespace is required for kind Deployment"},
		{Index: 1, Alertname: "HighErrorRate", Fingerprint: "f1", Reason: "no label names the resource (want namespace and one of deployment, statefulset, daemonset, cronjob, job_name, pod, node, persistentvolumeclaim, horizontalpodautoscaler)"},
		{Index: 2, Alertname: "HighErrorRate", Fingerprint: "f1", Reason: `invalid signal: resource name "Not_A_Name" is not a valid object name`},
	}
	if diff := cmp.Diff(want, skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if len(firing) != 1 || firing[0].Resource.Name != "ok" {
		t.Errorf("firing: got %+v, want the one valid alert", firing)
	}
}

func TestSeverity(t *testing.T) {
	cases := map[string]platformv1alpha1.SignalSeverity{
		"critical": "critical", "CRITICAL": "critical", "page": "critical",
		"high": "high", "error": "high", "medium": "medium", "low": "low",
		" Warning ": "warning", "info": "info", "none": "warning", "": "warning", "P1": "warning",
	}
	for in, want := range cases {
		if got := Severity(in); got != want {
			t.Errorf("Severity(%q): got %q, want %q", in, got, want)
		}
	}
}

func TestMapTextFields(t *testing.T) {
	long := strings.Repeat("é", 3000) // 6000 bytes, two per rune
	cases := map[string]struct {
		reason      string
		labels      map[string]string
		annotations map[string]string
		wantDesc    string
		wantValue   string
	}{
		"Fallback": {
			reason:   "Without summary or description, name the alert and object.",
			wantDesc: "KubePodNotReady on web-1",
		},
		"DescriptionOnly": {
			annotations: map[string]string{"description": "  Pod a/web-1 has been not ready for 15m.\n"},
			wantDesc:    "Pod a/web-1 has been not ready for 15m.",
		},
		"Capped": {
			reason:      "Descriptions are cut at 4096 bytes on a rune boundary.",
			annotations: map[string]string{"summary": long},
			wantDesc:    strings.Repeat("é", 2048),
		},
		"ValueFromLabelFirst": {
			labels:      map[string]string{"value": "12"},
			annotations: map[string]string{"value": "13"},
			wantDesc:    "KubePodNotReady on web-1",
			wantValue:   "12",
		},
		"ValueCapped": {
			annotations: map[string]string{"value": strings.Repeat("9", 100)},
			wantDesc:    "KubePodNotReady on web-1",
			wantValue:   strings.Repeat("9", 64),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			labels := map[string]string{"alertname": "KubePodNotReady", "namespace": "a", "pod": "web-1"}
			for k, v := range tc.labels {
				labels[k] = v
			}
			a := firingAlert(labels)
			if tc.annotations != nil {
				a.Annotations = tc.annotations
			}
			firing, _, skipped := defaultMapper(t).Map(&Payload{Alerts: []Alert{a}})
			if len(firing) != 1 {
				t.Fatalf("%s\nMap: skipped %+v", tc.reason, skipped)
			}
			if diff := cmp.Diff([2]string{tc.wantDesc, tc.wantValue}, [2]string{firing[0].Description, firing[0].Value}); diff != "" {
				t.Errorf("%s\n(description, value) (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	cases := map[string]struct {
		reason string
		yaml   string
		want   string
	}{
		"Valid": {
			yaml: "rules:\n- alertname: CheckoutErrorsHigh\n  signalType: error_rate\n- alertnameRegex: 'Payments.*Slow'\n  signalType: latency\n",
		},
		"UnknownField": {
			reason: "A misspelt key is an error, not a silently ignored rule.",
			yaml:   "rules:\n- alert_name: X\n  signalType: latency\n",
			want:   `parse alert mapping config: error unmarshaling JSON: while decoding JSON: json: unknown field "alert_name"`,
		},
		"BadType": {
			yaml: "rules:\n- alertname: X\n  signalType: slowness\n",
			want: `invalid alert mapping rules: rules[0]: signalType "slowness" is not a known signal type`,
		},
		"BadRegex": {
			yaml: "rules:\n- alertnameRegex: '(unclosed'\n  signalType: latency\n",
			want: "invalid alert mapping rules: rules[0]: alertnameRegex: error parsing regexp: missing closing ): `^(?:(unclosed)$`",
		},
		"Both": {
			yaml: "rules:\n- alertname: X\n  alertnameRegex: Y\n  signalType: latency\n",
			want: "invalid alert mapping rules: rules[0]: set alertname or alertnameRegex, not both",
		},
		"Neither": {
			yaml: "rules:\n- signalType: latency\n",
			want: "invalid alert mapping rules: rules[0]: alertname or alertnameRegex is required",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.yaml))
			if err == nil {
				_, err = NewMapper(c)
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nerror (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDefaultRulesAreValid(t *testing.T) {
	if _, err := NewMapper(Config{Rules: DefaultRules(), DisableDefaultRules: true}); err != nil {
		t.Fatal(err)
	}
}
