package grpcx

import (
	"context"
	"strings"
	"time"

	"github.com/chatcli/aiops/libs/collectors"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// Metric names, shared by every service; the service label tells them apart.
const (
	MetricHandledTotal    = "chatcli_grpc_server_handled_total"
	MetricHandlingSeconds = "chatcli_grpc_server_handling_seconds"
)

// handlingBuckets reach two minutes because analyzer calls wait on LLM
// providers; the low end resolves cache hits and health checks.
var handlingBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

type serverMetrics struct {
	handled *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

// newServerMetrics registers the collectors on reg, or reuses the ones
// already there, so that several servers (or tests) in one process can
// share a registry. A nil reg leaves them unregistered.
func newServerMetrics(reg prometheus.Registerer) (*serverMetrics, error) {
	m := &serverMetrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricHandledTotal,
			Help: "gRPC calls completed by the server, by service, method and status code.",
		}, []string{"service", "method", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricHandlingSeconds,
			Help:    "Time the server took to handle a gRPC call (a whole stream for streaming calls).",
			Buckets: handlingBuckets,
		}, []string{"service", "method"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.handled, err = collectors.Register(reg, m.handled); err != nil {
		return nil, err
	}
	if m.seconds, err = collectors.Register(reg, m.seconds); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *serverMetrics) record(fullMethod string, code codes.Code, elapsed time.Duration) {
	service, method := splitMethod(fullMethod)
	m.handled.WithLabelValues(service, method, code.String()).Inc()
	m.seconds.WithLabelValues(service, method).Observe(elapsed.Seconds())
}

func (m *serverMetrics) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var resp any
		err := observe(func() error {
			var err error
			resp, err = handler(ctx, req)
			return err
		}, func(code codes.Code, elapsed time.Duration) {
			m.record(info.FullMethod, code, elapsed)
		})
		return resp, err
	}
}

func (m *serverMetrics) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return observe(func() error { return handler(srv, ss) }, func(code codes.Code, elapsed time.Duration) {
			m.record(info.FullMethod, code, elapsed)
		})
	}
}

// splitMethod turns "/pkg.Service/Method" into ("pkg.Service", "Method").
// Label values stay bounded: interceptors see only registered methods,
// unless a caller installs grpc.UnknownServiceHandler.
func splitMethod(fullMethod string) (service, method string) {
	name := strings.TrimPrefix(fullMethod, "/")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "unknown", name
}
