// Package postmortemwriter wires the postmortem-writer: its reconcilers and gRPC services.
package app

import (
	"context"

	"github.com/chatcli/aiops/libs/bootstrap"
	postmortemv1 "github.com/chatcli/aiops/proto/chatcli/platform/postmortem/v1"
)

// Setup registers the postmortem-writer's reconcilers and gRPC services on rt.
// Until its issue lands, the service API answers Unimplemented.
func Setup(_ context.Context, rt *bootstrap.Runtime) error {
	postmortemv1.RegisterPostMortemServiceServer(rt.GRPC, postmortemv1.UnimplementedPostMortemServiceServer{})
	return nil
}
