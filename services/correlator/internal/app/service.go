// Package app wires the correlator: its Anomaly and Issue reconcilers and the incident API.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/grpcx"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
	"github.com/chatcli/aiops/services/correlator/internal/incidents"
	"github.com/chatcli/aiops/services/correlator/internal/reconcilers/anomaly"
	"github.com/chatcli/aiops/services/correlator/internal/reconcilers/issue"
	"github.com/chatcli/aiops/services/correlator/internal/restapi"
)

// Service declares the correlator. It works without Redis (deterministic
// Issue names keep correlation exactly-once), so it stays ready through an
// outage.
func Service() bootstrap.Service {
	o := &options{
		workers:      4,
		issueWorkers: 4,
		window:       anomaly.DefaultWindow,
		retention:    anomaly.DefaultRetention,
		issueKeep:    issue.DefaultRetention,
		maxAttempts:  issue.DefaultMaxAttempts,
		callTimeout:  issue.DefaultCallTimeout,
		cooldown:     issue.DefaultRecurrenceCooldown,
		flapWindow:   issue.DefaultFlappingWindow,
		flapCount:    issue.DefaultFlappingThreshold,
		rest: restOptions{
			address: ":8443", rps: 20, burst: 50,
			keysSecret: restapi.DefaultSecretName, keysReload: 10 * time.Second,
		},
	}
	return bootstrap.Service{
		Name: "correlator", GRPC: true, Redis: bootstrap.RedisDegraded,
		AddFlags: o.addFlags, Validate: o.validate, Setup: o.setup,
	}
}

type options struct {
	workers      int
	issueWorkers int
	window       time.Duration
	retention    time.Duration
	issueKeep    time.Duration
	maxAttempts  int
	callTimeout  time.Duration
	cooldown     time.Duration
	flapWindow   time.Duration
	flapCount    int
	remediator   grpcx.PeerConfig
	watcher      grpcx.PeerConfig
	rest         restOptions
}

// restOptions configure the incident REST API.
type restOptions struct {
	address       string
	corsOrigins   string
	rps           float64
	burst         int
	keysSecret    string
	keysNamespace string
	keysReload    time.Duration
	auditLogPath  string
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.workers, "correlation-workers", o.workers, "Anomalies correlated at once.")
	fs.IntVar(&o.issueWorkers, "issue-workers", o.issueWorkers, "Issues moved forward at once; a pass may wait on the remediator or the watcher-bridge for up to --call-timeout, and one Issue is never in two passes at once.")
	fs.DurationVar(&o.window, "correlation-window", o.window,
		"How old an Anomaly may be and still open a new Issue when its resource has none open.")
	fs.DurationVar(&o.retention, "anomaly-retention", o.retention, "How long the Anomalies of a Resolved Issue are kept after it was resolved.")
	fs.DurationVar(&o.issueKeep, "issue-retention", o.issueKeep, "How long a Resolved Issue is kept after it was resolved; then it is deleted and its PostMortem kept. At least --anomaly-retention.")
	fs.IntVar(&o.maxAttempts, "max-remediation-attempts", o.maxAttempts,
		"Remediation attempts before an Issue escalates, when the Issue does not set status.maxRemediationAttempts (1-10).")
	fs.DurationVar(&o.callTimeout, "call-timeout", o.callTimeout, "Timeout of each call to the remediator and the watcher-bridge.")
	fs.DurationVar(&o.cooldown, "recurrence-cooldown", o.cooldown,
		"How long after an Issue was Resolved a new fault on its resource counts as the fix not holding (recurrenceOf).")
	fs.DurationVar(&o.flapWindow, "flapping-window", o.flapWindow, "The window in which --flapping-threshold Issues of one resource escalate at once.")
	fs.IntVar(&o.flapCount, "flapping-threshold", o.flapCount,
		"Issues of one resource within --flapping-window, the latest a recurrence, that escalate the latest at once (at least 2).")
	o.remediator.AddFlags(fs, "remediator")
	o.watcher.AddFlags(fs, "watcher")
	r := &o.rest
	fs.StringVar(&r.address, "incident-api-bind-address", r.address,
		"Address of the incident REST API (/api/v1/incidents), served over TLS with the gRPC certificate; 0 disables it.")
	fs.StringVar(&r.corsOrigins, "incident-api-cors-origins", r.corsOrigins,
		"Comma-separated origins (scheme://host[:port]) browsers may call the REST API from; empty refuses every cross-origin request.")
	fs.Float64Var(&r.rps, "incident-api-rate-limit-rps", r.rps, "Sustained REST requests per second allowed per API key.")
	fs.IntVar(&r.burst, "incident-api-rate-limit-burst", r.burst, "REST request burst allowed per API key.")
	fs.StringVar(&r.keysSecret, "incident-api-keys-secret", r.keysSecret,
		"Secret of the platform namespace whose data key \"api-keys\" holds the REST API keys, one \"<key-id>:<role>:<key>\" a line; without it every request is refused.")
	fs.StringVar(&r.keysNamespace, "incident-api-keys-namespace", r.keysNamespace,
		"Namespace of --incident-api-keys-secret; defaults to the pod's namespace (POD_NAMESPACE, else the ServiceAccount's), else --leader-election-namespace.")
	fs.DurationVar(&r.keysReload, "incident-api-keys-reload-interval", r.keysReload, "How often the API key Secret is read again, so rotated keys take effect.")
	fs.StringVar(&r.auditLogPath, "audit-log-path", r.auditLogPath,
		"File the REST API's audit lines (one JSON object per request) are appended to; empty writes them to stdout.")
}

