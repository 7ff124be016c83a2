package app

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/alertmanager"

	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/ingest"
)

// Service declares the watcher-bridge. It works without Redis (dedup falls
// back to deterministic Anomaly names), so it stays ready through an outage.
func Service() bootstrap.Service {
	o := NewOptions()
	return bootstrap.Service{
		Name: "watcher-bridge", GRPC: true, Redis: bootstrap.RedisDegraded,
		AddFlags: o.AddFlags, Validate: o.Validate, Setup: o.Setup,
	}
}

// Options are the watcher-bridge's own settings.
type Options struct {
	NamespaceSelector string
	AnomalyNamespace  string
	DedupTTL          time.Duration
	WatchNodes        bool
	DetectionWorkers  int
	// UsagePollInterval is how often PodMetrics are read, when served.
	UsagePollInterval time.Duration
	Detect            detect.Config
	restartThreshold  int
	// SecretSignalNamespaces are where TLS and Helm release Secrets are
	// read; the chart grants a Role in each.
	SecretSignalNamespaces []string

	WebhookBindAddress  string
	WebhookTokenFile    string
	WebhookMaxBodyBytes int64
	WebhookRateRPS      float64
	WebhookRateBurst    int
	AlertmanagerRules   string
	AlertWindow         time.Duration
	PollInterval        time.Duration
	// ExternalAnomalyBudget is how many Anomalies one outside source may
	// create per namespace per hour.
	ExternalAnomalyBudget int64
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		AnomalyNamespace:    "chatcli-system",
		DedupTTL:            ingest.DefaultDedupTTL,
		WatchNodes:          true,
		DetectionWorkers:    4,
		UsagePollInterval:   30 * time.Second,
		Detect:              detect.DefaultConfig(),
		restartThreshold:    int(detect.DefaultConfig().RestartThreshold),
		WebhookMaxBodyBytes: 1 << 20,
		WebhookRateRPS:      alertmanager.DefaultRateLimitRPS,
		WebhookRateBurst:    alertmanager.DefaultRateLimitBurst,
		AlertWindow:         30 * time.Minute,
		PollInterval:        30 * time.Second,
		// Far above what one namespace's real incidents make in an hour,
		// and a bound on what a leaked token can write to etcd.
		ExternalAnomalyBudget: 100,
	}
}

