package detect

import (
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/chatcli/aiops/libs/signals"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// ArgoApplication is what GitOps detection reads of an Argo CD
// Application's status.
type ArgoApplication struct {
	Name string
	UID  types.UID
	// Health is status.health.status (Healthy, Progressing, Degraded,
	// Suspended, Missing, Unknown), HealthMessage its message.
	Health, HealthMessage string
	// Sync is status.sync.status (Synced, OutOfSync, Unknown), Revision
	// the Git revision it compares against.
	Sync, Revision string
}

// The Argo CD statuses the rules read.
const (
	argoDegraded  = "Degraded"
	argoOutOfSync = "OutOfSync"
)

// EvaluateApplication reports argocd_degraded when Argo CD finds the
// Application's resources Degraded, and config_drift when it has stayed
// OutOfSync for ConfigDriftGrace (the wait is timed by tracker, as no
// field dates it). A Degraded Application that is also out of sync gives
// one argocd_degraded finding with the drift as its evidence: one fault,
// one Anomaly. A nil tracker turns the drift rule off.
func EvaluateApplication(app ArgoApplication, tracker *UnhealthySince, now time.Time, cfg Config) Result {
	var r Result
	var drift *Finding
	if app.Sync == argoOutOfSync && tracker != nil {
		since, tracked := tracker.observe(app.UID, now, 0)
		switch waited := elapsed(now, since); {
		case !tracked:
		case waited < cfg.ConfigDriftGrace:
			r.recheck(cfg.ConfigDriftGrace - waited)
		default:
			var d Result
			revision := ""
			if app.Revision != "" {
				revision = " at revision " + app.Revision
			}
			d.add(platformv1alpha1.SignalConfigDrift, "", app.Sync, "", "ConfigDrift on Application %s: live state differs from Git%s for %s",
				app.Name, revision, human(waited))
			drift = &d.Findings[0]
		}
	} else if tracker != nil {
		tracker.Forget(app.UID)
	}
	if app.Health != argoDegraded {
		if drift != nil {
			r.Findings = append(r.Findings, *drift)
		}
		return r
	}
	r.add(platformv1alpha1.SignalArgoCDDegraded, "", app.Health, "", "ApplicationDegraded %s%s",
		app.Name, quote("", app.HealthMessage))
	if drift != nil {
		r.Findings[0].Evidence = []platformv1alpha1.AnomalyEvidence{{
			SignalType: drift.Type, Value: drift.Value,
			Message: signals.Truncate(drift.Description, platformv1alpha1.MaxEvidenceMessageLength),
		}}
		r.Findings[0].Description = withSymptoms(r.Findings[0].Description, r.Findings[0].Evidence)
	}
	return r
}
