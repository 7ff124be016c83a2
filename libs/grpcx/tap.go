package grpcx

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

// gate runs the rate limits, then the token check, in grpc's tap handle:
// when a stream's headers arrive, before its body is read, decoded or
// handed to a handler. So an unauthenticated or throttled caller costs the
// server a header decode, not a message decode. The rate-limit and auth
// interceptors remain as a second line for calls the tap never sees
// (grpc.Server.ServeHTTP); they skip calls the gate already passed.
type gate struct {
	limiter *peerLimiter
	auth    tokenAuth
	metrics *serverMetrics
	audit   auditLogger

	// server answers which methods are registered, so that a refused call
	// to an unknown method cannot add a metrics label value.
	server  *grpc.Server
	once    sync.Once
	methods map[string]string // full method name -> "unary" or "stream"
}

// tapCheckedKey marks the context of a call the gate passed.
type tapCheckedKey struct{}

func tapChecked(ctx context.Context) bool {
	checked, _ := ctx.Value(tapCheckedKey{}).(bool)
	return checked
}

// tap is a tap.ServerInHandle. It runs on the connection's reader
// goroutine with the transport locked, so it only hashes, looks up a map
// and takes tokens; refusals are counted and audited as the interceptors
// would, with no duration.
func (g *gate) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	err := g.limiter.check(ctx)
	if err == nil {
		err = g.auth.check(info.Header, info.FullMethodName)
	}
	if err != nil {
		method, kind := g.method(info.FullMethodName)
		code := status.Code(err)
		g.metrics.record(method, code, 0)
		g.audit.record(ctx, method, kind, code, 0)
		return ctx, err
	}
	return context.WithValue(ctx, tapCheckedKey{}, true), nil
}

// method returns fullMethod and its kind when the server has it, else
// "unknown" twice. Services are registered before Serve, and the tap only
// runs once serving, so the first call can take the list for good.
func (g *gate) method(fullMethod string) (string, string) {
	g.once.Do(func() {
		g.methods = make(map[string]string)
		for service, info := range g.server.GetServiceInfo() {
			for _, m := range info.Methods {
				kind := "unary"
				if m.IsClientStream || m.IsServerStream {
					kind = "stream"
				}
				g.methods["/"+service+"/"+m.Name] = kind
			}
		}
	})
	if kind, ok := g.methods[fullMethod]; ok {
		return fullMethod, kind
	}
	return "unknown", "unknown"
}
