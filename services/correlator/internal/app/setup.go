// Package correlator wires the correlator: its reconcilers and gRPC services.
package app

import (
	"context"

	"github.com/chatcli/aiops/libs/bootstrap"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
)

// Setup registers the correlator's reconcilers and gRPC services on rt.
// Until its issue lands, the service API answers Unimplemented.
func Setup(_ context.Context, rt *bootstrap.Runtime) error {
	correlatorv1.RegisterCorrelatorServiceServer(rt.GRPC, correlatorv1.UnimplementedCorrelatorServiceServer{})
	return nil
}
