package detect

import (
	"testing"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func TestLatestHelmRevision(t *testing.T) {
	revs := []HelmRevision{{Version: 2, Status: "superseded"}, {Version: 10, Status: "failed"}, {Version: 9, Status: "superseded"}}
	got, ok := LatestHelmRevision(revs)
	if !ok || got.Version != 10 {
		t.Errorf("latest of %v = %v %t, want version 10 (numeric, not lexical, order)", revs, got, ok)
	}
	if _, ok := LatestHelmRevision(nil); ok {
		t.Error("a release without revisions has no latest")
	}
}

func TestEvaluateHelmRelease(t *testing.T) {
	cfg := DefaultConfig()
	cases := map[string]struct {
		reason string
		rev    HelmRevision
		want   Result
	}{
		"Deployed": {reason: "a deployed release is fine", rev: HelmRevision{Status: "deployed"}},
		"Failed": {
			reason: "a failed latest revision is reported at once",
			rev:    HelmRevision{Status: "failed", Version: 7},
			want:   Result{Findings: []Finding{finding(platformv1alpha1.SignalHelmReleaseFailed, "", "7", "", "HelmReleaseFailed shop: revision 7 failed")}},
		},
		"PendingWithinGrace": {
			reason: "an upgrade running for five minutes may still finish",
			rev:    HelmRevision{Status: "pending-upgrade", Version: 8, Created: now.Add(-5 * time.Minute)},
			want:   Result{RecheckAfter: 10 * time.Minute},
		},
		"PendingStuck": {
			reason: "pending past the grace: the client is gone and the release is locked",
			rev:    HelmRevision{Status: "pending-upgrade", Version: 8, Created: now.Add(-time.Hour)},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalHelmReleaseFailed, "", "8", "",
				"HelmReleaseStuck shop: revision 8 has been pending-upgrade for 1h; Helm refuses further upgrades until it is rolled back")}},
		},
		"UninstallingStuck": {
			reason: "an uninstall that never finished is stuck the same way",
			rev:    HelmRevision{Status: "uninstalling", Version: 3, Created: now.Add(-time.Hour)},
			want: Result{Findings: []Finding{finding(platformv1alpha1.SignalHelmReleaseFailed, "", "3", "",
				"HelmReleaseStuck shop: revision 3 has been uninstalling for 1h; Helm refuses further upgrades until it is rolled back")}},
		},
		"Superseded": {reason: "an older revision's status never matters", rev: HelmRevision{Status: "superseded"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.rev.Release = "shop"
			got := EvaluateHelmRelease(tc.rev, now, cfg)
			checkInvariants(t, got)
			diffResult(t, tc.reason, tc.want, got)
		})
	}
}

func TestEvaluateApplication(t *testing.T) {
	cfg := DefaultConfig()
	drift := finding(platformv1alpha1.SignalConfigDrift, "", "OutOfSync", "",
		"ConfigDrift on Application shop: live state differs from Git at revision abc123 for 15m")
	degraded := finding(platformv1alpha1.SignalArgoCDDegraded, "", "Degraded", "",
		"ApplicationDegraded shop (Deployment shop has timed out progressing)")
	degradedWithDrift := degraded
	degradedWithDrift.Description += "; symptoms folded in: config_drift"
	degradedWithDrift.Evidence = []platformv1alpha1.AnomalyEvidence{{SignalType: drift.Type, Value: drift.Value, Message: drift.Description}}
	cases := map[string]struct {
		reason string
		app    ArgoApplication
		// outOfSyncFor is how long before now the drift was first seen.
		outOfSyncFor time.Duration
		want         Result
	}{
		"Healthy":  {reason: "synced and healthy", app: ArgoApplication{Health: "Healthy", Sync: "Synced"}},
		"Progress": {reason: "progressing is not degraded", app: ArgoApplication{Health: "Progressing", Sync: "Synced"}},
		"DriftWithinGrace": {
			reason: "out of sync for a minute: auto-sync may fix it",
			app:    ArgoApplication{Health: "Healthy", Sync: "OutOfSync"}, outOfSyncFor: time.Minute,
			want: Result{RecheckAfter: 9 * time.Minute},
		},
		"Drift": {
			reason: "out of sync past the grace",
			app:    ArgoApplication{Health: "Healthy", Sync: "OutOfSync", Revision: "abc123"}, outOfSyncFor: 15 * time.Minute,
			want: Result{Findings: []Finding{drift}},
		},
		"Degraded": {
			reason: "degraded is reported at once",
			app:    ArgoApplication{Health: "Degraded", HealthMessage: "Deployment shop has timed out progressing", Sync: "Synced"},
			want:   Result{Findings: []Finding{degraded}},
		},
		"DegradedAndDrifted": {
			reason: "one fault, one Anomaly: the drift is the degradation's evidence",
			app: ArgoApplication{Health: "Degraded", HealthMessage: "Deployment shop has timed out progressing",
				Sync: "OutOfSync", Revision: "abc123"}, outOfSyncFor: 15 * time.Minute,
			want: Result{Findings: []Finding{degradedWithDrift}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tracker := NewUnhealthySince(0)
			tc.app.Name, tc.app.UID = "shop", "uid-shop"
			if tc.outOfSyncFor > 0 {
				EvaluateApplication(tc.app, tracker, now.Add(-tc.outOfSyncFor), cfg)
			}
			got := EvaluateApplication(tc.app, tracker, now, cfg)
			checkInvariants(t, got)
			diffResult(t, tc.reason, tc.want, got)
		})
	}
	t.Run("SyncedAgainForgets", func(t *testing.T) {
		tracker := NewUnhealthySince(0)
		app := ArgoApplication{Name: "shop", UID: "uid-shop", Health: "Healthy", Sync: "OutOfSync"}
		EvaluateApplication(app, tracker, now.Add(-time.Hour), cfg)
		app.Sync = "Synced"
		EvaluateApplication(app, tracker, now.Add(-time.Minute), cfg)
		app.Sync = "OutOfSync"
		if got := EvaluateApplication(app, tracker, now, cfg); len(got.Findings) != 0 {
			t.Errorf("a drift that was synced in between starts its wait again, got %v", got.Findings)
		}
	})
}