// serviceAccountNamespaceFile holds the pod's namespace in a cluster.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func (r *restOptions) enabled() bool { return r.address != "" && r.address != "0" }

func (r *restOptions) validate() error {
	if !r.enabled() {
		return nil
	}
	var errs []error
	if r.rps <= 0 || r.burst < 1 {
		errs = append(errs, errors.New("--incident-api-rate-limit-rps and --incident-api-rate-limit-burst must be positive"))
	}
	if r.keysReload <= 0 || r.keysSecret == "" {
		errs = append(errs, errors.New("--incident-api-keys-secret must be set and --incident-api-keys-reload-interval positive"))
	}
	for _, origin := range r.origins() {
		if _, err := restapi.NormalizeOrigin(origin); err != nil {
			errs = append(errs, fmt.Errorf("--incident-api-cors-origins: %w", err))
		}
	}
	return errors.Join(errs...)
}

// platformNamespace is where the key Secret lives: the flag, else the
// pod's namespace, else the Lease's (the platform namespace too).
func (r *restOptions) platformNamespace(opts *bootstrap.Options) (string, error) {
	if r.keysNamespace != "" {
		return r.keysNamespace, nil
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns, nil
	}
	if b, err := os.ReadFile(serviceAccountNamespaceFile); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if opts.LeaderElectionNamespace != "" {
		return opts.LeaderElectionNamespace, nil
	}
	return "", errors.New("the incident REST API needs --incident-api-keys-namespace outside a pod (or --incident-api-bind-address=0)")
}

