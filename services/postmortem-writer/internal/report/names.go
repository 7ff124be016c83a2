package report

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// RecurrenceWindow is how far back the earlier post-mortems of a problem
// count towards its recurrence.
const RecurrenceWindow = 30 * 24 * time.Hour

// PostMortemName is the one PostMortem of an Issue: every replica, retry
// and restart computes the same name, so a second create meets
// AlreadyExists.
func PostMortemName(issue string) string { return "pm-" + issue }

// PlanName is the RemediationPlan the remediator makes for an attempt.
func PlanName(issue string, attempt int32) string {
	return issue + "-plan-" + strconv.Itoa(int(attempt))
}

// ResourceKey is the correlator's key of a resource across its incidents
// (LabelResourceKey): 40 hex digits of the SHA-256 of kind, namespace and
// name.
func ResourceKey(r platformv1alpha1.ResourceReference) string {
	sum := sha256.Sum256([]byte(r.Kind + "\x00" + r.Namespace + "\x00" + r.Name))
	return hex.EncodeToString(sum[:20])
}

// FirstDetection is when the incident of a written PostMortem was first
// detected: its timeline's first entry. ok is false before the report is
// written.
func FirstDetection(pm *platformv1alpha1.PostMortem) (time.Time, bool) {
	if len(pm.Status.Timeline) == 0 {
		return time.Time{}, false
	}
	return pm.Status.Timeline[0].Timestamp.Time, true
}
