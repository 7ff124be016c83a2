// Package correlator wires the correlator: its reconcilers and gRPC services.
package correlator

import (
	"context"

	"github.com/chatcli/aiops/libs/app"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
)

// Setup registers the correlator's reconcilers and gRPC services on rt.
// Until its issue lands, the service API answers Unimplemented.
func Setup(_ context.Context, rt *app.Runtime) error {
	correlatorv1.RegisterCorrelatorServiceServer(rt.GRPC, correlatorv1.UnimplementedCorrelatorServiceServer{})
	return nil
}
