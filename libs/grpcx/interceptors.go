package grpcx

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// authExempt lists the methods that need no bearer token: the health
// check, so that kubelet probes and grpc_health_probe can check a server
// without holding a secret. It reveals only a serving status. Watch is not
// exempt: an open stream costs a goroutine and holds up graceful stops, so
// anonymous callers must not be able to open them. Health.List, which names
// every service, needs the token too.
var authExempt = map[string]bool{
	"/grpc.health.v1.Health/Check": true,
}

// observe runs call and hands its code and duration to done. When call
// panics, done still runs (with codes.Internal, which the recovery
// interceptor will return) and the panic keeps unwinding, so metrics and the
// audit log count panicking calls too.
func observe(call func() error, done func(code codes.Code, elapsed time.Duration)) error {
	start := time.Now()
	code := codes.Internal
	defer func() { done(code, time.Since(start)) }()
	err := call()
	code = status.Code(err)
	return err
}

// recoverPanic turns a panic into codes.Internal. It must be deferred
// directly by the interceptor, where recover works.
func recoverPanic(log logr.Logger, method string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	log.Error(fmt.Errorf("panic: %v", r), "Recovered from panic in gRPC handler", "method", method, "stack", string(debug.Stack()))
	*err = status.Error(codes.Internal, "internal error")
}

func recoveryUnary(log logr.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer recoverPanic(log, info.FullMethod, &err)
		return handler(ctx, req)
	}
}

func recoveryStream(log logr.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer recoverPanic(log, info.FullMethod, &err)
		return handler(srv, ss)
	}
}

// auditLogger writes one structured line per call: who called what, how it
// ended and how long it took. Request bodies and metadata (which carries the
// token) are never logged.
type auditLogger struct {
	log logr.Logger
}

func (a auditLogger) record(ctx context.Context, method, kind string, code codes.Code, elapsed time.Duration) {
	a.log.Info("Handled gRPC call",
		"method", method,
		"kind", kind,
		"peer", PeerIdentity(ctx),
		"code", code.String(),
		"duration", elapsed,
	)
}

func (a auditLogger) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var resp any
		err := observe(func() error {
			var err error
			resp, err = handler(ctx, req)
			return err
		}, func(code codes.Code, elapsed time.Duration) {
			a.record(ctx, info.FullMethod, "unary", code, elapsed)
		})
		return resp, err
	}
}

func (a auditLogger) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return observe(func() error { return handler(srv, ss) }, func(code codes.Code, elapsed time.Duration) {
			a.record(ss.Context(), info.FullMethod, "stream", code, elapsed)
		})
	}
}

// tokenAuth checks the bearer token with Tokens.Check: the current or the
// next token, compared in constant time.
type tokenAuth struct {
	tokens func() Tokens
}

func newTokenAuth(tokens func() Tokens) tokenAuth {
	return tokenAuth{tokens: tokens}
}

// check accepts a call to an exempt method, or one whose metadata holds an
// authorization value with an accepted token. A token source that lost its
// token refuses everyone.
func (a tokenAuth) check(md metadata.MD, method string) error {
	if authExempt[method] {
		return nil
	}
	tokens := a.tokens()
	for _, value := range md.Get("authorization") {
		if tokens.Matches(value) {
			return nil
		}
	}
	return status.Error(codes.Unauthenticated, "missing or invalid bearer token")
}

func (a tokenAuth) checkContext(ctx context.Context, method string) error {
	if tapChecked(ctx) {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return a.check(md, method)
}

func (a tokenAuth) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := a.checkContext(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

func (a tokenAuth) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := a.checkContext(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}
