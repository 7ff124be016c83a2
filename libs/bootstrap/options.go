// Package app is the bootstrap every service shares: flags and environment,
// structured logging, a leader-elected controller-runtime manager, health
// and metrics endpoints, an optional pprof endpoint, a gRPC server with TLS
// and auth, Redis, and graceful shutdown. A service's main parses Options and
// hands a SetupFunc to Main.
package bootstrap

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/redisx"
)

// EnvPrefix prefixes the environment variable of every flag:
// --grpc-bind-address is CHATCLI_GRPC_BIND_ADDRESS.
const EnvPrefix = "CHATCLI_"

// Options are the settings every service shares.
type Options struct {
	// Name is the service name, used for the Lease, logs and metrics.
	Name string

	MetricsBindAddress string
	// MetricsSecure serves /metrics over TLS, for callers the API server
	// authenticates (TokenReview) and authorizes (SubjectAccessReview).
	// Plain HTTP is allowed on a loopback address only.
	MetricsSecure bool
	// MetricsCertFile and MetricsKeyFile are the /metrics certificate;
	// without them a gRPC service reuses its gRPC certificate, and any
	// other service a self-signed one.
	MetricsCertFile  string
	MetricsKeyFile   string
	ProbeBindAddress string
	// PprofBindAddress must be a loopback address: pprof has no auth.
	PprofBindAddress string

	LeaderElect             bool
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod are the leader election
	// timings; see DefaultOptions for why they are longer than
	// controller-runtime's.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration

	GRPCBindAddress    string
	GRPCCertFile       string
	GRPCKeyFile        string
	GRPCClientCAFile   string
	GRPCTokenFile      string
	GRPCRateLimitRPS   float64
	GRPCRateLimitBurst int

	RedisURL          string
	RedisCAFile       string
	RedisPasswordFile string

	LogFormat string
	LogLevel  string

	ShutdownTimeout time.Duration
}

// DefaultOptions returns the defaults for the named service.
func DefaultOptions(name string) *Options {
	return &Options{
		Name:               name,
		MetricsBindAddress: ":8080",
		MetricsSecure:      true,
		ProbeBindAddress:   ":8081",
		GRPCBindAddress:    ":9090",
		GRPCRateLimitRPS:   200,
		GRPCRateLimitBurst: 400,
		LeaderElect:        true,
		// A leader gives up after RenewDeadline without a successful
		// renewal and exits, taking its gRPC and webhook endpoints down.
		// controller-runtime's 10 s made a 12 s API server outage fatal;
		// 30 s rides out a 20 s one. A crashed leader's successor waits
		// up to LeaseDuration; a clean shutdown releases the Lease at once.
		LeaseDuration:   40 * time.Second,
		RenewDeadline:   30 * time.Second,
		RetryPeriod:     4 * time.Second,
		LogFormat:       "json",
		LogLevel:        "info",
		ShutdownTimeout: 10 * time.Second,
	}
}

