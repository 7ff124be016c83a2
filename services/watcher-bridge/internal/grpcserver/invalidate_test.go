package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/signals"
	"github.com/chatcli/aiops/libs/testenv"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/ingest"
	wbwatch "github.com/chatcli/aiops/services/watcher-bridge/internal/watch"
)

// recordingInvalidator records the resources it is asked to clear and
// answers with a fixed count or error.
type recordingInvalidator struct {
	cleared int
	err     error

	mu    sync.Mutex
	calls []platformv1alpha1.ResourceReference
}

func (r *recordingInvalidator) InvalidateDedup(_ context.Context, res platformv1alpha1.ResourceReference) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, res)
	return r.cleared, r.err
}

func (r *recordingInvalidator) recorded() []platformv1alpha1.ResourceReference {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]platformv1alpha1.ResourceReference(nil), r.calls...)
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
		wantCalls   []platformv1alpha1.ResourceReference
	}{
		"Deployment": {
			reason:   "the keys of a namespaced resource are cleared and counted",
			inv:      &recordingInvalidator{cleared: 3},
			req:      &watcherv1.InvalidateDedupRequest{Resource: &commonv1.ResourceRef{Kind: "Deployment", Namespace: "shop", Name: "api"}},
			wantCode: codes.OK, wantCleared: 3,
			wantCalls: []platformv1alpha1.ResourceReference{{Kind: "Deployment", Namespace: "shop", Name: "api"}},
		},
		"WithUID": {
			reason:   "the uid of the Issue's resource reaches the Invalidator",
			inv:      &recordingInvalidator{cleared: 1},
			req:      &watcherv1.InvalidateDedupRequest{Resource: &commonv1.ResourceRef{Kind: "Deployment", Namespace: "shop", Name: "api", Uid: "0b5c6f1e-8d1c-4c1a-9f3e-2a7d5e9b1c40"}},
			wantCode: codes.OK, wantCleared: 1,
			wantCalls: []platformv1alpha1.ResourceReference{{Kind: "Deployment", Namespace: "shop", Name: "api", UID: "0b5c6f1e-8d1c-4c1a-9f3e-2a7d5e9b1c40"}},
		},
		"MissingResource": {
			reason:   "a request without a resource names the field",
			inv:      &recordingInvalidator{},
			req:      &watcherv1.InvalidateDedupRequest{},
			wantCode: codes.InvalidArgument, wantMessage: "resource is required",
		},
		"NodeWithoutKeys": {
			reason:   "a cluster-scoped resource needs no namespace, and zero keys is no error",
			inv:      &recordingInvalidator{},
			req:      &watcherv1.InvalidateDedupRequest{Resource: &commonv1.ResourceRef{Kind: "Node", Name: "node-1"}},
			wantCode: codes.OK, wantCleared: 0,
			wantCalls: []platformv1alpha1.ResourceReference{{Kind: "Node", Name: "node-1"}},
		},
		"MissingKind": {
			reason:   "the field is named",
			inv:      &recordingInvalidator{},
			req:      &watcherv1.InvalidateDedupRequest{Resource: &commonv1.ResourceRef{Namespace: "shop", Name: "api"}},
			wantCode: codes.InvalidArgument, wantMessage: "resource.kind is required",
		},
		"MissingName": {
			reason:   "the field is named",
			inv:      &recordingInvalidator{},
			req:      &watcherv1.InvalidateDedupRequest{Resource: &commonv1.ResourceRef{Kind: "Deployment", Namespace: "shop"}},
			wantCode: codes.InvalidArgument, wantMessage: "resource.name is required",
		},
		"MissingNamespace": {
			reason:   "a namespaced kind needs its namespace",
			inv:      &recordingInvalidator{},
			req:      &watcherv1.InvalidateDedupRequest{Resource: &commonv1.ResourceRef{Kind: "Deployment", Name: "api"}},
			wantCode: codes.InvalidArgument, wantMessage: "resource namespace is required for kind Deployment",
		},
		"RedisUnavailable": {
			reason:   "the caller retries later",
			inv:      &recordingInvalidator{err: redisDown},
			req:      &watcherv1.InvalidateDedupRequest{Resource: &commonv1.ResourceRef{Kind: "Deployment", Namespace: "shop", Name: "api"}},
			wantCode: codes.Unavailable, wantMessage: "Redis is unavailable",
			wantCalls: []platformv1alpha1.ResourceReference{{Kind: "Deployment", Namespace: "shop", Name: "api"}},
		},
		"OtherFailure": {
			reason:   "anything else is an internal error",
			inv:      &recordingInvalidator{err: errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")},
			req:      &watcherv1.InvalidateDedupRequest{Resource: &commonv1.ResourceRef{Kind: "Deployment", Namespace: "shop", Name: "api"}},
			wantCode: codes.Internal, wantMessage: "WRONGTYPE",
			wantCalls: []platformv1alpha1.ResourceReference{{Kind: "Deployment", Namespace: "shop", Name: "api"}},
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

// TestInvalidateDedupAgainstRedis runs the RPC on the dedup pipeline and a
// real Redis of its own: the keys of every object of the resource's name
// are cleared whatever uid the request gives, the keys of other resources
// stay, and a stopped Redis is Unavailable.
func TestInvalidateDedupAgainstRedis(t *testing.T) {
	g := newG(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, informer := startCache(t)
	rs, err := testenv.StartLocalRedis(ctx, "", t.TempDir())
	if err != nil {
		t.Fatalf("StartLocalRedis: %v", err)
	}
	t.Cleanup(rs.Stop)
	rc, err := redisx.New(rs.URL, redisx.Config{})
	if err != nil {
		t.Fatalf("redisx.New: %v", err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	creator, err := ingest.NewCreator(ingest.Config{
		Client: env.Client, APIReader: env.Client, Redis: rc,
		FallbackNamespace: "default", Logger: logr.Discard(),
		Scope: func(context.Context) (ingest.Scope, error) { return wbwatch.NewScope(nil, []string{"shop"}), nil },
	})
	if err != nil {
		t.Fatalf("NewCreator: %v", err)
	}
	w := newWatcher(t, creator, creator, informer, WatcherOptions{})
	client := watcherv1.NewWatcherServiceClient(serve(t, w, nil).dial(t))

	// Two incarnations of shop/api (a re-created Deployment) and another
	// Deployment have each seen one fault.
	api := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "shop", Name: "api"}
	other := platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: "shop", Name: "web", UID: "uid-web"}
	var apiKeys, otherKeys []string
	for _, r := range []platformv1alpha1.ResourceReference{withUID(api, "uid-old"), withUID(api, "uid-new"), other} {
		s := signals.Signal{
			Type: platformv1alpha1.SignalPodRestart, Source: platformv1alpha1.SourceWatcher,
			Severity: platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityMedium),
			Resource: r, DetectedAt: time.Now().UTC(),
		}
		hash := s.DedupKey()
		res := platformv1alpha1.ResourceReference{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
		if _, err := rc.DedupResource(ctx, res, hash, "anomaly-"+hash[:8], time.Hour); err != nil {
			t.Fatalf("DedupResource: %v", err)
		}
		if r.Name == api.Name {
			apiKeys = append(apiKeys, redisx.DedupKey(hash))
		} else {
			otherKeys = append(otherKeys, redisx.DedupKey(hash), redisx.DedupIndexKey(res))
		}
	}
	exists := func(keys ...string) int64 {
		n, err := rc.Redis().Exists(ctx, keys...).Result()
		g.Expect(err).NotTo(HaveOccurred())
		return n
	}

	ref := &commonv1.ResourceRef{Kind: api.Kind, Namespace: api.Namespace, Name: api.Name, Uid: "uid-new"}
	resp, err := client.InvalidateDedup(ctx, &watcherv1.InvalidateDedupRequest{Resource: ref})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.GetKeysCleared()).To(BeEquivalentTo(2), "both incarnations' keys are cleared")
	g.Expect(exists(apiKeys...)).To(BeZero())
	g.Expect(exists(otherKeys...)).To(BeEquivalentTo(len(otherKeys)), "another resource keeps its keys")

	// A retry after a timeout clears nothing and is no error.
	resp, err = client.InvalidateDedup(ctx, &watcherv1.InvalidateDedupRequest{Resource: ref})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.GetKeysCleared()).To(BeZero())

	rs.Stop()
	_, err = client.InvalidateDedup(ctx, &watcherv1.InvalidateDedupRequest{Resource: ref})
	g.Expect(status.Code(err)).To(Equal(codes.Unavailable), "with Redis down: %v", err)
	g.Expect(status.Convert(err).Message()).To(ContainSubstring("Redis is unavailable"))
}

func withUID(r platformv1alpha1.ResourceReference, uid string) platformv1alpha1.ResourceReference {
	r.UID = types.UID(uid)
	return r
}
