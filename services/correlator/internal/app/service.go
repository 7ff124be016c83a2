// Package app wires the correlator: its Anomaly and Issue reconcilers and the incident API.
package app

import (
	"context"

	"github.com/chatcli/aiops/libs/bootstrap"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
)

// Service declares the correlator.
func Service() bootstrap.Service {
	return bootstrap.Service{Name: "correlator", GRPC: true, Redis: bootstrap.RedisDegraded, Setup: setup}
}

// setup registers the service API, which answers Unimplemented until its
// issue lands.
func setup(_ context.Context, rt *bootstrap.Runtime) error {
	correlatorv1.RegisterCorrelatorServiceServer(rt.GRPC, correlatorv1.UnimplementedCorrelatorServiceServer{})
	return nil
}
