// Package correlate holds the correlator's pure rules: which signal of an
// incident is its cause, how much risk the signals add up to, the severity
// that follows, and the deterministic names that make correlation
// exactly-once without a lock.
package correlate

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// causeRank orders the signal types from cause to symptom: a lower rank is
// more causal. One OOM fault gives oom_kill, crashloop_backoff and
// pod_restart within milliseconds; the Issue must be the oom_kill, because
// tiered Runbook matching keys on spec.signalType.
//
//   - 1 to 11, root causes: the fault itself (memory, image, node, storage,
//     certificates, configuration, releases);
//   - 20 to 25, failure modes: what the controller makes of the fault;
//   - 30 to 36, symptoms: what users and probes see.
var causeRank = map[platformv1alpha1.SignalType]int{
	platformv1alpha1.SignalOOMKill:            1,
	platformv1alpha1.SignalImagePullError:     2,
	platformv1alpha1.SignalConfigDrift:        3,
	platformv1alpha1.SignalHelmReleaseFailed:  4,
	platformv1alpha1.SignalArgoCDDegraded:     5,
	platformv1alpha1.SignalNodeNotReady:       6,
	platformv1alpha1.SignalDiskPressure:       7,
	platformv1alpha1.SignalPIDPressure:        8,
	platformv1alpha1.SignalNetworkUnavailable: 9,
	platformv1alpha1.SignalPVCPending:         10,
	platformv1alpha1.SignalCertExpiring:       11,
	platformv1alpha1.SignalCrashLoopBackOff:   20,
	platformv1alpha1.SignalDeployFailing:      21,
	platformv1alpha1.SignalJobFailed:          22,
	platformv1alpha1.SignalCronJobMissed:      23,
	platformv1alpha1.SignalHPAMaxed:           24,
	platformv1alpha1.SignalPodCapacityHigh:    25,
	platformv1alpha1.SignalPodRestart:         30,
	platformv1alpha1.SignalPodNotReady:        31,
	platformv1alpha1.SignalErrorRate:          32,
	platformv1alpha1.SignalIngressError:       33,
	platformv1alpha1.SignalLatency:            34,
	platformv1alpha1.SignalMemoryHigh:         35,
	platformv1alpha1.SignalCPUHigh:            36,
}

// unknownRank puts a type the table lacks after every known one.
const unknownRank = 100

// MoreCausal reports whether a explains an incident better than b. Ties
// (only for unknown types) keep b, so the answer never flaps.
func MoreCausal(a, b platformv1alpha1.SignalType) bool {
	return rank(a) < rank(b)
}

func rank(t platformv1alpha1.SignalType) int {
	if r, ok := causeRank[t]; ok {
		return r
	}
	return unknownRank
}

// riskWeights are what each distinct signal type adds to an Issue's risk
// score. The seed fixes five (OOM 30, error_rate 25, deploy_failing 25,
// pod_restart 20, pod_not_ready 20); the rest follow the same scale: a
// root cause that takes a workload down weighs as much as its symptoms.
var riskWeights = map[platformv1alpha1.SignalType]int32{
	platformv1alpha1.SignalOOMKill:            30,
	platformv1alpha1.SignalErrorRate:          25,
	platformv1alpha1.SignalDeployFailing:      25,
	platformv1alpha1.SignalPodRestart:         20,
	platformv1alpha1.SignalPodNotReady:        20,
	platformv1alpha1.SignalNodeNotReady:       30,
	platformv1alpha1.SignalImagePullError:     25,
	platformv1alpha1.SignalCrashLoopBackOff:   20,
	platformv1alpha1.SignalNetworkUnavailable: 25,
	platformv1alpha1.SignalHelmReleaseFailed:  25,
	platformv1alpha1.SignalDiskPressure:       20,
	platformv1alpha1.SignalPIDPressure:        20,
	platformv1alpha1.SignalPVCPending:         20,
	platformv1alpha1.SignalIngressError:       20,
	platformv1alpha1.SignalJobFailed:          20,
	platformv1alpha1.SignalCertExpiring:       20,
	platformv1alpha1.SignalArgoCDDegraded:     20,
	platformv1alpha1.SignalLatency:            15,
	platformv1alpha1.SignalMemoryHigh:         15,
	platformv1alpha1.SignalHPAMaxed:           15,
	platformv1alpha1.SignalCronJobMissed:      15,
	platformv1alpha1.SignalConfigDrift:        15,
	platformv1alpha1.SignalCPUHigh:            10,
	platformv1alpha1.SignalPodCapacityHigh:    10,
}

