// Package app wires the correlator: its Anomaly and Issue reconcilers and the incident API.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/grpcx"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
	"github.com/chatcli/aiops/services/correlator/internal/incidents"
	"github.com/chatcli/aiops/services/correlator/internal/reconcilers/anomaly"
	"github.com/chatcli/aiops/services/correlator/internal/reconcilers/issue"
)

// Service declares the correlator. It works without Redis (deterministic
// Issue names keep correlation exactly-once), so it stays ready through an
// outage.
func Service() bootstrap.Service {
	o := &options{
		workers:     4,
		maxAttempts: issue.DefaultMaxAttempts,
		callTimeout: issue.DefaultCallTimeout,
		cooldown:    issue.DefaultRecurrenceCooldown,
		flapWindow:  issue.DefaultFlappingWindow,
		flapCount:   issue.DefaultFlappingThreshold,
	}
	return bootstrap.Service{
		Name: "correlator", GRPC: true, Redis: bootstrap.RedisDegraded,
		AddFlags: o.addFlags, Validate: o.validate, Setup: o.setup,
	}
}

type options struct {
	workers     int
	maxAttempts int
	callTimeout time.Duration
	cooldown    time.Duration
	flapWindow  time.Duration
	flapCount   int
	remediator  grpcx.PeerConfig
	watcher     grpcx.PeerConfig
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.workers, "correlation-workers", o.workers, "Anomalies correlated at once.")
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
}

func (o *options) validate() error {
	var errs []error
	if o.workers < 1 {
		errs = append(errs, fmt.Errorf("--correlation-workers must be at least 1, got %d", o.workers))
	}
	if o.maxAttempts < 1 || o.maxAttempts > 10 {
		errs = append(errs, fmt.Errorf("--max-remediation-attempts must be 1-10, got %d", o.maxAttempts))
	}
	if o.callTimeout <= 0 || o.cooldown <= 0 || o.flapWindow <= 0 {
		errs = append(errs, errors.New("--call-timeout, --recurrence-cooldown and --flapping-window must be positive"))
	}
	if o.flapCount < 2 {
		errs = append(errs, fmt.Errorf("--flapping-threshold must be at least 2, got %d", o.flapCount))
	}
	errs = append(errs, o.remediator.Validate(), o.watcher.Validate())
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
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the Anomaly reconciler: %w", err)
	}
	if err := (&issue.Reconciler{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Redis: rt.Redis, Now: time.Now,
		Remediator:         remediatorv1.NewRemediatorServiceClient(remediatorConn),
		Watcher:            watcherv1.NewWatcherServiceClient(watcherConn),
		DefaultMaxAttempts: int32(o.maxAttempts), CallTimeout: o.callTimeout,
		RecurrenceCooldown: o.cooldown, FlappingWindow: o.flapWindow, FlappingThreshold: o.flapCount,
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
	return nil
}
