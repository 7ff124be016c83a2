package detect

import (
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// HelmRevision is one revision of a Helm release, as Helm's Secret storage
// labels its Secret (sh.helm.release.v1.<release>.v<version>): owner=helm,
// name, version and status. Only those labels are read, never the release
// itself.
type HelmRevision struct {
	Release string
	Version int
	// Status is Helm's: deployed, superseded, failed, pending-install,
	// pending-upgrade, pending-rollback, uninstalling, uninstalled or
	// unknown.
	Status string
	// Created is when the revision's Secret was written: when the
	// operation began.
	Created time.Time
	// UID is the revision's Secret's.
	UID types.UID
}

// LatestHelmRevision is the revision of the highest version, the one Helm
// acts on next; false when there is none.
func LatestHelmRevision(revs []HelmRevision) (HelmRevision, bool) {
	var latest HelmRevision
	found := false
	for _, r := range revs {
		if !found || r.Version > latest.Version {
			latest, found = r, true
		}
	}
	return latest, found
}

// helmInProgress reports a status of an operation still running.
func helmInProgress(status string) bool {
	return strings.HasPrefix(status, "pending-") || status == "uninstalling"
}

// EvaluateHelmRelease reports helm_release_failed when the release's latest
// revision failed, or has stayed pending (or uninstalling) for
// HelmPendingGrace: the client that ran it is gone, and Helm refuses every
// later upgrade until someone rolls back. Within the grace RecheckAfter is
// the time left.
func EvaluateHelmRelease(latest HelmRevision, now time.Time, cfg Config) Result {
	var r Result
	switch {
	case latest.Status == "failed":
		r.add(platformv1alpha1.SignalHelmReleaseFailed, "", strconv.Itoa(latest.Version), "",
			"HelmReleaseFailed %s: revision %d failed", latest.Release, latest.Version)
	case helmInProgress(latest.Status):
		waited := elapsed(now, latest.Created)
		if waited < cfg.HelmPendingGrace {
			r.recheck(cfg.HelmPendingGrace - waited)
			return r
		}
		r.add(platformv1alpha1.SignalHelmReleaseFailed, "", strconv.Itoa(latest.Version), "",
			"HelmReleaseStuck %s: revision %d has been %s for %s; Helm refuses further upgrades until it is rolled back",
			latest.Release, latest.Version, latest.Status, human(waited))
	}
	return r
}
