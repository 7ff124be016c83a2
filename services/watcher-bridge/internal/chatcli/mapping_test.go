package chatcli

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/signals"
)

var now = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func TestMapAlertTypes(t *testing.T) {
	cases := map[string]platformv1alpha1.SignalType{
		"HighRestartCount":   platformv1alpha1.SignalPodRestart,
		"OOMKilled":          platformv1alpha1.SignalOOMKill,
		"PodNotReady":        platformv1alpha1.SignalPodNotReady,
		"DeploymentFailing":  platformv1alpha1.SignalDeployFailing,
		"JobFailed":          platformv1alpha1.SignalJobFailed,
		"CronJobMissed":      platformv1alpha1.SignalCronJobMissed,
		"CrashLoopBackOff":   platformv1alpha1.SignalCrashLoopBackOff,
		"ImagePullBackOff":   platformv1alpha1.SignalImagePullError,
		"ErrImagePull":       platformv1alpha1.SignalImagePullError,
		"NodeNotReady":       platformv1alpha1.SignalNodeNotReady,
		"DiskPressure":       platformv1alpha1.SignalDiskPressure,
		"NodeDiskPressure":   platformv1alpha1.SignalDiskPressure,
		"PIDPressure":        platformv1alpha1.SignalPIDPressure,
		"NetworkUnavailable": platformv1alpha1.SignalNetworkUnavailable,
		"MemoryPressure":     platformv1alpha1.SignalMemoryHigh,
	}
	for alertType, want := range cases {
		t.Run(alertType, func(t *testing.T) {
			s, err := MapAlert(Alert{Type: alertType, Object: "worker-1", Namespace: "shop", TimestampUnix: now.Unix()}, now)
			if err != nil {
				t.Fatalf("MapAlert: %v", err)
			}
			if s.Type != want || s.Source != platformv1alpha1.SourceWatcher {
				t.Errorf("MapAlert: got type %s source %s, want %s from watcher", s.Type, s.Source, want)
			}
		})
	}
}

