package detect

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// testDeployment wants 3 replicas and has them all; opts break it.
func testDeployment(opts ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: meta("api", 24*time.Hour),
		Spec:       appsv1.DeploymentSpec{Replicas: ptrTo[int32](3), ProgressDeadlineSeconds: ptrTo[int32](600)},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
					LastTransitionTime: ago(time.Hour), LastUpdateTime: ago(time.Hour)},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
					LastTransitionTime: ago(2 * time.Hour), LastUpdateTime: ago(time.Hour)},
			},
		},
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

// unavailable takes n replicas out of availability.
func unavailable(n int32) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		d.Status.AvailableReplicas -= n
		d.Status.ReadyReplicas -= n
		d.Status.UnavailableReplicas = n
	}
}

// availableFalse sets the Available condition False since d ago.
func availableFalse(since time.Duration) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		d.Status.Conditions[0] = appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse,
			Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability.",
			LastTransitionTime: ago(since), LastUpdateTime: ago(since)}
	}
}

// rollingSince marks a rollout under way whose last progress was d ago.
func rollingSince(d time.Duration) func(*appsv1.Deployment) {
	return func(dep *appsv1.Deployment) {
		dep.Status.Conditions[1] = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue,
			Reason: "ReplicaSetUpdated", Message: `ReplicaSet "api-6b7f" is progressing.`,
			LastTransitionTime: ago(time.Hour), LastUpdateTime: ago(d)}
	}
}