// AddFlags registers on fs the shared flags that svc needs: the gRPC flags
// only when it serves gRPC, --redis-url only when it uses Redis.
func (o *Options) AddFlags(fs *flag.FlagSet, svc Service) {
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "Address of the /metrics endpoint; 0 disables it.")
	fs.BoolVar(&o.MetricsSecure, "metrics-secure", o.MetricsSecure, "Serve /metrics over HTTPS to callers with a bearer token allowed get on the /metrics nonResourceURL. false (plain HTTP, no auth) needs a loopback --metrics-bind-address.")
	fs.StringVar(&o.MetricsCertFile, "metrics-cert-file", o.MetricsCertFile, "PEM certificate of /metrics; reloaded when it changes. Defaults to the gRPC certificate, else a self-signed one.")
	fs.StringVar(&o.MetricsKeyFile, "metrics-key-file", o.MetricsKeyFile, "PEM private key of /metrics. Needs --metrics-cert-file.")
	fs.StringVar(&o.ProbeBindAddress, "health-probe-bind-address", o.ProbeBindAddress, "Address of the /healthz and /readyz endpoints.")
	fs.StringVar(&o.PprofBindAddress, "pprof-bind-address", o.PprofBindAddress, "Loopback address of the pprof endpoint (it has no auth; reach it with kubectl port-forward); empty disables it.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect one active controller replica through a Lease named chatcli-"+o.Name+".")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "Namespace of the leader-election Lease; defaults to the pod's namespace.")
	fs.DurationVar(&o.LeaseDuration, "leader-election-lease-duration", o.LeaseDuration, "How long a crashed leader's Lease blocks its successor.")
	fs.DurationVar(&o.RenewDeadline, "leader-election-renew-deadline", o.RenewDeadline, "How long the leader keeps trying to renew its Lease through an API server outage before it exits.")
	fs.DurationVar(&o.RetryPeriod, "leader-election-retry-period", o.RetryPeriod, "Interval between attempts to acquire or renew the Lease.")
	if svc.GRPC {
		fs.StringVar(&o.GRPCBindAddress, "grpc-bind-address", o.GRPCBindAddress, "Address of the gRPC server.")
		fs.StringVar(&o.GRPCCertFile, "grpc-tls-cert-file", o.GRPCCertFile, "PEM certificate of the gRPC server; reloaded when it changes. Required.")
		fs.StringVar(&o.GRPCKeyFile, "grpc-tls-key-file", o.GRPCKeyFile, "PEM private key of the gRPC server. Required.")
		fs.StringVar(&o.GRPCClientCAFile, "grpc-tls-client-ca-file", o.GRPCClientCAFile, "PEM CA bundle; when set, clients must present a certificate it signed (mTLS).")
		fs.StringVar(&o.GRPCTokenFile, "grpc-token-file", o.GRPCTokenFile, "File holding the bearer token gRPC clients must send; re-read when it changes. "+grpcx.TokenFileHelp+" Required.")
		fs.Float64Var(&o.GRPCRateLimitRPS, "grpc-rate-limit-rps", o.GRPCRateLimitRPS, "Sustained gRPC requests per second allowed per peer.")
		fs.IntVar(&o.GRPCRateLimitBurst, "grpc-rate-limit-burst", o.GRPCRateLimitBurst, "gRPC request burst allowed per peer.")
	}
	switch svc.Redis {
	case RedisRequired:
		fs.StringVar(&o.RedisURL, "redis-url", o.RedisURL, "Redis URL (redis:// or rediss://) for locks, dedup and counters. Required: the service is not ready without Redis.")
	case RedisDegraded:
		fs.StringVar(&o.RedisURL, "redis-url", o.RedisURL, "Redis URL (redis:// or rediss://) for dedup, locks and counters. The service stays ready and degrades while Redis is away.")
	}
	if svc.Redis != RedisUnused {
		fs.StringVar(&o.RedisCAFile, "redis-ca-file", o.RedisCAFile, "PEM CA bundle that verifies a rediss:// server instead of the system roots.")
		fs.StringVar(&o.RedisPasswordFile, "redis-password-file", o.RedisPasswordFile, "File holding the Redis password, re-read for every new connection. A password inside --redis-url is refused.")
	}
	fs.StringVar(&o.LogFormat, "log-format", o.LogFormat, "Log format: json or console.")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "Log level: debug, info or error.")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "Time given to in-flight work to finish on SIGTERM.")
}

