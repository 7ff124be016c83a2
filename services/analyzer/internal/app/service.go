// Package app wires the analyzer: its AIInsight reconciler and its gRPC services.
package app

import (
	"context"

	"github.com/chatcli/aiops/libs/bootstrap"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

// Service declares the analyzer.
func Service() bootstrap.Service {
	return bootstrap.Service{Name: "analyzer", GRPC: true, Redis: bootstrap.RedisDegraded, Setup: setup}
}

// setup registers the service API, which answers Unimplemented until its
// issue lands.
func setup(_ context.Context, rt *bootstrap.Runtime) error {
	analyzerv1.RegisterAnalyzerServiceServer(rt.GRPC, analyzerv1.UnimplementedAnalyzerServiceServer{})
	// The wire-compatible ChatCLI API, so tools written for a ChatCLI server work here.
	chatcliv1.RegisterChatCLIServiceServer(rt.GRPC, chatcliv1.UnimplementedChatCLIServiceServer{})
	return nil
}