func deadlineExceeded(d *appsv1.Deployment) {
	d.Status.Conditions[1] = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
		Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "api-6b7f" has timed out progressing.`,
		LastTransitionTime: ago(time.Minute), LastUpdateTime: ago(time.Minute)}
}

func TestEvaluateDeployment(t *testing.T) {
	cfg := DefaultConfig()
	failing := func(value, description string) Result {
		return Result{Findings: []Finding{finding(platformv1alpha1.SignalDeployFailing, "", value, "3", description)}}
	}
	cases := map[string]struct {
		reason string
		args   *appsv1.Deployment
		want   Result
	}{
		"Healthy": {
			reason: "all replicas available",
			args:   testDeployment(),
		},
		"Nil": {
			reason: "a nil deployment shows nothing",
		},
		"ProgressDeadlineExceeded": {
			reason: "the controller gave up on the rollout: fire at once",
			args:   testDeployment(unavailable(1), deadlineExceeded),
			want:   failing("2", `DeploymentFailing on api: the rollout exceeded its progress deadline of 10m with 2 of 3 replicas available (ReplicaSet "api-6b7f" has timed out progressing.)`),
		},
		"Paused": {
			reason: "a paused deployment does not fire, even past its deadline",
			args: testDeployment(unavailable(2), availableFalse(time.Hour), deadlineExceeded, func(d *appsv1.Deployment) {
				d.Spec.Paused = true
			}),
		},
		"ScaledToZero": {
			reason: "a deployment scaled to 0 wants nothing",
			args: testDeployment(availableFalse(time.Hour), func(d *appsv1.Deployment) {
				d.Spec.Replicas = ptrTo[int32](0)
				d.Status.UnavailableReplicas = 1
			}),
		},
		"Deleting": {
			reason: "a deployment being deleted is expected to lose replicas",
			args: testDeployment(unavailable(3), availableFalse(time.Hour), func(d *appsv1.Deployment) {
				d.DeletionTimestamp = agoPtr(time.Hour)
			}),
		},
		"ControllerBehind": {
			reason: "observedGeneration below generation: the status is stale, look again soon",
			args: testDeployment(unavailable(3), availableFalse(time.Hour), func(d *appsv1.Deployment) {
				d.Generation = 2
			}),
			want: Result{RecheckAfter: 30 * time.Second},
		},
		"UnavailableBeyondGrace": {
			reason: "Available False for 7m after a finished rollout",
			args:   testDeployment(unavailable(2), availableFalse(7*time.Minute)),
			want:   failing("1", "DeploymentFailing on api: 2 of 3 replicas unavailable with no progress for 7m (MinimumReplicasUnavailable: Deployment does not have minimum availability.)"),
		},
		"UnavailableWithinGrace": {
			reason: "Available False for 2m of a 5m grace",
			args:   testDeployment(unavailable(1), availableFalse(2*time.Minute)),
			want:   Result{RecheckAfter: 3 * time.Minute},
		},
		"UnavailableButProgressing": {
			reason: "a slow scale-up that made progress 1m ago is not stuck, however long Available has been False",
			args:   testDeployment(unavailable(2), availableFalse(20*time.Minute), rollingSince(time.Minute)),
			want:   Result{RecheckAfter: 4 * time.Minute},
		},
		"RolloutStalledWhileAvailable": {
			reason: "a rollout within maxUnavailable that made no progress for 6m",
			args:   testDeployment(unavailable(1), rollingSince(6*time.Minute)),
			want:   failing("2", "DeploymentFailing on api: 1 of 3 replicas unavailable with no progress for 6m"),
		},
		"WithinBudgetAfterRollout": {
			reason: "still Available after a finished rollout: the gap is within maxUnavailable and nothing dates it",
			args:   testDeployment(unavailable(1)),
		},
		"NoConditionsYet": {
			reason: "without conditions the creation time dates the problem",
			args: testDeployment(unavailable(3), func(d *appsv1.Deployment) {
				d.Status.Conditions = nil
				d.CreationTimestamp = ago(10 * time.Minute)
			}),
			want: failing("0", "DeploymentFailing on api: 3 of 3 replicas unavailable with no progress for 10m"),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := EvaluateDeployment(tc.args, now, cfg)
			diffResult(t, tc.reason, tc.want, got)
			checkInvariants(t, got)
		})
	}
}

// testStatefulSet wants 3 replicas; ready and updated are as given.
func testStatefulSet(ready, updated int32, opts ...func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: meta("db", 24*time.Hour),
		Spec:       appsv1.StatefulSetSpec{Replicas: ptrTo[int32](3)},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 3, ReadyReplicas: ready,
			UpdatedReplicas: updated, CurrentRevision: "db-1", UpdateRevision: "db-1"},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// observation is an earlier evaluation of a workload, d before now.
type observation[T any] struct {
	ago time.Duration
	obj T
}

func TestEvaluateStatefulSet(t *testing.T) {
	type args struct {
		earlier    []observation[*appsv1.StatefulSet]
		sts        *appsv1.StatefulSet
		nilTracker bool
	}
	cfg := DefaultConfig()
	cases := map[string]struct {
		reason string
		args   args
		want   Result
	}{
		"Healthy": {
			reason: "all replicas ready",
			args:   args{sts: testStatefulSet(3, 3)},
		},
		"FirstSeenShort": {
			reason: "first seen short of ready replicas: the grace starts now",
			args:   args{sts: testStatefulSet(2, 3)},
			want:   Result{RecheckAfter: 5 * time.Minute},
		},
		"ShortBeyondGrace": {
			reason: "short of ready replicas for 6m without progress",
			args: args{
				earlier: []observation[*appsv1.StatefulSet]{{6 * time.Minute, testStatefulSet(1, 3)}, {3 * time.Minute, testStatefulSet(1, 3)}},
				sts:     testStatefulSet(1, 3),
			},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalDeployFailing, "", "1", "3",
				"StatefulSetFailing on db: 1 of 3 replicas ready with no progress for 6m")}},
		},
		"ProgressRestartsTheClock": {
			reason: "an ordered scale-up whose last pod became ready 2m ago is moving",
			args: args{
				earlier: []observation[*appsv1.StatefulSet]{{8 * time.Minute, testStatefulSet(0, 3)}, {2 * time.Minute, testStatefulSet(1, 3)}},
				sts:     testStatefulSet(1, 3),
			},
			want: Result{RecheckAfter: 3 * time.Minute},
		},
		"FlappingIsNotProgress": {
			reason: "dropping and regaining the same replica does not beat the episode's best",
			args: args{
				earlier: []observation[*appsv1.StatefulSet]{{9 * time.Minute, testStatefulSet(2, 3)}, {4 * time.Minute, testStatefulSet(1, 3)}},
				sts:     testStatefulSet(2, 3),
			},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalDeployFailing, "", "2", "3",
				"StatefulSetFailing on db: 2 of 3 replicas ready with no progress for 9m")}},
		},
		"HealthyInBetween": {
			reason: "a healthy observation ends the episode",
			args: args{
				earlier: []observation[*appsv1.StatefulSet]{{10 * time.Minute, testStatefulSet(1, 3)}, {4 * time.Minute, testStatefulSet(3, 3)}},
				sts:     testStatefulSet(1, 3),
			},
			want: Result{RecheckAfter: 5 * time.Minute},
		},
		"StuckRollingUpdate": {
			reason: "a rolling update stuck on a pod that never gets ready",
			args: args{
				earlier: []observation[*appsv1.StatefulSet]{{7 * time.Minute, testStatefulSet(2, 1, rolling)}},
				sts:     testStatefulSet(2, 1, rolling),
			},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalDeployFailing, "", "2", "3",
				"StatefulSetFailing on db: 2 of 3 replicas ready with no progress for 7m, during a rolling update with 1 of 3 replicas updated")}},
		},
		"ScaledToZero": {
			reason: "a StatefulSet scaled to 0 wants nothing",
			args: args{sts: testStatefulSet(0, 0, func(s *appsv1.StatefulSet) {
				s.Spec.Replicas = ptrTo[int32](0)
			})},
		},
		"ControllerBehind": {
			reason: "a stale status is looked at again soon",
			args:   args{sts: testStatefulSet(0, 0, func(s *appsv1.StatefulSet) { s.Generation = 2 })},
			want:   Result{RecheckAfter: 30 * time.Second},
		},
		"NilTracker": {
			reason: "without a tracker the rule is off",
			args:   args{sts: testStatefulSet(0, 3), nilTracker: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tracker := NewUnhealthySince(0)
			for _, e := range tc.args.earlier {
				EvaluateStatefulSet(e.obj, tracker, now.Add(-e.ago), cfg)
			}
			if tc.args.nilTracker {
				tracker = nil
			}
			got := EvaluateStatefulSet(tc.args.sts, tracker, now, cfg)
			diffResult(t, tc.reason, tc.want, got)
			checkInvariants(t, got)
		})
	}
}

func rolling(s *appsv1.StatefulSet) { s.Status.UpdateRevision = "db-2" }

func TestEvaluateStatefulSetForgetsHealthy(t *testing.T) {
	tracker, cfg := NewUnhealthySince(0), DefaultConfig()
	EvaluateStatefulSet(testStatefulSet(1, 3), tracker, now, cfg)
	if tracker.Len() != 1 {
		t.Fatalf("an unhealthy StatefulSet is not tracked: Len() = %d", tracker.Len())
	}
	EvaluateStatefulSet(testStatefulSet(3, 3), tracker, now.Add(time.Minute), cfg)
	if tracker.Len() != 0 {
		t.Errorf("a healthy StatefulSet is still tracked: Len() = %d", tracker.Len())
	}
}

// testDaemonSet wants pods on 10 nodes.
func testDaemonSet(ready, unavailable, updated int32) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: meta("node-exporter", 24*time.Hour),
		Status: appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 10, CurrentNumberScheduled: 10,
			NumberReady: ready, NumberAvailable: 10 - unavailable, NumberUnavailable: unavailable, UpdatedNumberScheduled: updated},
	}
}

func TestEvaluateDaemonSet(t *testing.T) {
	type args struct {
		earlier []observation[*appsv1.DaemonSet]
		ds      *appsv1.DaemonSet
	}
	cfg := DefaultConfig()
	cases := map[string]struct {
		reason string
		args   args
		want   Result
	}{
		"Healthy": {
			reason: "every node runs a ready pod",
			args:   args{ds: testDaemonSet(10, 0, 10)},
		},
		"NoNodes": {
			reason: "a DaemonSet that wants no pods is not failing",
			args:   args{ds: &appsv1.DaemonSet{ObjectMeta: meta("gpu-plugin", time.Hour)}},
		},
		"UnavailableWithinGrace": {
			reason: "one pod unavailable, first seen now",
			args:   args{ds: testDaemonSet(9, 1, 10)},
			want:   Result{RecheckAfter: 5 * time.Minute},
		},
		"UnavailableBeyondGrace": {
			reason: "one pod unavailable for 6m",
			args: args{
				earlier: []observation[*appsv1.DaemonSet]{{6 * time.Minute, testDaemonSet(9, 1, 10)}},
				ds:      testDaemonSet(9, 1, 10),
			},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalDeployFailing, "", "9", "10",
				"DaemonSetFailing on node-exporter: 9 of 10 pods ready, 1 unavailable, with no progress for 6m")}},
		},
		"SlowRollout": {
			reason: "a long rolling update that keeps updating nodes is not stuck",
			args: args{
				earlier: []observation[*appsv1.DaemonSet]{{30 * time.Minute, testDaemonSet(9, 1, 2)}, {time.Minute, testDaemonSet(9, 1, 7)}},
				ds:      testDaemonSet(9, 1, 7),
			},
			want: Result{RecheckAfter: 4 * time.Minute},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tracker := NewUnhealthySince(0)
			for _, e := range tc.args.earlier {
				EvaluateDaemonSet(e.obj, tracker, now.Add(-e.ago), cfg)
			}
			got := EvaluateDaemonSet(tc.args.ds, tracker, now, cfg)
			diffResult(t, tc.reason, tc.want, got)
			checkInvariants(t, got)
		})
	}
}
