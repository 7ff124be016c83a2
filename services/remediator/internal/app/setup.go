// Package remediator wires the remediator: its reconcilers and gRPC services.
package app

import (
	"context"

	"github.com/chatcli/aiops/libs/bootstrap"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
)

// Setup registers the remediator's reconcilers and gRPC services on rt.
// Until its issue lands, the service API answers Unimplemented.
func Setup(_ context.Context, rt *bootstrap.Runtime) error {
	remediatorv1.RegisterRemediatorServiceServer(rt.GRPC, remediatorv1.UnimplementedRemediatorServiceServer{})
	return nil
}
