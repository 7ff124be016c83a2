package bootstrap

import (
	"context"
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
)

// RedisPolicy says what a service does without Redis, and so what its
// readiness reports.
type RedisPolicy int

const (
	// RedisUnused: the service has no --redis-url flag and never dials Redis.
	RedisUnused RedisPolicy = iota
	// RedisDegraded: the service works without Redis, with weaker
	// guarantees (dedup falls back to deterministic names, sequences are
	// filled in later). /readyz stays green through an outage, because
	// failing it would take working endpoints out of rotation; the outage
	// shows in the chatcli_<service>_redis_up gauge and in the logs.
	RedisDegraded
	// RedisRequired: nothing runs without Redis (the remediator cannot
	// lock a target). --redis-url is mandatory and /readyz fails while
	// Redis does not answer.
	RedisRequired
)

// Service declares one deployable: its name, what it needs, and the hooks
// that wire it. A service's main is one call: os.Exit(bootstrap.Main(svc)).
type Service struct {
	// Name is the service name, used for the Lease, logs and metrics.
	Name string

	// GRPC is true when the service serves gRPC. TLS and a bearer token are
	// then mandatory; a service without gRPC has none of the gRPC flags.
	GRPC bool

	// Redis is the service's Redis policy.
	Redis RedisPolicy

	// AddFlags registers the service's own flags. Optional.
	AddFlags func(fs *flag.FlagSet)

	// Validate checks the service's own flags after parsing. Optional.
	Validate func() error

	// ManagerOptions shapes the manager before it is built: cache ByObject
	// and label selectors, a webhook server, controller options. The
	// defaults it receives already strip managed fields from the cache and
	// never cache Secrets; shared are the parsed shared options (the gRPC
	// certificate a webhook server may reuse). Optional.
	ManagerOptions func(opts *ctrl.Options, shared *Options) error

	// Setup registers the reconcilers, gRPC services and runnables.
	Setup func(ctx context.Context, rt *Runtime) error
}

// Main parses the command line and the CHATCLI_* environment, runs svc
// until SIGTERM or SIGINT, and returns the exit code: 2 for bad flags, 1
// for a failure while running.
func Main(svc Service) int {
	// flag.CommandLine, because controller-runtime registers --kubeconfig
	// there.
	opts, err := ParseCommandLine(svc, flag.CommandLine, os.Args[1:])
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	log, err := NewLogger(opts.LogFormat, opts.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctrl.SetLogger(log)
	log = log.WithName(opts.Name)
	if limit, ok := applyMemoryLimit(); ok {
		log.Info("Set the Go memory limit from the container's", "bytes", limit)
	}
	if err := Run(ctrl.SetupSignalHandler(), svc, opts, log); err != nil {
		log.Error(err, "Service stopped with an error")
		return 1
	}
	log.Info("Service stopped")
	return 0
}

// ParseCommandLine registers the shared flags svc needs and its own on fs,
// parses args and the environment, and validates both. Errors are printed
// to fs's output, since a service exits on them.
func ParseCommandLine(svc Service, fs *flag.FlagSet, args []string) (*Options, error) {
	if svc.Setup == nil {
		return nil, fmt.Errorf("service %q has no Setup", svc.Name)
	}
	opts := DefaultOptions(svc.Name)
	opts.AddFlags(fs, svc)
	if svc.AddFlags != nil {
		svc.AddFlags(fs)
	}
	if err := ParseFlags(fs, args); err != nil {
		return nil, err
	}
	err := opts.Validate(svc)
	if err == nil && svc.Validate != nil {
		err = svc.Validate()
	}
	if err != nil {
		fmt.Fprintln(fs.Output(), err)
		return nil, err
	}
	return opts, nil
}
