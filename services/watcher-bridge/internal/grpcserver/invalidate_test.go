package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/signals"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

// recordingInvalidator records the resources it is asked to clear and
// answers with a fixed count or error.
type recordingInvalidator struct {
	cleared int
	err     error

	mu    sync.Mutex
	calls []signals.Resource
}

func (r *recordingInvalidator) InvalidateDedup(_ context.Context, res signals.Resource) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, res)
	return r.cleared, r.err
}

func (r *recordingInvalidator) recorded() []signals.Resource {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]signals.Resource(nil), r.calls...)
}

func TestInvalidateDedup(t *testing.T) {
	_, informer := startCache(t)
	redisDown := fmt.Errorf("clear dedup keys: %w", errors.Join(redisx.ErrUnavailable, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")))

	cases := map[string]struct {
		reason      string
		inv         *recordingInvalidator
		req         *watcherv1.InvalidateDedupRequest
		wantCode    codes.Code
		wantMessage string
		wantCleared int32
		wantCalls   []signals.Resource
	}{
		"Deployment": {
			reason:   "the keys of a namespaced resource are cleared and counted",
			inv:      &recordingInvalidator{cleared: 3},
			req:      &watcherv1.InvalidateDedupRequest{Kind: "Deployment", Namespace: "shop", Name: "api"},
			wantCode: codes.OK, wantCleared: 3,
			wantCalls: []signals.Resource{{Kind: "Deployment", Namespace: "shop", Name: "api"}},
		},
		"NodeWithoutKeys": {
			reason:   "a cluster-scoped resource needs no namespace, and zero keys is no error",
			inv:      &recordingInvalidator{},
			req:      &watcherv1.InvalidateDedupRequest{Kind: "Node", Name: "node-1"},
			wantCode: codes.OK, wantCleared: 0,
			wantCalls: []signals.Resource{{Kind: "Node", Name: "node-1"}},
		},
		"MissingKind": {
			reason:   "the field is named",
			inv:      &recordingInvalidator{},
			req:      &watcherv1.InvalidateDedupRequest{Namespace: "shop", Name: "api"},
			wantCode: codes.InvalidArgument, wantMessage: "kind is required",
		},
		"MissingName": {
			reason:   "the field is named",
			inv:      &recordingInvalidator{},
			req:      &watcherv1.InvalidateDedupRequest{Kind: "Deployment", Namespace: "shop"},
			wantCode: codes.InvalidArgument, wantMessage: "name is required",
		},
		"MissingNamespace": {
			reason:   "a namespaced kind needs its namespace",
			inv:      &recordingInvalidator{},
			req:      &watcherv1.InvalidateDedupRequest{Kind: "Deployment", Name: "api"},
			wantCode: codes.InvalidArgument, wantMessage: "namespace is required for kind Deployment",
		},
		"RedisUnavailable": {
			reason:   "the caller retries later",
			inv:      &recordingInvalidator{err: redisDown},
			req:      &watcherv1.InvalidateDedupRequest{Kind: "Deployment", Namespace: "shop", Name: "api"},
			wantCode: codes.Unavailable, wantMessage: "Redis is unavailable",
			wantCalls: []signals.Resource{{Kind: "Deployment", Namespace: "shop", Name: "api"}},
		},
		"OtherFailure": {
			reason:   "anything else is an internal error",
			inv:      &recordingInvalidator{err: errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")},
			req:      &watcherv1.InvalidateDedupRequest{Kind: "Deployment", Namespace: "shop", Name: "api"},
			wantCode: codes.Internal, wantMessage: "WRONGTYPE",
			wantCalls: []signals.Resource{{Kind: "Deployment", Namespace: "shop", Name: "api"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWatcher(t, nopSink{}, tc.inv, informer, WatcherOptions{})
			client := watcherv1.NewWatcherServiceClient(serve(t, w, nil).dial(t))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			resp, err := client.InvalidateDedup(ctx, tc.req)
			st := status.Convert(err)
			if st.Code() != tc.wantCode || !strings.Contains(st.Message(), tc.wantMessage) {
				t.Fatalf("%s: got %v %q, want %v containing %q", tc.reason, st.Code(), st.Message(), tc.wantCode, tc.wantMessage)
			}
			if got := resp.GetKeysCleared(); got != tc.wantCleared {
				t.Errorf("%s: keys_cleared = %d, want %d", tc.reason, got, tc.wantCleared)
			}
			if diff := cmp.Diff(tc.wantCalls, tc.inv.recorded()); diff != "" {
				t.Errorf("%s: Invalidator calls (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}
