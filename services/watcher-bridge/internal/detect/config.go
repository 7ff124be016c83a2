package detect

import (
	"errors"
	"fmt"
	"time"
)

// Config holds the detectors' thresholds. Start from DefaultConfig; the
// zero value is not usable.
type Config struct {
	// RestartThreshold is how many restarts of one container within
	// RestartWindow make a pod_restart finding. Default 3: one restart is
	// an incident the kubelet already handled, three in ten minutes is a
	// pattern. At most maxRestartObservations-1 (63).
	RestartThreshold int32
	// RestartWindow is the sliding window for RestartThreshold, and also how
	// recent an OOM kill must be to be reported. Default 10m, the
	// platform's correlation window.
	RestartWindow time.Duration
	// NotReadyGrace is how long a Running pod may be not Ready, measured
	// from its Ready condition's lastTransitionTime. Default 2m: longer than
	// a typical start-up probe plus a rolling update's pod hand-over.
	NotReadyGrace time.Duration
	// DeployGrace is how long a Deployment, StatefulSet or DaemonSet may
	// stay short of ready replicas without making progress. Default 5m,
	// half the Deployment controller's default progress deadline, so that
	// workloads without one are caught too.
	DeployGrace time.Duration
	// StatusLagRecheck is when to look again at a workload whose controller
	// has not yet observed its latest generation. Default 30s.
	StatusLagRecheck time.Duration
	// FailedJobMaxAge drops job_failed for Jobs that failed longer ago than
	// this, so that a first start does not report a cluster's whole
	// history of failed Jobs. Default 24h; zero means no limit.
	FailedJobMaxAge time.Duration
	// CronJobTolerance is how late a CronJob's controller may record a
	// scheduled run (on top of startingDeadlineSeconds) before the run
	// counts as missed. Default 1m: the controller usually records a run
	// within seconds.
	CronJobTolerance time.Duration
	// CronJobLocation is the time zone of CronJobs without spec.timeZone:
	// the kube-controller-manager's local zone. Default UTC.
	CronJobLocation *time.Location
	// NodeNotReadyGrace is how long a node's Ready condition may be False or
	// Unknown, measured from its lastTransitionTime. Default 1m: a kubelet
	// restart or a slow PLEG relist flips Ready for seconds, and a page for
	// that is noise. Pressure conditions have no grace: the kubelet
	// already waited its eviction thresholds out.
	NodeNotReadyGrace time.Duration
	// PodCapacityRatio is the share of a node's allocatable pods in use that
	// makes a pod_capacity_high finding. Default 0.9.
	PodCapacityRatio float64
	// PVCPendingGrace is how long a claim may stay Pending, measured from
	// its creation. Default 5m: dynamic provisioning takes seconds to a
	// minute or two on cloud disks.
	PVCPendingGrace time.Duration
	// HPATolerance is the relative amount a metric must exceed its target
	// by to count as above it. Default 0.1, the HPA controller's own
	// default tolerance: below it the HPA would not scale up either.
	HPATolerance float64
	// IngressGrace is how long a Service an Ingress routes to may have no
	// ready endpoint. Default 2m, as NotReadyGrace: a rollout's pod
	// hand-over or a slow start-up probe leaves a Service empty for less.
	IngressGrace time.Duration
	// UsageRatio is the share of a container's CPU or memory limit, as
	// metrics.k8s.io measures it, that counts as high. Default 0.9.
	UsageRatio float64
	// UsageGrace is how long a container's usage must stay at UsageRatio or
	// above before cpu_high or memory_high. Default 5m: a burst of CPU at
	// start-up or a garbage collector's peak is not a fault.
	UsageGrace time.Duration
	// CertExpiryThreshold is how close to its expiry a TLS Secret's
	// certificate is reported. Default 14 days: time to find out why
	// nothing renewed it and to renew it by hand.
	CertExpiryThreshold time.Duration
	// CertificateGrace is how long a cert-manager Certificate may stay not
	// Ready, or past its renewal time without being renewed. Default 1h:
	// an ACME issuance takes minutes, and cert-manager retries a failed one
	// with a backoff that reaches an hour.
	CertificateGrace time.Duration
	// HelmPendingGrace is how long a Helm release's latest revision may stay
	// pending-install, pending-upgrade, pending-rollback or uninstalling.
	// Default 15m, three times Helm's default --timeout: past it the client
	// that started the operation is gone, and every later helm upgrade
	// fails with "another operation is in progress".
	HelmPendingGrace time.Duration
	// ConfigDriftGrace is how long an Argo CD Application may stay
	// OutOfSync. Default 10m: Argo CD compares every 3 minutes, so an
	// auto-synced Application converges well within it.
	ConfigDriftGrace time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		RestartThreshold:  3,
		RestartWindow:     10 * time.Minute,
		NotReadyGrace:     2 * time.Minute,
		DeployGrace:       5 * time.Minute,
		StatusLagRecheck:  30 * time.Second,
		FailedJobMaxAge:   24 * time.Hour,
		CronJobTolerance:  time.Minute,
		CronJobLocation:   time.UTC,
		NodeNotReadyGrace: time.Minute,
		PodCapacityRatio:  0.9,
		PVCPendingGrace:   5 * time.Minute,
		HPATolerance:      0.1,
		IngressGrace:      2 * time.Minute,
		UsageRatio:        0.9,
		UsageGrace:        5 * time.Minute,

		CertExpiryThreshold: 14 * 24 * time.Hour,
		CertificateGrace:    time.Hour,
		HelmPendingGrace:    15 * time.Minute,
		ConfigDriftGrace:    10 * time.Minute,
	}
}

// Validate reports every setting that would make a detector meaningless.
func (c Config) Validate() error {
	var errs []error
	if c.RestartThreshold < 1 || c.RestartThreshold >= maxRestartObservations {
		errs = append(errs, fmt.Errorf("restart threshold %d is outside [1, %d]", c.RestartThreshold, maxRestartObservations-1))
	}
	if c.RestartWindow <= 0 {
		errs = append(errs, errors.New("restart window must be positive"))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"not-ready grace", c.NotReadyGrace}, {"deploy grace", c.DeployGrace},
		{"status lag recheck", c.StatusLagRecheck}, {"failed job max age", c.FailedJobMaxAge},
		{"cronjob tolerance", c.CronJobTolerance}, {"node not-ready grace", c.NodeNotReadyGrace},
		{"PVC pending grace", c.PVCPendingGrace}, {"ingress grace", c.IngressGrace},
		{"usage grace", c.UsageGrace}, {"certificate expiry threshold", c.CertExpiryThreshold},
		{"certificate grace", c.CertificateGrace}, {"Helm pending grace", c.HelmPendingGrace},
		{"config drift grace", c.ConfigDriftGrace},
	} {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", d.name))
		}
	}
	if c.CronJobLocation == nil {
		errs = append(errs, errors.New("cronjob location is required"))
	}
	if c.PodCapacityRatio <= 0 || c.PodCapacityRatio > 1 {
		errs = append(errs, fmt.Errorf("pod capacity ratio %v is outside (0, 1]", c.PodCapacityRatio))
	}
	if c.UsageRatio <= 0 || c.UsageRatio > 1 {
		errs = append(errs, fmt.Errorf("usage ratio %v is outside (0, 1]", c.UsageRatio))
	}
	if c.HPATolerance < 0 {
		errs = append(errs, errors.New("HPA tolerance must not be negative"))
	}
	return errors.Join(errs...)
}