func TestMapAlert(t *testing.T) {
	cases := map[string]struct {
		reason string
		alert  Alert
		want   signals.Signal
	}{
		"DeploymentWins": {
			reason: "The watched Deployment names the resource; the pod is only context.",
			alert: Alert{Type: "HighRestartCount", Severity: "CRITICAL", Message: "container app restarted 8 times",
				Object: "pod/api-gateway-7d9f-x2", Namespace: "prod", Deployment: "api-gateway", TimestampUnix: 1741944000},
			want: signals.Signal{
				Type: platformv1alpha1.SignalPodRestart, Source: platformv1alpha1.SourceWatcher,
				Severity:    platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityCritical),
				Resource:    platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "prod", Name: "api-gateway"},
				Description: "HighRestartCount on api-gateway: container app restarted 8 times",
				DetectedAt:  time.Unix(1741944000, 0).UTC(),
				Labels:      map[string]string{"alertType": "HighRestartCount", "object": "pod/api-gateway-7d9f-x2"},
			},
		},
		"BarePodName": {
			reason: "A bare object is a Pod for pod alert types; no message, no colon.",
			alert:  Alert{Type: "OOMKilled", Severity: "warning", Object: "worker-5c8d-q1", Namespace: "batch"},
			want: signals.Signal{
				Type: platformv1alpha1.SignalOOMKill, Source: platformv1alpha1.SourceWatcher,
				Severity:    platformv1alpha1.SignalSeverityWarning,
				Resource:    platformv1alpha1.ResourceReference{Kind: "Pod", Namespace: "batch", Name: "worker-5c8d-q1"},
				Description: "OOMKilled on worker-5c8d-q1",
				DetectedAt:  now,
				Labels:      map[string]string{"alertType": "OOMKilled", "object": "worker-5c8d-q1"},
			},
		},
		"KindSlashName": {
			reason: "kind/name is read with kubectl's spellings.",
			alert:  Alert{Type: "JobFailed", Severity: "INFO", Object: "cronjobs/nightly", Namespace: "batch", TimestampUnix: -5},
			want: signals.Signal{
				Type: platformv1alpha1.SignalJobFailed, Source: platformv1alpha1.SourceWatcher,
				Severity:    platformv1alpha1.SignalSeverityInfo,
				Resource:    platformv1alpha1.ResourceReference{Kind: "CronJob", Namespace: "batch", Name: "nightly"},
				Description: "JobFailed on nightly",
				DetectedAt:  now,
				Labels:      map[string]string{"alertType": "JobFailed", "object": "cronjobs/nightly"},
			},
		},
		"BareJobName": {
			reason: "A bare object of a Job alert is a Job, not a Pod.",
			alert:  Alert{Type: "JobFailed", Severity: "bogus", Object: "migrate", Namespace: "batch", TimestampUnix: now.Add(time.Hour).Unix()},
			want: signals.Signal{
				Type: platformv1alpha1.SignalJobFailed, Source: platformv1alpha1.SourceWatcher,
				Severity:    platformv1alpha1.SignalSeverityWarning,
				Resource:    platformv1alpha1.ResourceReference{Kind: "Job", Namespace: "batch", Name: "migrate"},
				Description: "JobFailed on migrate",
				DetectedAt:  now,
				Labels:      map[string]string{"alertType": "JobFailed", "object": "migrate"},
			},
		},
		"Node": {
			reason: "Node conditions are about the cluster-scoped Node, whatever the deployment.",
			alert:  Alert{Type: "NodeDiskPressure", Severity: "critical", Message: "ephemeral storage 93% full", Object: "node/worker-1", Namespace: "prod", Deployment: "api"},
			want: signals.Signal{
				Type: platformv1alpha1.SignalDiskPressure, Source: platformv1alpha1.SourceWatcher,
				Severity:    platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityCritical),
				Resource:    platformv1alpha1.ResourceReference{Kind: "Node", Name: "worker-1"},
				Description: "NodeDiskPressure on worker-1: ephemeral storage 93% full",
				DetectedAt:  now,
				Labels:      map[string]string{"alertType": "NodeDiskPressure", "object": "node/worker-1"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := MapAlert(tc.alert, now)
			if err != nil {
				t.Fatalf("%s\nMapAlert: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nMapAlert (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestMapAlertErrors(t *testing.T) {
	cases := map[string]struct {
		alert Alert
		want  string
	}{
		"UnknownType":    {Alert{Type: "DiskFull", Object: "p", Namespace: "a"}, `unknown ChatCLI alert type "DiskFull"`},
		"EmptyType":      {Alert{Object: "p", Namespace: "a"}, `unknown ChatCLI alert type ""`},
		"NoObject":       {Alert{Type: "PodNotReady", Namespace: "a"}, "alert PodNotReady: neither deployment nor object is set"},
		"NoNode":         {Alert{Type: "NodeNotReady"}, "alert NodeNotReady: no object names the node"},
		"NodeIsPod":      {Alert{Type: "NodeNotReady", Object: "pod/p"}, `alert NodeNotReady: object "pod/p" is not a node`},
		"UnknownKind":    {Alert{Type: "PodNotReady", Object: "widget/w", Namespace: "a"}, `alert PodNotReady: object "widget/w" has unknown kind "widget"`},
		"NoName":         {Alert{Type: "PodNotReady", Object: "pod/", Namespace: "a"}, `alert PodNotReady: object "pod/" has no name`},
		"NoNamespace":    {Alert{Type: "PodNotReady", Object: "p"}, "alert PodNotReady: resource namespace is required for kind Pod"},
		"InvalidName":    {Alert{Type: "PodNotReady", Object: "Bad_Name", Namespace: "a"}, `alert PodNotReady: resource name "Bad_Name" is not a valid object name`},
		"InvalidNamespc": {Alert{Type: "DeploymentFailing", Deployment: "api", Namespace: "Prod"}, `alert DeploymentFailing: resource namespace "Prod" is not a valid namespace`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := MapAlert(tc.alert, now)
			if err == nil {
				t.Fatalf("MapAlert: got %+v, want error %q", s, tc.want)
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("MapAlert error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMapAlertCapsDescription(t *testing.T) {
	s, err := MapAlert(Alert{Type: "PodNotReady", Object: "p", Namespace: "a", Message: strings.Repeat("ü", 5000)}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Description) > maxDescriptionBytes || !strings.HasPrefix(s.Description, "PodNotReady on p: ü") {
		t.Errorf("description of %d bytes starts %.40q", len(s.Description), s.Description)
	}
}

// FuzzMapAlert checks that no alert panics the mapping and that every
// signal it returns validates.
func FuzzMapAlert(f *testing.F) {
	f.Add("HighRestartCount", "CRITICAL", "container app restarted 8 times", "pod/api-1", "prod", "api", int64(1741944000))
	f.Add("NodeNotReady", "warning", "", "node/worker-1", "", "", int64(0))
	f.Add("JobFailed", "INFO", "backoff limit", "jobs/migrate", "batch", "", int64(-1))
	f.Add("CronJobMissed", "", "", "nightly", "batch", "", int64(1<<62))
	f.Add("OOMKilled", "critical", "\xff\xfe", "Pod/UPPER", "ns", "", int64(1))
	f.Add("Unknown", "x", "y", "/", "/", "/", int64(0))
	f.Fuzz(func(t *testing.T, typ, sev, msg, obj, ns, deploy string, ts int64) {
		s, err := MapAlert(Alert{Type: typ, Severity: sev, Message: msg, Object: obj, Namespace: ns, Deployment: deploy, TimestampUnix: ts}, now)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("MapAlert returned an invalid signal %+v: %v", s, err)
		}
		if s.Source != platformv1alpha1.SourceWatcher || s.DetectedAt.After(now.Add(maxSkew)) {
			t.Fatalf("MapAlert: source %s, detectedAt %s", s.Source, s.DetectedAt)
		}
	})
}
