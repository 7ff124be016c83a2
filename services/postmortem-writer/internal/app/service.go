// Package app wires the postmortem-writer: its PostMortem reconciler and its gRPC service.
package app

import (
	"context"

	"github.com/chatcli/aiops/libs/bootstrap"
	postmortemv1 "github.com/chatcli/aiops/proto/chatcli/platform/postmortem/v1"
)

// Service declares the postmortem-writer.
func Service() bootstrap.Service {
	return bootstrap.Service{Name: "postmortem-writer", GRPC: true, Redis: bootstrap.RedisUnused, Setup: setup}
}

// setup registers the service API, which answers Unimplemented until its
// issue lands.
func setup(_ context.Context, rt *bootstrap.Runtime) error {
	postmortemv1.RegisterPostMortemServiceServer(rt.GRPC, postmortemv1.UnimplementedPostMortemServiceServer{})
	return nil
}
