// Package app wires the instance-operator: its Instance reconciler. It serves no gRPC.
package app

import (
	"context"
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
)

// Service declares the instance-operator.
func Service() bootstrap.Service {
	return bootstrap.Service{Name: "instance-operator", GRPC: false, Redis: bootstrap.RedisUnused, Setup: setup}
}

// Main runs the instance-operator and exits.
func Main() { os.Exit(bootstrap.Main(Service())) }

// setup registers nothing until the Instance reconciler lands.
func setup(context.Context, *bootstrap.Runtime) error {
	return nil
}
