// Package app wires the remediator: its RemediationPlan and Runbook reconcilers, the action policy and its gRPC service.
package app

import (
	"context"

	"github.com/chatcli/aiops/libs/bootstrap"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
)

// Service declares the remediator.
func Service() bootstrap.Service {
	return bootstrap.Service{Name: "remediator", GRPC: true, Redis: bootstrap.RedisRequired, Setup: setup}
}

// setup registers the service API, which answers Unimplemented until its
// issue lands.
func setup(_ context.Context, rt *bootstrap.Runtime) error {
	remediatorv1.RegisterRemediatorServiceServer(rt.GRPC, remediatorv1.UnimplementedRemediatorServiceServer{})
	return nil
}
