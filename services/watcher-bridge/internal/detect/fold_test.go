package detect

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func TestFoldSymptoms(t *testing.T) {
	const (
		oom      = platformv1alpha1.SignalOOMKill
		crash    = platformv1alpha1.SignalCrashLoopBackOff
		restart  = platformv1alpha1.SignalPodRestart
		notReady = platformv1alpha1.SignalPodNotReady
		pull     = platformv1alpha1.SignalImagePullError
		deploy   = platformv1alpha1.SignalDeployFailing
	)
	f := func(t platformv1alpha1.SignalType, container string) Finding {
		return finding(t, container, "v-"+string(t), "", "D-"+string(t)+"-"+container)
	}
	ev := func(t platformv1alpha1.SignalType, container string) platformv1alpha1.AnomalyEvidence {
		return platformv1alpha1.AnomalyEvidence{SignalType: t, Value: "v-" + string(t), Message: "D-" + string(t) + "-" + container}
	}
	cause := func(c Finding, evidence ...platformv1alpha1.AnomalyEvidence) Finding {
		c.Evidence = evidence
		c.Description = withSymptoms(c.Description, evidence)
		return c
	}
	cases := map[string]struct {
		reason string
		in     []Finding
		want   []Finding
	}{
		"OOMTriple": {
			reason: "an OOM kill explains the crash loop and the restarts it caused",
			in:     []Finding{f(restart, "app"), f(oom, "app"), f(crash, "app")},
			want:   []Finding{cause(f(oom, "app"), ev(restart, "app"), ev(crash, "app"))},
		},
		"OOMAndNotReady": {
			reason: "an OOM-killed container is out of rotation because of the kill",
			in:     []Finding{f(oom, "app"), f(notReady, "app")},
			want:   []Finding{cause(f(oom, "app"), ev(notReady, "app"))},
		},
		"BadRollout": {
			reason: "a crash loop explains its restarts",
			in:     []Finding{f(restart, "app"), f(crash, "app")},
			want:   []Finding{cause(f(crash, "app"), ev(restart, "app"))},
		},
		"ImagePullAndNotReady": {
			reason: "a container that cannot get its image is never ready",
			in:     []Finding{f(pull, "app"), f(notReady, "app")},
			want:   []Finding{cause(f(pull, "app"), ev(notReady, "app"))},
		},
		"RestartsAlone": {
			reason: "restarts without an OOM kill or a crash loop are their own finding",
			in:     []Finding{f(restart, "app")},
			want:   []Finding{f(restart, "app")},
		},
		"NotReadyAlone": {
			reason: "a pod not ready without a crash loop is its own finding",
			in:     []Finding{f(notReady, "app"), f(restart, "app")},
			want:   []Finding{f(notReady, "app"), f(restart, "app")},
		},
		"OtherContainer": {
			reason: "a sidecar's restarts are not explained by the app container's OOM kill",
			in:     []Finding{f(oom, "app"), f(restart, "sidecar")},
			want:   []Finding{f(oom, "app"), f(restart, "sidecar")},
		},
		"PodWideNotReady": {
			reason: "a not-ready pod held back by a readiness gate names no container, and no cause explains it",
			in:     []Finding{f(crash, "app"), f(notReady, "")},
			want:   []Finding{f(crash, "app"), f(notReady, "")},
		},
		"NoContainer": {
			reason: "workload and node findings are never folded",
			in:     []Finding{f(deploy, ""), f(restart, "")},
			want:   []Finding{f(deploy, ""), f(restart, "")},
		},
		"TwoContainers": {
			reason: "each container's cause keeps its own symptoms, in order",
			in:     []Finding{f(crash, "init"), f(restart, "init"), f(oom, "app"), f(crash, "app"), f(restart, "app")},
			want: []Finding{
				cause(f(crash, "init"), ev(restart, "init")),
				cause(f(oom, "app"), ev(crash, "app"), ev(restart, "app")),
			},
		},
		"Empty": {reason: "nothing in, nothing out"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := append([]Finding(nil), tc.in...)
			got := FoldSymptoms(tc.in)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(in, tc.in, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("FoldSymptoms changed its input:\n%s", diff)
			}
			checkFolded(t, tc.in, got)
		})
	}
}

// TestFoldSymptomsOfAnOOMKilledPod runs the detector and the fold as the
// watcher does on one look at the pod the kubelet (or the e2e cluster's
// fake node) writes for a container OOM-killed in a loop: one finding,
// oom_kill, with the crash loop and the restarts as its evidence.
func TestFoldSymptomsOfAnOOMKilledPod(t *testing.T) {
	h := NewRestartHistory(0)
	cfg := DefaultConfig()
	EvaluatePod(testPod(restarts(0)), h, now.Add(-time.Minute), cfg)
	pod := testPod(restarts(4), lastTerminated("OOMKilled", 137, 5*time.Second), waiting("CrashLoopBackOff", "back-off 40s"))
	got := FoldSymptoms(EvaluatePod(pod, h, now, cfg).Findings)
	if len(got) != 1 || got[0].Type != platformv1alpha1.SignalOOMKill {
		t.Fatalf("want one oom_kill finding, got %+v", got)
	}
	var types []platformv1alpha1.SignalType
	for _, e := range got[0].Evidence {
		types = append(types, e.SignalType)
	}
	want := []platformv1alpha1.SignalType{platformv1alpha1.SignalPodRestart, platformv1alpha1.SignalCrashLoopBackOff}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("evidence, -want +got:\n%s", diff)
	}
	if !strings.Contains(got[0].Description, "symptoms folded in: pod_restart, crashloop_backoff") {
		t.Errorf("the description does not name the symptoms: %q", got[0].Description)
	}
}

// checkFolded holds for every fold: nothing is lost (every finding is
// either kept or one entry of evidence), no kept finding is explained by
// another kept one, and every description fits the Anomaly.
func checkFolded(t *testing.T, in, out []Finding) {
	t.Helper()
	n := len(out)
	for _, f := range out {
		n += len(f.Evidence)
		if len(f.Description) > maxDescription {
			t.Errorf("description of %s is %d bytes", f.Type, len(f.Description))
		}
	}
	if n != len(in) {
		t.Errorf("%d findings in, %d out with evidence", len(in), n)
	}
	for _, c := range out {
		for _, row := range causes {
			if row.cause != c.Type {
				continue
			}
			for _, s := range out {
				if s.Container != "" && s.Container == c.Container && slices.Contains(row.explains, s.Type) {
					t.Errorf("%s on %s kept beside its cause %s", s.Type, s.Container, c.Type)
				}
			}
		}
	}
}
