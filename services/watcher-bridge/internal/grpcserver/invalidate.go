package grpcserver

import (
	"context"
	"errors"
	"math"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/signals"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

// Invalidator clears the dedup keys of one resource, so that the next fault
// on it is detected at once; the dedup pipeline implements it.
// InvalidateDedup returns how many keys it cleared (zero when there were
// none) and an error wrapping redisx.ErrUnavailable when Redis cannot be
// reached.
type Invalidator interface {
	InvalidateDedup(ctx context.Context, r platformv1alpha1.ResourceReference) (int, error)
}

// InvalidateDedup clears the dedup keys of the resource the request names.
// The keys are indexed per kind/namespace/name, so the resource's uid, when
// given, reaches the Invalidator and the logs but does not narrow what is
// cleared.
//
// Errors: InvalidArgument naming the field (resource, resource.kind,
// resource.name, or the namespace of a namespaced kind); Unavailable when
// Redis cannot be reached; Internal for any other failure of the
// Invalidator.
func (w *WatcherServer) InvalidateDedup(ctx context.Context, req *watcherv1.InvalidateDedupRequest) (*watcherv1.InvalidateDedupResponse, error) {
	ref := req.GetResource()
	if ref == nil {
		return nil, status.Error(codes.InvalidArgument, "resource is required")
	}
	r := platformv1alpha1.ResourceReference{Kind: ref.GetKind(), Namespace: ref.GetNamespace(), Name: ref.GetName(), UID: types.UID(ref.GetUid())}
	if err := validateResource(r); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	n, err := w.invalidator.InvalidateDedup(ctx, r)
	switch {
	case err == nil:
		return &watcherv1.InvalidateDedupResponse{KeysCleared: int32(min(max(n, 0), math.MaxInt32))}, nil
	case errors.Is(err, redisx.ErrUnavailable):
		w.log.Error(err, "Failed to clear dedup keys: Redis unavailable", "resource", r.String(), "uid", r.UID)
		return nil, status.Errorf(codes.Unavailable, "dedup keys of %s were not cleared: Redis is unavailable; retry", r)
	case ctx.Err() != nil:
		return nil, status.FromContextError(ctx.Err()).Err()
	default:
		w.log.Error(err, "Failed to clear dedup keys", "resource", r.String(), "uid", r.UID)
		return nil, status.Errorf(codes.Internal, "clear dedup keys of %s: %v", r, err)
	}
}

// validateResource reports what is wrong with r, naming the request field.
// The namespace and name rules are those of signals.Signal.Validate, which
// holds the platform's one list of cluster-scoped kinds: r is checked as the
// resource of an otherwise valid signal.
func validateResource(r platformv1alpha1.ResourceReference) error {
	var problems []string
	if r.Kind == "" {
		problems = append(problems, "resource.kind is required")
	}
	if r.Name == "" {
		problems = append(problems, "resource.name is required")
	}
	if len(problems) == 0 {
		probe := signals.Signal{
			Type:       platformv1alpha1.SignalTypes[0],
			Source:     platformv1alpha1.Sources[0],
			Severity:   platformv1alpha1.SignalSeverities[0],
			Resource:   r,
			DetectedAt: placeholderTime,
		}
		problems = errorList(probe.Validate())
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}
