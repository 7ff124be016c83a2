// Package watcherbridge wires the watcher-bridge: its reconcilers and gRPC services.
package watcherbridge

import (
	"context"

	"github.com/chatcli/aiops/libs/app"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

// Setup registers the watcher-bridge's reconcilers and gRPC services on rt.
// Until its issue lands, the service API answers Unimplemented.
func Setup(_ context.Context, rt *app.Runtime) error {
	watcherv1.RegisterWatcherServiceServer(rt.GRPC, watcherv1.UnimplementedWatcherServiceServer{})
	// The wire-compatible ChatCLI API, so tools written for a ChatCLI server work here.
	chatcliv1.RegisterChatCLIServiceServer(rt.GRPC, chatcliv1.UnimplementedChatCLIServiceServer{})
	return nil
}