// MaxRisk caps the risk score, as the Issue schema does.
const MaxRisk = 100

// RiskScore is the sum of the weights of the distinct signal types, capped
// at MaxRisk. A type the table lacks weighs 10.
func RiskScore(types []platformv1alpha1.SignalType) int32 {
	var sum int32
	for _, t := range Distinct(types) {
		w, ok := riskWeights[t]
		if !ok {
			w = 10
		}
		sum += w
	}
	return min(sum, MaxRisk)
}

// SeverityFor maps a risk score onto an incident severity.
func SeverityFor(risk int32) platformv1alpha1.Severity {
	switch {
	case risk >= 80:
		return platformv1alpha1.SeverityCritical
	case risk >= 60:
		return platformv1alpha1.SeverityHigh
	case risk >= 40:
		return platformv1alpha1.SeverityMedium
	default:
		return platformv1alpha1.SeverityLow
	}
}

// Distinct returns the types sorted and without repeats, the form stored on
// an Issue so that a replay adds nothing.
func Distinct(types []platformv1alpha1.SignalType) []platformv1alpha1.SignalType {
	out := slices.Clone(types)
	slices.Sort(out)
	return slices.Compact(out)
}

// ParseTypes reads the comma-separated list FormatTypes writes; unknown or
// empty entries are dropped.
func ParseTypes(s string) []platformv1alpha1.SignalType {
	var out []platformv1alpha1.SignalType
	for _, part := range strings.Split(s, ",") {
		if t := platformv1alpha1.SignalType(strings.TrimSpace(part)); t.IsValid() {
			out = append(out, t)
		}
	}
	return Distinct(out)
}

// FormatTypes writes types as a sorted comma-separated list.
func FormatTypes(types []platformv1alpha1.SignalType) string {
	parts := make([]string, 0, len(types))
	for _, t := range Distinct(types) {
		parts = append(parts, string(t))
	}
	return strings.Join(parts, ",")
}

// ResourceKey identifies a resource across its incidents, for the Issue
// label that finds them: 40 hex digits of the SHA-256 of kind, namespace
// and name. The uid is left out, so a recreated object's new fault is
// correlated with the Issue still open for its name.
func ResourceKey(r platformv1alpha1.ResourceReference) string {
	sum := sha256.Sum256([]byte(r.Kind + "\x00" + r.Namespace + "\x00" + r.Name))
	return hex.EncodeToString(sum[:20])
}

// IssueName is the deterministic name of the generation-th incident of a
// resource (counting from 0): every replica, retry and restart computes the
// same name, so a second create meets AlreadyExists instead of making a
// second Issue. It is a DNS subdomain of at most 253 characters, readable
// as <name>-<kind>-<key>-<generation>.
func IssueName(r platformv1alpha1.ResourceReference, generation int) string {
	return dnsPart(r.Name, 60) + "-" + dnsPart(r.Kind, 24) + "-" + ResourceKey(r)[:10] + "-" + strconv.Itoa(generation)
}

// dnsPart lowercases s to letters, digits and single dashes, cut to max.
func dnsPart(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if b.Len() >= max {
			break
		}
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimRight(b.String(), "-")
	if len(out) > max {
		out = strings.TrimRight(out[:max], "-")
	}
	if out == "" {
		return "x"
	}
	return out
}
