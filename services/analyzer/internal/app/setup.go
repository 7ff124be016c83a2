// Package analyzer wires the analyzer: its reconcilers and gRPC services.
package app

import (
	"context"

	"github.com/chatcli/aiops/libs/bootstrap"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

// Setup registers the analyzer's reconcilers and gRPC services on rt.
// Until its issue lands, the service API answers Unimplemented.
func Setup(_ context.Context, rt *bootstrap.Runtime) error {
	analyzerv1.RegisterAnalyzerServiceServer(rt.GRPC, analyzerv1.UnimplementedAnalyzerServiceServer{})
	// The wire-compatible ChatCLI API, so tools written for a ChatCLI server work here.
	chatcliv1.RegisterChatCLIServiceServer(rt.GRPC, chatcliv1.UnimplementedChatCLIServiceServer{})
	return nil
}
