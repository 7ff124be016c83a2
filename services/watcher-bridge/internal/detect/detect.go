// Package detect holds the watcher-bridge's native detectors: pure functions
// that look at one Kubernetes object, as the kubelet and the controllers
// wrote its status, and return the problems it shows at a given instant.
//
// The functions do no I/O and read no clock: the caller passes now, and the
// only state they touch is the caller's RestartHistory and UnhealthySince,
// which remember what a single object cannot tell (how a restart count moved,
// since when a StatefulSet is short of ready replicas). Attribution to the
// top owner, dedup and Anomaly creation happen elsewhere.
//
// A finding is reported every time the object is evaluated while the problem
// lasts; the caller's dedup turns that into one Anomaly. Result.RecheckAfter
// asks for another evaluation when a grace period or schedule will expire
// without the object changing, since an informer only calls back on changes.
//
// Wiring: validate the Config once at start-up; call the Evaluate function
// of a kind on every add and update of an object (and on resyncs), and again
// after RecheckAfter when it is positive (a workqueue's AddAfter); on delete
// call RestartHistory.Forget or UnhealthySince.Forget with the object's UID.
// Pass an evaluation's findings through FoldSymptoms before reporting them,
// so that one fault is one Anomaly.
//
// Severities, one per signal type:
//
//	signal type          severity  why
//	oom_kill             critical  the kernel killed the workload; it recurs under the same load
//	node_not_ready       critical  every pod on the node is affected at once
//	crashloop_backoff    high      the container cannot stay up at all
//	image_pull_error     high      the pod can never start until the image is fixed
//	deploy_failing       high      the workload is below the capacity its owner asked for
//	job_failed           high      the batch work did not happen and will not retry
//	ingress_error        high      users get 502/503 on the routes of an empty backend
//	certificate_expiring high      clients will refuse the endpoint once it expires (critical when it has, or will within a day)
//	helm_release_failed  high      the release is half applied, and further upgrades are blocked
//	argocd_degraded      high      Argo CD reports the application's resources unhealthy
//	pod_restart          medium    restarts that still recover; often the first sign of the above
//	pod_not_ready        medium    one replica out of rotation
//	disk_pressure        medium    the kubelet is evicting pods, but the node still runs
//	memory_high          medium    (node MemoryPressure) as disk_pressure; (a container near its limit) an OOM kill may follow
//	cpu_high             medium    a container throttled at its limit: slow, not down
//	pid_pressure         medium    as disk_pressure
//	network_unavailable  medium    usually a CNI start-up problem on one node
//	pod_capacity_high    medium    new pods will soon not schedule on the node
//	pvc_pending          medium    the consuming pods wait, nothing running breaks
//	hpa_maxed            medium    degraded headroom, service still up
//	cronjob_missed       medium    a run was skipped, the next may succeed
//	config_drift         medium    the cluster is not what Git says; nothing is down yet
package detect

import (
	"fmt"
	"strings"
	"time"

	"github.com/chatcli/aiops/libs/signals"

	// A distroless image has no zoneinfo; CronJob spec.timeZone needs it.
	_ "time/tzdata"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Finding is one problem seen on one object, before attribution to the top
// owner.
type Finding struct {
	Type     platformv1alpha1.SignalType
	Severity platformv1alpha1.SignalSeverity
	// Description is a sentence for people that names the object (and, for
	// pod findings, the container), e.g. "HighRestartCount on
	// api-7d9c-abcde: container app restarted 4 times in the last 10m (9 in
	// total, last exit Error, code 1)".
	Description string
	// Value and Threshold are what was measured and the limit it crossed,
	// where known ("4" and "3"); each fits the Anomaly's 64-byte limit.
	Value     string
	Threshold string
	// Container names the container of a pod finding; it is empty for other
	// kinds and for pod-wide findings that no container explains.
	Container string
	// Evidence are the symptoms FoldSymptoms moved into this finding, their
	// cause.
	Evidence []platformv1alpha1.AnomalyEvidence
}

// Result is what an evaluation returns.
type Result struct {
	Findings []Finding
	// RecheckAfter > 0 asks the caller to evaluate the object again after
	// this long, because a grace period, window or schedule is still
	// running; zero means only a change of the object can change the result.
	RecheckAfter time.Duration
}

// recheck keeps the earliest positive recheck.
func (r *Result) recheck(d time.Duration) {
	if d <= 0 {
		return
	}
	if r.RecheckAfter == 0 || d < r.RecheckAfter {
		r.RecheckAfter = d
	}
}

func (r *Result) add(t platformv1alpha1.SignalType, container, value, threshold, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{
		Type:        t,
		Severity:    severities[t],
		Description: signals.Truncate(fmt.Sprintf(format, args...), maxDescription),
		Value:       signals.Truncate(value, maxValue),
		Threshold:   signals.Truncate(threshold, maxValue),
		Container:   container,
	})
}

