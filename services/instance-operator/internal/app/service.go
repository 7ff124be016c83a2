// Package app wires the instance-operator: its Instance reconciler. It serves no gRPC.
package app

import (
	"context"

	"github.com/chatcli/aiops/libs/bootstrap"
)

// Service declares the instance-operator.
func Service() bootstrap.Service {
	return bootstrap.Service{Name: "instance-operator", GRPC: false, Redis: bootstrap.RedisUnused, Setup: setup}
}

// setup registers nothing until the Instance reconciler lands.
func setup(context.Context, *bootstrap.Runtime) error {
	return nil
}
