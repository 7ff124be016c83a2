// Package instanceoperator wires the instance-operator: its reconcilers and gRPC services.
package app

import (
	"context"

	"github.com/chatcli/aiops/libs/bootstrap"
)

// Setup registers the instance-operator's reconcilers and gRPC services on rt.
// The instance-operator serves no API of its own; its gRPC server carries only health.
func Setup(_ context.Context, rt *bootstrap.Runtime) error {
	return nil
}