func (r *restOptions) origins() []string {
	var out []string
	for _, o := range strings.Split(r.corsOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

func (o *options) validate() error {
	var errs []error
	if o.workers < 1 {
		errs = append(errs, fmt.Errorf("--correlation-workers must be at least 1, got %d", o.workers))
	}
	if o.issueWorkers < 1 {
		errs = append(errs, fmt.Errorf("--issue-workers must be at least 1, got %d", o.issueWorkers))
	}
	if o.maxAttempts < 1 || o.maxAttempts > 10 {
		errs = append(errs, fmt.Errorf("--max-remediation-attempts must be 1-10, got %d", o.maxAttempts))
	}
	if o.callTimeout <= 0 || o.cooldown <= 0 || o.flapWindow <= 0 || o.window <= 0 || o.retention <= 0 {
		errs = append(errs, errors.New("--call-timeout, --recurrence-cooldown, --flapping-window, --correlation-window and --anomaly-retention must be positive"))
	}
	// An Issue deleted while Anomalies still name it would see them
	// correlated again, into a new Issue.
	if o.issueKeep < o.retention {
		errs = append(errs, fmt.Errorf("--issue-retention (%s) must be at least --anomaly-retention (%s)", o.issueKeep, o.retention))
	}
	if o.flapCount < 2 {
		errs = append(errs, fmt.Errorf("--flapping-threshold must be at least 2, got %d", o.flapCount))
	}
	errs = append(errs, o.remediator.Validate(), o.watcher.Validate(), o.rest.validate())
	return errors.Join(errs...)
}

// setup registers the Anomaly and Issue reconcilers, dials the peers the
// Issue reconciler calls, and serves the incident API.
func (o *options) setup(_ context.Context, rt *bootstrap.Runtime) error {
	mgr := rt.Manager
	log := ctrl.Log.WithName("correlator")
	remediatorConn, err := o.remediator.Dial(log)
	if err != nil {
		return err
	}
	watcherConn, err := o.watcher.Dial(log)
	if err != nil {
		_ = remediatorConn.Close()
		return err
	}
	if err := (&anomaly.Reconciler{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Redis: rt.Redis, Now: time.Now, Workers: o.workers,
		Window: o.window, Retention: o.retention,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the Anomaly reconciler: %w", err)
	}
	if err := (&issue.Reconciler{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Redis: rt.Redis, Now: time.Now,
		Remediator:         remediatorv1.NewRemediatorServiceClient(remediatorConn),
		Watcher:            watcherv1.NewWatcherServiceClient(watcherConn),
		DefaultMaxAttempts: int32(o.maxAttempts), CallTimeout: o.callTimeout,
		RecurrenceCooldown: o.cooldown, FlappingWindow: o.flapWindow, FlappingThreshold: o.flapCount,
		Retention: o.issueKeep, Workers: o.issueWorkers,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the Issue reconciler: %w", err)
	}
	// The incident API runs on every replica: it answers from the cache
	// and records requests as annotations through the HandlerClient, which
	// refuses status writes; the leader's Issue reconciler acts on them.
	incidentServer, err := incidents.NewServer(incidents.Options{
		Cache: mgr.GetClient(), Writer: rt.HandlerClient, Fresh: mgr.GetAPIReader(),
	})
	if err != nil {
		return fmt.Errorf("set up the incident API: %w", err)
	}
	correlatorv1.RegisterCorrelatorServiceServer(rt.GRPC, incidentServer)
	if !o.rest.enabled() {
		return nil
	}
	return o.rest.setup(rt, incidentServer, log.WithName("incident-api"))
}

// setup serves the REST API on every replica, over the same incident
// server, with the gRPC server's certificate.
func (r *restOptions) setup(rt *bootstrap.Runtime, incidentServer *incidents.Server, log logr.Logger) error {
	mgr := rt.Manager
	namespace, err := r.platformNamespace(rt.Options)
	if err != nil {
		return err
	}
	keys := &restapi.KeySource{
		Reader: mgr.GetAPIReader(), Secret: client.ObjectKey{Namespace: namespace, Name: r.keysSecret},
		Interval: r.keysReload, Log: log,
	}
	if err := mgr.Add(keys); err != nil {
		return fmt.Errorf("add the API key loader: %w", err)
	}
	auditOut := io.Writer(os.Stdout)
	if r.auditLogPath != "" {
		f, err := os.OpenFile(r.auditLogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("open --audit-log-path: %w", err)
		}
		auditOut = f
	}
	devMode := os.Getenv(restapi.DevModeEnv) == "true"
	if devMode {
		log.Error(nil, "WARNING: "+restapi.DevModeEnv+"=true: the incident REST API lets requests without an API key in as an admin. Never run this in production.")
	}
	handler, err := restapi.NewHandler(restapi.Config{
		Incidents: incidentServer, Keys: keys, AllowedOrigins: r.origins(),
		RateLimitRPS: r.rps, RateLimitBurst: r.burst,
		Audit: restapi.NewAuditor(auditOut), DevMode: devMode, Log: log,
	})
	if err != nil {
		return err
	}
	opts := rt.Options
	tlsConfig, err := grpcx.ServerTLSConfig(grpcx.ServerConfig{CertFile: opts.GRPCCertFile, KeyFile: opts.GRPCKeyFile}, log)
	if err != nil {
		return fmt.Errorf("TLS of the incident REST API: %w", err)
	}
	server, err := restapi.Listen(r.address, tlsConfig, handler, log, opts.ShutdownTimeout/2)
	if err != nil {
		return err
	}
	if err := mgr.Add(server); err != nil {
		return fmt.Errorf("add the incident REST API: %w", err)
	}
	return nil
}
