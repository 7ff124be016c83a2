package bootstrap

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/redisx"
)

// Runtime is what a service's Setup wires its reconcilers and gRPC
// services into.
type Runtime struct {
	Name string
	// Options are the shared options the service started with.
	Options *Options
	Log     logr.Logger
	Manager manager.Manager
	// HandlerClient is the client for request handlers (gRPC, webhooks):
	// it reads and creates like the manager's client but refuses every
	// status write. Handlers run on every replica, leader or not, and one
	// writer per status is the leader's reconciler: a handler records a
	// request (an annotation or a spec field) and the reconciler acts on it.
	HandlerClient client.Client
	// GRPC is the service's server, nil when the service serves no gRPC;
	// register services on it during Setup.
	GRPC *grpc.Server
	// Health is the grpc.health.v1 server; the overall status ("") is
	// SERVING while the manager runs. Nil without gRPC.
	Health *health.Server
	// Redis is nil when the service does not use Redis or --redis-url is
	// empty.
	Redis *redisx.Client
}

// Run builds the manager, Redis and gRPC server, calls svc.Setup, and runs
// until ctx ends.
func Run(ctx context.Context, svc Service, opts *Options, log logr.Logger) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	// The services talk to an API server in their own cluster: gzip would
	// cost CPU on both ends and keep a decompressor with a 32 KiB window
	// alive for every watch (about 100 of them in the watcher-bridge).
	cfg.DisableCompression = true
	mgrOpts := managerOptions(opts, log)
	metricsCert, err := metricsServing(&mgrOpts.Metrics, svc, opts)
	if err != nil {
		return err
	}
	if svc.ManagerOptions != nil {
		if err := svc.ManagerOptions(&mgrOpts, opts); err != nil {
			return fmt.Errorf("manager options: %w", err)
		}
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}

	if metricsCert != nil {
		if err := mgr.Add(metricsCert); err != nil {
			return fmt.Errorf("add metrics certificate watcher: %w", err)
		}
	}

	rt := &Runtime{Name: opts.Name, Options: opts, Log: log, Manager: mgr, HandlerClient: NoStatusWrites(mgr.GetClient())}
	if svc.Redis != RedisUnused && opts.RedisURL != "" {
		rt.Redis, err = redisx.New(opts.RedisURL, redisx.Config{ClientName: opts.Name, CAFile: opts.RedisCAFile, PasswordFile: opts.RedisPasswordFile})
		if err != nil {
			return fmt.Errorf("configure redis: %w", err)
		}
		defer func() { _ = rt.Redis.Close() }()
	}
	if err := addHealthChecks(mgr, svc, rt.Redis, log); err != nil {
		return err
	}

	var grpcServer *grpcRunnable
	if svc.GRPC {
		if grpcServer, err = newGRPCRunnable(rt, opts, log); err != nil {
			return err
		}
	}
	if err := svc.Setup(ctx, rt); err != nil {
		return fmt.Errorf("set up %s: %w", opts.Name, err)
	}
	if grpcServer != nil {
		if err := grpcServer.listen(opts.GRPCBindAddress); err != nil {
			return err
		}
		if err := mgr.Add(grpcServer); err != nil {
			return fmt.Errorf("add gRPC server: %w", err)
		}
		if err := mgr.AddReadyzCheck("grpc", grpcServer.ready); err != nil {
			return fmt.Errorf("add readyz check: %w", err)
		}
		log.Info("Starting", "grpcAddress", grpcServer.listener.Addr().String(), "leaderElection", opts.LeaderElect)
	} else {
		log.Info("Starting", "leaderElection", opts.LeaderElect)
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}

// managerOptions are the defaults every service starts from.
func managerOptions(opts *Options, log logr.Logger) ctrl.Options {
	return ctrl.Options{
		Scheme:                        k8sctx.NewScheme(),
		Logger:                        log,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsBindAddress},
		HealthProbeBindAddress:        opts.ProbeBindAddress,
		PprofBindAddress:              opts.PprofBindAddress,
		LeaderElection:                opts.LeaderElect,
		LeaderElectionID:              "chatcli-" + opts.Name,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &opts.LeaseDuration,
		RenewDeadline:                 &opts.RenewDeadline,
		RetryPeriod:                   &opts.RetryPeriod,
		GracefulShutdownTimeout:       &opts.ShutdownTimeout,
		// Managed fields are often the largest part of an object, and no
		// service reads them.
		Cache: cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
		// Secrets are read uncached, one at a time, so no service holds
		// every Secret of the cluster in memory or needs list/watch on
		// them.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	}
}

// metricsServing makes /metrics HTTPS (TLS 1.3, HTTP/1.1) behind
// TokenReview and SubjectAccessReview unless --metrics-secure=false, which
// Validate allows on loopback only. The certificate is --metrics-cert-file,
// else the gRPC one, else controller-runtime's self-signed one; the
// returned watcher, when not nil, must run in the manager to reload it.
func metricsServing(m *metricsserver.Options, svc Service, opts *Options) (*certwatcher.CertWatcher, error) {
	if !opts.MetricsSecure {
		return nil, nil
	}
	m.SecureServing = true
	m.FilterProvider = filters.WithAuthenticationAndAuthorization
	m.TLSOpts = append(m.TLSOpts, func(c *tls.Config) {
		c.MinVersion = tls.VersionTLS13
		// No HTTP/2: its stream handling has been the source of
		// denial-of-service bugs, and a scraper needs none of it.
		c.NextProtos = []string{"http/1.1"}
	})
	certFile, keyFile := opts.MetricsCertFile, opts.MetricsKeyFile
	if certFile == "" && svc.GRPC {
		certFile, keyFile = opts.GRPCCertFile, opts.GRPCKeyFile
	}
	if certFile == "" {
		return nil, nil
	}
	watcher, err := certwatcher.New(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load metrics certificate: %w", err)
	}
	m.TLSOpts = append(m.TLSOpts, func(c *tls.Config) { c.GetCertificate = watcher.GetCertificate })
	return watcher, nil
}

func newGRPCRunnable(rt *Runtime, opts *Options, log logr.Logger) (*grpcRunnable, error) {
	token, err := grpcx.WatchTokenFile(opts.GRPCTokenFile, log.WithValues("flag", "--grpc-token-file"))
	if err != nil {
		return nil, fmt.Errorf("read gRPC token: %w", err)
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
		return nil, fmt.Errorf("create gRPC server: %w", err)
	}
	rt.GRPC, rt.Health = server.Server, server.Health
	// Until the manager runs, the server is up but not serving.
	rt.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	return &grpcRunnable{server: server, drainTimeout: opts.ShutdownTimeout / 2}, nil
}

func addHealthChecks(mgr manager.Manager, svc Service, redis *redisx.Client, log logr.Logger) error {
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add healthz check: %w", err)
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add readyz check: %w", err)
	}
	if redis == nil {
		return nil
	}
	if svc.Redis == RedisRequired {
		if err := mgr.AddReadyzCheck("redis", redis.Checker(2*time.Second)); err != nil {
			return fmt.Errorf("add readyz check: %w", err)
		}
	}
	probe, err := newRedisProbe(svc.Name, redis, metrics.Registry, log.WithName("redis"))
	if err != nil {
		return err
	}
	if err := mgr.Add(probe); err != nil {
		return fmt.Errorf("add Redis probe: %w", err)
	}
	return nil
}
