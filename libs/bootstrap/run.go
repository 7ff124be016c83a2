package bootstrap

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/redisx"
)

// Runtime is what a service's SetupFunc wires its reconcilers and gRPC
// services into.
type Runtime struct {
	Name string
	// Options are the shared options the service started with.
	Options *Options
	Log     logr.Logger
	Manager manager.Manager
	// GRPC is the service's server; register services on it during setup.
	GRPC *grpc.Server
	// Health is the grpc.health.v1 server; the overall status ("") is
	// SERVING while the manager runs.
	Health *health.Server
	// Redis is nil when --redis-url is empty.
	Redis *redisx.Client
}

// SetupFunc registers a service's reconcilers, gRPC services and checks.
type SetupFunc func(ctx context.Context, rt *Runtime) error

// Main runs the service until SIGTERM or SIGINT and returns the exit code.
func Main(opts *Options, setup SetupFunc) int {
	log, err := NewLogger(opts.LogFormat, opts.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctrl.SetLogger(log)
	log = log.WithName(opts.Name)
	if err := opts.Validate(); err != nil {
		log.Error(err, "Refused to start")
		return 2
	}
	if limit, ok := applyMemoryLimit(); ok {
		log.Info("Set the Go memory limit from the container's", "bytes", limit)
	}
	if err := Run(ctrl.SetupSignalHandler(), opts, log, setup); err != nil {
		log.Error(err, "Service stopped with an error")
		return 1
	}
	log.Info("Service stopped")
	return 0
}

// Run builds the manager, Redis and gRPC server, calls setup, and runs until
// ctx ends.
func Run(ctx context.Context, opts *Options, log logr.Logger, setup SetupFunc) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	// The services talk to an API server in their own cluster: gzip would
	// cost CPU on both ends and keep a decompressor with a 32 KiB window
	// alive for every watch (about 100 of them in the watcher-bridge).
	cfg.DisableCompression = true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        NewScheme(),
		Logger:                        log,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsBindAddress},
		HealthProbeBindAddress:        opts.ProbeBindAddress,
		PprofBindAddress:              opts.PprofBindAddress,
		LeaderElection:                opts.LeaderElect,
		LeaderElectionID:              "chatcli-" + opts.Name,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &opts.ShutdownTimeout,
		// Managed fields are often the largest part of an object, and no
		// service reads them.
		Cache: cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}

	rt := &Runtime{Name: opts.Name, Options: opts, Log: log, Manager: mgr}
	if opts.RedisURL != "" {
		rt.Redis, err = redisx.New(opts.RedisURL, redisx.Config{ClientName: opts.Name})
		if err != nil {
			return fmt.Errorf("configure redis: %w", err)
		}
		defer rt.Redis.Close()
	}
	if err := addHealthChecks(mgr, rt.Redis); err != nil {
		return err
	}

	token, err := grpcx.WatchTokenFile(opts.GRPCTokenFile, log.WithValues("flag", "--grpc-token-file"))
	if err != nil {
		return fmt.Errorf("read gRPC token: %w", err)
	}
	server, err := grpcx.NewServer(grpcx.ServerConfig{
		CertFile:       opts.GRPCCertFile,
		KeyFile:        opts.GRPCKeyFile,
		ClientCAFile:   opts.GRPCClientCAFile,
		TokenFunc:      token,
		RateLimitRPS:   opts.GRPCRateLimitRPS,
		RateLimitBurst: opts.GRPCRateLimitBurst,
		Registerer:     metrics.Registry,
		Logger:         log,
	})
	if err != nil {
		return fmt.Errorf("create gRPC server: %w", err)
	}
	rt.GRPC, rt.Health = server.Server, server.Health
	// Until the manager runs, the server is up but not serving.
	rt.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)

	if err := setup(ctx, rt); err != nil {
		return fmt.Errorf("set up %s: %w", opts.Name, err)
	}

	listener, err := net.Listen("tcp", opts.GRPCBindAddress)
	if err != nil {
		return fmt.Errorf("listen for gRPC on %s: %w", opts.GRPCBindAddress, err)
	}
	grpcServer := &grpcRunnable{server: server, listener: listener, drainTimeout: opts.ShutdownTimeout / 2}
	if err := mgr.Add(grpcServer); err != nil {
		return fmt.Errorf("add gRPC server: %w", err)
	}
	if err := mgr.AddReadyzCheck("grpc", grpcServer.ready); err != nil {
		return fmt.Errorf("add readyz check: %w", err)
	}
	log.Info("Starting", "grpcAddress", listener.Addr().String(), "leaderElection", opts.LeaderElect)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}

// NewScheme knows the core kinds and the platform kinds.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(platformv1alpha1.AddToScheme(s))
	return s
}

func addHealthChecks(mgr manager.Manager, redis *redisx.Client) error {
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add healthz check: %w", err)
	}
	if redis == nil {
		return mgr.AddReadyzCheck("ping", healthz.Ping)
	}
	if err := mgr.AddReadyzCheck("redis", redis.Checker(2*time.Second)); err != nil {
		return fmt.Errorf("add readyz check: %w", err)
	}
	return nil
}
