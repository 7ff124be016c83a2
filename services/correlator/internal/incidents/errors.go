package incidents

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/chatcli/aiops/libs/grpcx"
)

// apiError turns an error of the API server (or the cache) into the status
// the proto documents: NotFound, Unavailable when the API server cannot be
// reached or is overloaded, Aborted on a conflict that outlived the
// retries, Internal for the rest (a missing permission is the platform's
// fault, not the caller's). A status error passes through.
func apiError(err error, what string) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	msg := what + ": " + err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, msg)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, msg)
	case apierrors.IsNotFound(err):
		return grpcx.Error(codes.NotFound, "", what+": not found", nil)
	case apierrors.IsConflict(err):
		return grpcx.Error(codes.Aborted, "", msg, nil)
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsRequestEntityTooLargeError(err):
		return grpcx.Error(codes.InvalidArgument, "", msg, nil)
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), apierrors.IsServiceUnavailable(err),
		apierrors.IsTooManyRequests(err), apierrors.IsUnexpectedServerError(err):
		return grpcx.Error(codes.Unavailable, "", msg, nil)
	}
	var apiStatus apierrors.APIStatus
	if !errors.As(err, &apiStatus) {
		// No answer from the API server at all: a refused or cut
		// connection, or a cache that cannot sync.
		return grpcx.Error(codes.Unavailable, "", msg, nil)
	}
	return grpcx.Error(codes.Internal, "", msg, nil)
}