// Validate checks the options svc uses after parsing.
func (o *Options) Validate(svc Service) error {
	var problems []string
	if svc.GRPC {
		if o.GRPCCertFile == "" || o.GRPCKeyFile == "" {
			problems = append(problems, "--grpc-tls-cert-file and --grpc-tls-key-file are required: the gRPC server never runs without TLS")
		}
		if o.GRPCTokenFile == "" {
			problems = append(problems, "--grpc-token-file is required: the gRPC server never runs without authentication")
		}
		if o.GRPCRateLimitRPS <= 0 || o.GRPCRateLimitBurst <= 0 {
			problems = append(problems, "--grpc-rate-limit-rps and --grpc-rate-limit-burst must be positive")
		}
	}
	if svc.Redis == RedisRequired && o.RedisURL == "" {
		problems = append(problems, "--redis-url is required: "+svc.Name+" does nothing without Redis")
	}
	problems = append(problems, o.redisProblems()...)
	problems = append(problems, o.endpointProblems()...)
	if o.LeaderElect && (o.RetryPeriod <= 0 || o.RetryPeriod >= o.RenewDeadline || o.RenewDeadline >= o.LeaseDuration) {
		problems = append(problems, "leader election needs 0 < --leader-election-retry-period < --leader-election-renew-deadline < --leader-election-lease-duration")
	}
	if o.LogFormat != "json" && o.LogFormat != "console" {
		problems = append(problems, fmt.Sprintf("--log-format %q: want json or console", o.LogFormat))
	}
	if _, err := parseLevel(o.LogLevel); err != nil {
		problems = append(problems, err.Error())
	}
	if o.ShutdownTimeout <= 0 {
		problems = append(problems, "--shutdown-timeout must be positive")
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid options: %s", strings.Join(problems, "; "))
	}
	return nil
}

// endpointProblems keeps the unauthenticated HTTP endpoints on loopback.
func (o *Options) endpointProblems() []string {
	var problems []string
	if o.PprofBindAddress != "" && o.PprofBindAddress != "0" && !isLoopback(o.PprofBindAddress) {
		problems = append(problems, fmt.Sprintf("--pprof-bind-address %q: pprof has no auth, so it binds to 127.0.0.1, ::1 or localhost only", o.PprofBindAddress))
	}
	if !o.MetricsSecure && o.MetricsBindAddress != "0" && !isLoopback(o.MetricsBindAddress) {
		problems = append(problems, fmt.Sprintf("--metrics-secure=false needs a loopback --metrics-bind-address, not %q: plain HTTP has no auth", o.MetricsBindAddress))
	}
	if (o.MetricsCertFile == "") != (o.MetricsKeyFile == "") {
		problems = append(problems, "--metrics-cert-file and --metrics-key-file go together")
	}
	return problems
}

// redisProblems checks the URL up front, so a bad one is a flag error and
// not a failure after start-up.
func (o *Options) redisProblems() []string {
	if o.RedisURL == "" {
		if o.RedisCAFile != "" || o.RedisPasswordFile != "" {
			return []string{"--redis-ca-file and --redis-password-file need --redis-url"}
		}
		return nil
	}
	if err := redisx.ValidateURL(o.RedisURL); err != nil {
		return []string{"--redis-url: " + err.Error()}
	}
	// A password in the URL would sit in the Pod spec, readable by anyone
	// who can get the Deployment.
	if u, err := url.Parse(o.RedisURL); err == nil && u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return []string{"--redis-url holds a password: put it in a file and pass --redis-password-file"}
		}
	}
	return nil
}

// isLoopback reports whether addr (host:port) binds to loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseFlags parses args into fs. Every flag also reads CHATCLI_<NAME> from
// the environment (an empty variable counts as unset); the command line
// wins. The usage text names the variable. Errors are printed too, since a
// service exits on them.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	err := parseFlags(fs, args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(fs.Output(), err)
	}
	return err
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := EnvName(f.Name)
		f.Usage += " (env " + name + ")"
		if value, ok := os.LookupEnv(name); ok && value != "" {
			if err := fs.Set(f.Name, value); err != nil && envErr == nil {
				envErr = fmt.Errorf("environment %s=%q: %w", name, value, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	// "--leader-elect false" stops the flag package at "false", silently
	// dropping every flag after it.
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: write boolean flags as --flag=false", fs.Args())
	}
	return nil
}

// EnvName is the environment variable that sets a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}
