// Package remediator wires the remediator: its reconcilers and gRPC services.
package remediator

import (
	"context"

	"github.com/chatcli/aiops/libs/app"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
)

// Setup registers the remediator's reconcilers and gRPC services on rt.
// Until its issue lands, the service API answers Unimplemented.
func Setup(_ context.Context, rt *app.Runtime) error {
	remediatorv1.RegisterRemediatorServiceServer(rt.GRPC, remediatorv1.UnimplementedRemediatorServiceServer{})
	return nil
}
