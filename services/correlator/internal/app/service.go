// Package app wires the correlator: its Anomaly and Issue reconcilers and the incident API.
package app

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/chatcli/aiops/libs/bootstrap"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
	"github.com/chatcli/aiops/services/correlator/internal/reconcilers/anomaly"
	"github.com/chatcli/aiops/services/correlator/internal/reconcilers/issue"
)

// Service declares the correlator. It works without Redis (deterministic
// Issue names keep correlation exactly-once), so it stays ready through an
// outage.
func Service() bootstrap.Service {
	o := &options{workers: 4}
	return bootstrap.Service{
		Name: "correlator", GRPC: true, Redis: bootstrap.RedisDegraded,
		AddFlags: o.addFlags, Validate: o.validate, Setup: o.setup,
	}
}

type options struct {
	workers int
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.workers, "correlation-workers", o.workers, "Anomalies correlated at once.")
}

func (o *options) validate() error {
	if o.workers < 1 {
		return fmt.Errorf("--correlation-workers must be at least 1, got %d", o.workers)
	}
	return nil
}

// setup registers the Anomaly and Issue reconcilers. The incident API answers
// Unimplemented until its part of the correlator lands.
func (o *options) setup(_ context.Context, rt *bootstrap.Runtime) error {
	mgr := rt.Manager
	if err := (&anomaly.Reconciler{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Redis: rt.Redis, Now: time.Now, Workers: o.workers,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the Anomaly reconciler: %w", err)
	}
	if err := (&issue.Reconciler{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Redis: rt.Redis, Now: time.Now,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the Issue reconciler: %w", err)
	}
	correlatorv1.RegisterCorrelatorServiceServer(rt.GRPC, correlatorv1.UnimplementedCorrelatorServiceServer{})
	return nil
}
