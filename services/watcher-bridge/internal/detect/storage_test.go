package detect

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func testPVC(created time.Duration, phase corev1.PersistentVolumeClaimPhase, opts ...func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	p := &corev1.PersistentVolumeClaim{
		ObjectMeta: meta("data-db-0", created),
		Spec:       corev1.PersistentVolumeClaimSpec{StorageClassName: ptrTo("fast-ssd")},
		Status:     corev1.PersistentVolumeClaimStatus{Phase: phase},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func TestEvaluatePVC(t *testing.T) {
	cfg := DefaultConfig()
	cases := map[string]struct {
		reason string
		args   *corev1.PersistentVolumeClaim
		want   Result
	}{
		"Bound": {
			reason: "a bound claim is fine however old",
			args:   testPVC(time.Hour, corev1.ClaimBound),
		},
		"PendingWithinGrace": {
			reason: "pending for 2m of 5m: look again in 3m",
			args:   testPVC(2*time.Minute, corev1.ClaimPending),
			want:   Result{RecheckAfter: 3 * time.Minute},
		},
		"NoPhaseYet": {
			reason: "a claim without a phase is pending too",
			args:   testPVC(time.Minute, ""),
			want:   Result{RecheckAfter: 4 * time.Minute},
		},
		"PendingBeyondGrace": {
			reason: "pending for 6m",
			args:   testPVC(6*time.Minute, corev1.ClaimPending),
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalPVCPending, "", "6m", "5m",
				"PVCPending on data-db-0: pending for 6m with storage class fast-ssd")}},
		},
		"PendingWithConsumer": {
			reason: "a waiting consumer's node and the default class are named",
			args: testPVC(time.Hour, corev1.ClaimPending, func(p *corev1.PersistentVolumeClaim) {
				p.Spec.StorageClassName = nil
				p.Annotations = map[string]string{"volume.kubernetes.io/selected-node": "worker-3"}
			}),
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalPVCPending, "", "1h", "5m",
				"PVCPending on data-db-0: pending for 1h with the default storage class, wanted by a pod on node worker-3")}},
		},
		"Deleting": {
			reason: "a claim being deleted",
			args: testPVC(time.Hour, corev1.ClaimPending, func(p *corev1.PersistentVolumeClaim) {
				p.DeletionTimestamp = agoPtr(time.Minute)
			}),
		},
		"Nil": {
			reason: "a nil claim shows nothing",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := EvaluatePVC(tc.args, now, cfg)
			diffResult(t, tc.reason, tc.want, got)
			checkInvariants(t, got)
		})
	}
}