// severities is the table in the package comment.
var severities = map[platformv1alpha1.SignalType]platformv1alpha1.SignalSeverity{
	platformv1alpha1.SignalOOMKill:            critical,
	platformv1alpha1.SignalNodeNotReady:       critical,
	platformv1alpha1.SignalCrashLoopBackOff:   high,
	platformv1alpha1.SignalImagePullError:     high,
	platformv1alpha1.SignalDeployFailing:      high,
	platformv1alpha1.SignalJobFailed:          high,
	platformv1alpha1.SignalPodRestart:         medium,
	platformv1alpha1.SignalPodNotReady:        medium,
	platformv1alpha1.SignalDiskPressure:       medium,
	platformv1alpha1.SignalMemoryHigh:         medium,
	platformv1alpha1.SignalPIDPressure:        medium,
	platformv1alpha1.SignalNetworkUnavailable: medium,
	platformv1alpha1.SignalPodCapacityHigh:    medium,
	platformv1alpha1.SignalPVCPending:         medium,
	platformv1alpha1.SignalHPAMaxed:           medium,
	platformv1alpha1.SignalCronJobMissed:      medium,
	platformv1alpha1.SignalIngressError:       high,
	platformv1alpha1.SignalCPUHigh:            medium,
	platformv1alpha1.SignalCertExpiring:       high,
	platformv1alpha1.SignalHelmReleaseFailed:  high,
	platformv1alpha1.SignalArgoCDDegraded:     high,
	platformv1alpha1.SignalConfigDrift:        medium,
}

const (
	critical = platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityCritical)
	high     = platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityHigh)
	medium   = platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityMedium)
)

// Limits of the Anomaly schema, and how much of a controller-written
// message a description quotes.
const (
	maxDescription = platformv1alpha1.MaxDescriptionLength
	maxValue       = platformv1alpha1.MaxMeasurementLength
	maxMessage     = 512
)

// quote shortens a status message for a description; an empty message
// gives an empty string so that callers can append it unconditionally.
func quote(reason, message string) string {
	message = strings.ToValidUTF8(strings.Join(strings.Fields(message), " "), "")
	switch {
	case reason == "" && message == "":
		return ""
	case message == "":
		return " (" + reason + ")"
	case reason == "":
		return " (" + signals.Truncate(message, maxMessage) + ")"
	}
	return " (" + reason + ": " + signals.Truncate(message, maxMessage) + ")"
}

// human prints a duration without zero units, to the second below an hour
// and to the minute above, as people read it: 40s, 2m5s, 1h, 1h1m.
func human(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	precision := time.Second
	if d >= time.Hour {
		precision = time.Minute
	}
	s := d.Round(precision).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// elapsed is how long ago t was; a time in the future (clock skew between
// the writer and us) counts as now.
func elapsed(now, t time.Time) time.Duration {
	if d := now.Sub(t); d > 0 {
		return d
	}
	return 0
}
