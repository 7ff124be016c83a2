package incidents

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/chatcli/aiops/libs/bootstrap"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
)

// TestUnreachableAPIServerIsUnavailable: with no API server to record a
// request on, the caller is told to retry (Unavailable), not that the
// request was wrong.
func TestUnreachableAPIServerIsUnavailable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	cfg := rest.CopyConfig(env.Config)
	cfg.Host = "https://" + addr
	cfg.Timeout = 2 * time.Second
	dead, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Options{Cache: dead, Writer: bootstrap.NoStatusWrites(dead)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref := &commonv1.ObjectRef{Namespace: "ns", Name: "issue"}
	_, ackErr := srv.AcknowledgeIssue(ctx, &correlatorv1.AcknowledgeIssueRequest{Issue: ref, Requester: "alice"})
	_, resolveErr := srv.ResolveIssue(ctx, &correlatorv1.ResolveIssueRequest{Issue: ref, Requester: "alice"})
	_, listErr := srv.ListIncidents(ctx, &correlatorv1.ListIncidentsRequest{})
	for name, err := range map[string]error{"acknowledge": ackErr, "resolve": resolveErr, "list": listErr} {
		if status.Code(err) != codes.Unavailable {
			t.Errorf("%s: %v, want Unavailable", name, err)
		}
	}
}