// AddFlags registers the watcher-bridge's flags on fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.NamespaceSelector, "namespace-selector", o.NamespaceSelector, "Label selector of namespaces whose every workload is watched, for cluster-wide use; Instances' watcher targets are always watched.")
	fs.StringVar(&o.AnomalyNamespace, "anomaly-namespace", o.AnomalyNamespace, "Namespace of the Anomalies of cluster-scoped resources (Nodes).")
	fs.DurationVar(&o.DedupTTL, "dedup-ttl", o.DedupTTL, "How long a seen signal stays deduplicated, unless its Instance sets aiops.dedupTTLMinutes.")
	fs.BoolVar(&o.WatchNodes, "watch-nodes", o.WatchNodes, "Detect node conditions and full nodes (cluster-wide watches of Nodes, and of bound pods to count each node's pods).")
	fs.IntVar(&o.DetectionWorkers, "detection-workers", o.DetectionWorkers, "Objects evaluated in parallel.")
	fs.DurationVar(&o.UsagePollInterval, "usage-poll-interval", o.UsagePollInterval, "How often metrics.k8s.io PodMetrics are read for cpu_high and memory_high, when the API server serves them; 0 turns it off.")
	fs.Float64Var(&o.Detect.UsageRatio, "usage-ratio", o.Detect.UsageRatio, "Share of a container's CPU or memory limit that counts as high.")
	fs.DurationVar(&o.Detect.UsageGrace, "usage-grace", o.Detect.UsageGrace, "How long a container's usage must stay at --usage-ratio before cpu_high or memory_high.")
	fs.IntVar(&o.restartThreshold, "restart-threshold", o.restartThreshold, "Restarts within --restart-window that make a pod_restart signal.")
	fs.DurationVar(&o.Detect.RestartWindow, "restart-window", o.Detect.RestartWindow, "Window over which restarts are counted; also how recent an OOM kill must be.")
	fs.DurationVar(&o.Detect.NotReadyGrace, "not-ready-grace", o.Detect.NotReadyGrace, "How long a running pod may be unready before pod_not_ready.")
	fs.DurationVar(&o.Detect.IngressGrace, "ingress-grace", o.Detect.IngressGrace, "How long a Service an Ingress routes to may have no ready endpoint before ingress_error.")
	fs.DurationVar(&o.Detect.DeployGrace, "deploy-grace", o.Detect.DeployGrace, "How long a workload may lack available replicas before deploy_failing.")
	fs.Func("secret-signal-namespaces", "Comma-separated namespaces whose kubernetes.io/tls Secrets (certificate_expiring) and Helm release Secrets (helm_release_failed) are read, when in scope. The watcher-bridge needs list and watch on Secrets there (the chart's rbac.secretSignalNamespaces); empty reads none.", func(v string) error {
		o.SecretSignalNamespaces = nil
		for _, ns := range strings.Split(v, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				o.SecretSignalNamespaces = append(o.SecretSignalNamespaces, ns)
			}
		}
		return nil
	})
	fs.DurationVar(&o.Detect.CertExpiryThreshold, "certificate-expiry-threshold", o.Detect.CertExpiryThreshold, "How close to its expiry a TLS Secret's certificate gives certificate_expiring.")
	fs.DurationVar(&o.Detect.CertificateGrace, "certificate-grace", o.Detect.CertificateGrace, "How long a cert-manager Certificate may stay not Ready, or past its renewal time, before certificate_expiring.")
	fs.DurationVar(&o.Detect.HelmPendingGrace, "helm-pending-grace", o.Detect.HelmPendingGrace, "How long a Helm release's latest revision may stay pending before helm_release_failed.")
	fs.DurationVar(&o.Detect.ConfigDriftGrace, "config-drift-grace", o.Detect.ConfigDriftGrace, "How long an Argo CD Application may stay OutOfSync before config_drift.")
	fs.DurationVar(&o.Detect.PVCPendingGrace, "pvc-pending-grace", o.Detect.PVCPendingGrace, "How long a PVC may stay Pending before pvc_pending.")
	fs.StringVar(&o.WebhookBindAddress, "webhook-bind-address", o.WebhookBindAddress, "HTTPS address of the Alertmanager webhook (/alertmanager), for example :9443; empty disables it. Needs --webhook-token-file.")
	fs.StringVar(&o.WebhookTokenFile, "webhook-token-file", o.WebhookTokenFile, "File with the bearer token Alertmanager must send, distinct from the gRPC token; re-read when it changes. "+grpcx.TokenFileHelp)
	fs.Int64Var(&o.WebhookMaxBodyBytes, "webhook-max-body-bytes", o.WebhookMaxBodyBytes, "Largest Alertmanager payload accepted.")
	fs.Float64Var(&o.WebhookRateRPS, "webhook-rate-limit-rps", o.WebhookRateRPS, "Sustained webhook requests per second allowed per client IP; past it the webhook answers 429.")
	fs.IntVar(&o.WebhookRateBurst, "webhook-rate-limit-burst", o.WebhookRateBurst, "Webhook request burst allowed per client IP.")
	fs.StringVar(&o.AlertmanagerRules, "alertmanager-rules-file", o.AlertmanagerRules, "YAML file of alertname-to-signal-type rules added before the defaults.")
	fs.DurationVar(&o.AlertWindow, "alert-window", o.AlertWindow, "How recent an Anomaly must be to be returned by chatcli.v1 GetAlerts.")
	fs.Int64Var(&o.ExternalAnomalyBudget, "external-anomaly-budget", o.ExternalAnomalyBudget, "Anomalies each outside source (alertmanager, getalerts, grpc) may create per namespace per hour; further signals are refused with BudgetExhausted. 0 disables the limit. Needs Redis: not enforced while it is unreachable.")
	fs.DurationVar(&o.PollInterval, "poll-interval", o.PollInterval, "GetAlerts poll interval for Instances that set none.")
}

// Validate checks the flags after parsing.
func (o *Options) Validate() error {
	var problems []error
	if o.DedupTTL <= 0 {
		problems = append(problems, fmt.Errorf("--dedup-ttl must be positive, got %s", o.DedupTTL))
	}
	if _, err := labels.Parse(o.NamespaceSelector); err != nil {
		problems = append(problems, fmt.Errorf("--namespace-selector: %w", err))
	}
	if o.ExternalAnomalyBudget < 0 {
		problems = append(problems, fmt.Errorf("--external-anomaly-budget must not be negative, got %d", o.ExternalAnomalyBudget))
	}
	for _, ns := range o.SecretSignalNamespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			problems = append(problems, fmt.Errorf("--secret-signal-namespaces: %q is not a namespace name: %s", ns, strings.Join(errs, "; ")))
		}
	}
	thresholds := o.Detect
	thresholds.RestartThreshold = int32(min(o.restartThreshold, 1<<16))
	if err := thresholds.Validate(); err != nil {
		problems = append(problems, fmt.Errorf("detection thresholds: %w", err))
	}
	if o.WebhookRateRPS <= 0 || o.WebhookRateBurst <= 0 {
		problems = append(problems, errors.New("--webhook-rate-limit-rps and --webhook-rate-limit-burst must be positive"))
	}
	if o.UsagePollInterval < 0 || (o.UsagePollInterval > 0 && o.UsagePollInterval < 5*time.Second) {
		// metrics-server scrapes every 15 s by default: faster reads the same numbers.
		problems = append(problems, fmt.Errorf("--usage-poll-interval must be 0 (off) or at least 5s, got %s", o.UsagePollInterval))
	}
	if o.WebhookBindAddress != "" && o.WebhookTokenFile == "" {
		problems = append(problems, errors.New("--webhook-token-file is required with --webhook-bind-address: Alertmanager must not hold the gRPC token"))
	}
	return errors.Join(problems...)
}
