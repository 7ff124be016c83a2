package detect

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

const podName = "api-gateway-7d9c-abcde"

// testPod is a Running, Ready pod with one container "app" limited to
// 512Mi; opts change it the way the kubelet would.
func testPod(opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: meta(podName, time.Hour),
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.example/api:1.2",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}},
		}}},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			StartTime:  agoPtr(time.Hour),
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ago(time.Hour)}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", Image: "registry.example/api:1.2", Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}},
			}},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func restarts(n int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.ContainerStatuses[0].RestartCount = n }
}

func lastTerminated(reason string, code int32, finished time.Duration) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{
			Reason: reason, ExitCode: code, FinishedAt: ago(finished),
		}
	}
}

func waiting(reason, message string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		cs := &p.Status.ContainerStatuses[0]
		cs.Ready = false
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}
	}
}

func notReady(since time.Duration) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses[0].Ready = false
		p.Status.Conditions[0] = corev1.PodCondition{
			Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: ago(since),
			Reason: "ContainersNotReady", Message: "containers with unready status: [app]",
		}
	}
}

func phase(ph corev1.PodPhase) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}

// seen is an earlier observation of container app's restart count.
type seen struct {
	ago      time.Duration
	restarts int32
}

func TestEvaluatePod(t *testing.T) {
	type args struct {
		seen []seen
		pod  *corev1.Pod
	}
	cfg := DefaultConfig()
	cases := map[string]struct {
		reason string
		args   args
		want   Result
	}{
		"Healthy": {
			reason: "a running, ready pod without restarts shows nothing",
			args:   args{pod: testPod()},
		},
		"Nil": {
			reason: "a nil pod shows nothing",
			args:   args{},
		},
		"BaselineRestartCount": {
			reason: "the first observation is a baseline: 40 old restarts are not restarting now",
			args:   args{pod: testPod(restarts(40))},
		},
		"RestartsWithinWindow": {
			reason: "the count rose by 3 within 10m",
			args: args{
				seen: []seen{{9 * time.Minute, 37}, {5 * time.Minute, 38}},
				pod:  testPod(restarts(40), lastTerminated("Error", 1, 20*time.Second)),
			},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalPodRestart, "app", "3", "3",
				"HighRestartCount on api-gateway-7d9c-abcde: container app restarted 3 times in the last 10m (40 in total, last exit Error, code 1)")}},
		},
		"RestartsBelowThreshold": {
			reason: "two restarts within the window are below the threshold",
			args:   args{seen: []seen{{8 * time.Minute, 3}}, pod: testPod(restarts(5))},
		},
		"RestartsSpreadBeyondWindow": {
			reason: "three restarts six minutes apart never put three in one 10m window",
			args: args{
				seen: []seen{{18 * time.Minute, 0}, {12 * time.Minute, 1}, {6 * time.Minute, 2}},
				pod:  testPod(restarts(3)),
			},
		},
		"OOMKillRecent": {
			reason: "an OOM kill 3m ago is news, even on a pod seen for the first time",
			args:   args{pod: testPod(restarts(1), lastTerminated("OOMKilled", 137, 3*time.Minute))},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalOOMKill, "app", "", "512Mi",
				"OOMKilled on api-gateway-7d9c-abcde: container app was OOM-killed at its memory limit of 512Mi 3m ago")}},
		},
		"OOMKillStale": {
			reason: "an OOM kill from yesterday is not news",
			args:   args{pod: testPod(restarts(1), lastTerminated("OOMKilled", 137, 26*time.Hour))},
		},
		"OOMKillNoLimit": {
			reason: "without a memory limit of its own the node or pod cgroup ran out",
			args: args{pod: testPod(lastTerminated("OOMKilled", 137, time.Minute), func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
			})},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalOOMKill, "app", "", "",
				"OOMKilled on api-gateway-7d9c-abcde: container app was OOM-killed without a memory limit of its own 1m ago")}},
		},
		"OOMKillCurrentStateOfFailedPod": {
			reason: "a pod with restartPolicy Never keeps its OOM kill in state.terminated; a failed pod is never not-ready",
			args: args{pod: testPod(phase(corev1.PodFailed), notReady(time.Hour), func(p *corev1.Pod) {
				p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					Reason: "OOMKilled", ExitCode: 137, FinishedAt: ago(30 * time.Second),
				}}
			})},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalOOMKill, "app", "", "512Mi",
				"OOMKilled on api-gateway-7d9c-abcde: container app was OOM-killed at its memory limit of 512Mi 30s ago")}},
		},
		"CrashLoopBackOff": {
			reason: "a container waiting in CrashLoopBackOff",
			args: args{pod: testPod(restarts(4), lastTerminated("Error", 2, 2*time.Hour),
				waiting("CrashLoopBackOff", "back-off 5m0s restarting failed container"))},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalCrashLoopBackOff, "app", "4", "",
				"CrashLoopBackOff on api-gateway-7d9c-abcde: container app keeps crashing after 4 restarts, last exit Error, code 2")}},
		},
		"EverythingAtOnce": {
			reason: "OOM kills that cause a crash loop and a burst of restarts, on a pod not ready for 5m, report all four",
			args: args{
				seen: []seen{{6 * time.Minute, 5}},
				pod: testPod(restarts(8), lastTerminated("OOMKilled", 137, 30*time.Second),
					waiting("CrashLoopBackOff", ""), notReady(5*time.Minute)),
			},
			want: Result{Findings: []Finding{
				finding(platformv1alpha1.SignalPodRestart, "app", "3", "3",
					"HighRestartCount on api-gateway-7d9c-abcde: container app restarted 3 times in the last 10m (8 in total, last exit OOMKilled, code 137)"),
				finding(platformv1alpha1.SignalOOMKill, "app", "", "512Mi",
					"OOMKilled on api-gateway-7d9c-abcde: container app was OOM-killed at its memory limit of 512Mi 30s ago"),
				finding(platformv1alpha1.SignalCrashLoopBackOff, "app", "8", "",
					"CrashLoopBackOff on api-gateway-7d9c-abcde: container app keeps crashing after 8 restarts, last exit OOMKilled, code 137"),
				finding(platformv1alpha1.SignalPodNotReady, "app", "5m", "2m",
					"PodNotReady on api-gateway-7d9c-abcde: running but not ready for 5m (ContainersNotReady: containers with unready status: [app])"),
			}},
		},
		"ImagePullBackOff": {
			reason: "a container that cannot pull its image",
			args: args{pod: testPod(phase(corev1.PodPending), waiting("ImagePullBackOff",
				`Back-off pulling image "registry.example/api:1.2"`))},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalImagePullError, "app", "", "",
				`ImagePullError on api-gateway-7d9c-abcde: container app cannot get image "registry.example/api:1.2" (ImagePullBackOff: Back-off pulling image "registry.example/api:1.2")`)}},
		},
		"InvalidImageNameInInitContainer": {
			reason: "init containers are checked too, and their image comes from the spec when the status has none",
			args: args{pod: testPod(phase(corev1.PodPending), func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "Bad:Name"}}
				p.Status.InitContainerStatuses = []corev1.ContainerStatus{{
					Name:  "migrate",
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "InvalidImageName"}},
				}}
			})},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalImagePullError, "migrate", "", "",
				`ImagePullError on api-gateway-7d9c-abcde: container migrate cannot get image "Bad:Name" (InvalidImageName)`)}},
		},
		"NotReadyWithinGrace": {
			reason: "not ready for 40s of a 2m grace: no finding, look again in 80s",
			args:   args{pod: testPod(notReady(40 * time.Second))},
			want:   Result{RecheckAfter: 80 * time.Second},
		},
		"NotReadyBeyondGrace": {
			reason: "not ready for 3m",
			args:   args{pod: testPod(notReady(3 * time.Minute))},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalPodNotReady, "app", "3m", "2m",
				"PodNotReady on api-gateway-7d9c-abcde: running but not ready for 3m (ContainersNotReady: containers with unready status: [app])")}},
		},
		"NotReadyByReadinessGate": {
			reason: "when every container is ready, no container is blamed",
			args: args{pod: testPod(func(p *corev1.Pod) {
				p.Status.Conditions[0] = corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse,
					LastTransitionTime: ago(10 * time.Minute), Reason: "ReadinessGatesNotReady"}
			})},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalPodNotReady, "", "10m", "2m",
				"PodNotReady on api-gateway-7d9c-abcde: running but not ready for 10m (ReadinessGatesNotReady)")}},
		},
		"NotReadyWhileDeleting": {
			reason: "a terminating pod is expected to turn not ready",
			args: args{pod: testPod(notReady(10*time.Minute), func(p *corev1.Pod) {
				p.DeletionTimestamp = agoPtr(10 * time.Minute)
			})},
		},
		"SucceededPod": {
			reason: "a completed pod is not ready by design",
			args:   args{pod: testPod(notReady(10*time.Minute), phase(corev1.PodSucceeded))},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := NewRestartHistory(0)
			for _, s := range tc.args.seen {
				pod := testPod(restarts(s.restarts))
				if r := EvaluatePod(pod, h, now.Add(-s.ago), cfg); len(r.Findings) != 0 {
					t.Fatalf("priming observation %+v fired: %+v", s, r.Findings)
				}
			}
			got := EvaluatePod(tc.args.pod, h, now, cfg)
			diffResult(t, tc.reason, tc.want, got)
			checkInvariants(t, got)
		})
	}
}

func TestEvaluatePodNilHistory(t *testing.T) {
	got := EvaluatePod(testPod(restarts(100)), nil, now, DefaultConfig())
	diffResult(t, "a nil history turns pod_restart off and nothing else fires", Result{}, got)
}

func TestEvaluatePodRestartRecurs(t *testing.T) {
	h, cfg := NewRestartHistory(0), DefaultConfig()
	steps := []struct {
		at    time.Duration // after now
		count int32
		fires bool
	}{
		{0, 10, false},                // baseline
		{time.Minute, 11, false},      // 1 in window
		{2 * time.Minute, 12, false},  // 2
		{3 * time.Minute, 13, true},   // 3: fires
		{4 * time.Minute, 13, true},   // still 3 within the window
		{12 * time.Minute, 13, false}, // the window has slid past the first two
		{13 * time.Minute, 14, false}, // only the restart to 14 is inside (3m, 13m]
	}
	for _, s := range steps {
		r := EvaluatePod(testPod(restarts(s.count)), h, now.Add(s.at), cfg)
		if fired := len(r.Findings) == 1; fired != s.fires {
			t.Errorf("at +%v with %d restarts: fired %v, want %v (%+v)", s.at, s.count, fired, s.fires, r.Findings)
		}
	}
}
