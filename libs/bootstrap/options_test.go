package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := map[string]struct {
		reason      string
		env         map[string]string
		args        []string
		wantLeader  bool
		wantFormat  string
		wantErrPart string
	}{
		"Defaults":        {reason: "nothing set keeps the defaults", wantLeader: true, wantFormat: "json"},
		"Environment":     {reason: "CHATCLI_* sets a flag", env: map[string]string{"CHATCLI_LEADER_ELECT": "false", "CHATCLI_LOG_FORMAT": "console"}, wantFormat: "console"},
		"CommandLineWins": {reason: "the command line beats the environment", env: map[string]string{"CHATCLI_LOG_FORMAT": "console"}, args: []string{"--log-format=json"}, wantLeader: true, wantFormat: "json"},
		"EmptyIsUnset":    {reason: "an empty variable does not blank a flag", env: map[string]string{"CHATCLI_LOG_FORMAT": ""}, wantLeader: true, wantFormat: "json"},
		"BadEnvironment":  {reason: "a bad value is an error that names the variable", env: map[string]string{"CHATCLI_LEADER_ELECT": "nope"}, wantErrPart: "CHATCLI_LEADER_ELECT"},
		"DetachedBoolean": {reason: "--leader-elect false would drop every later flag", args: []string{"--leader-elect", "false", "--log-format=console"}, wantErrPart: "--flag=false"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			opts := DefaultOptions("test")
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			opts.AddFlags(fs, Service{Name: "test", GRPC: true, Redis: RedisDegraded})
			err := ParseFlags(fs, tc.args)
			if tc.wantErrPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrPart) {
					t.Fatalf("%s: error %v, want one containing %q", tc.reason, err, tc.wantErrPart)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if opts.LeaderElect != tc.wantLeader || opts.LogFormat != tc.wantFormat {
				t.Errorf("%s: leader-elect %v, log-format %q; want %v, %q", tc.reason, opts.LeaderElect, opts.LogFormat, tc.wantLeader, tc.wantFormat)
			}
		})
	}
}

func TestFlagsFollowTheServiceDeclaration(t *testing.T) {
	tests := map[string]struct {
		reason  string
		svc     Service
		present []string
		absent  []string
	}{
		"NoGRPCNoRedis": {
			reason: "a service without gRPC or Redis offers neither flag set",
			svc:    Service{Name: "instance-operator", Redis: RedisUnused},
			absent: []string{"grpc-bind-address", "grpc-token-file", "grpc-tls-cert-file", "redis-url"},
		},
		"GRPCAndDegradedRedis": {
			reason:  "a gRPC service with optional Redis offers both",
			svc:     Service{Name: "correlator", GRPC: true, Redis: RedisDegraded},
			present: []string{"grpc-bind-address", "grpc-token-file", "redis-url", "leader-election-renew-deadline"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet(name, flag.ContinueOnError)
			DefaultOptions(tc.svc.Name).AddFlags(fs, tc.svc)
			for _, f := range tc.present {
				if fs.Lookup(f) == nil {
					t.Errorf("%s: --%s missing", tc.reason, f)
				}
			}
			for _, f := range tc.absent {
				if fs.Lookup(f) != nil {
					t.Errorf("%s: --%s registered", tc.reason, f)
				}
			}
		})
	}
}

func TestParseCommandLineValidates(t *testing.T) {
	noop := func(context.Context, *Runtime) error { return nil }
	grpcFlags := []string{"--grpc-tls-cert-file=c", "--grpc-tls-key-file=k", "--grpc-token-file=t"}
	tests := map[string]struct {
		reason      string
		svc         Service
		args        []string
		wantErrPart string
	}{
		"GRPCNeedsTLS": {
			reason: "a gRPC service never starts without TLS", svc: Service{Name: "s", GRPC: true, Setup: noop},
			args: []string{"--grpc-token-file=t"}, wantErrPart: "--grpc-tls-cert-file",
		},
		"GRPCNeedsToken": {
			reason: "a gRPC service never starts without a token", svc: Service{Name: "s", GRPC: true, Setup: noop},
			args: []string{"--grpc-tls-cert-file=c", "--grpc-tls-key-file=k"}, wantErrPart: "--grpc-token-file",
		},
		"NoGRPCNeedsNone": {
			reason: "a service without gRPC starts without TLS or token", svc: Service{Name: "s", Setup: noop},
		},
		"RequiredRedis": {
			reason: "a service that needs Redis refuses to start without it", svc: Service{Name: "s", GRPC: true, Redis: RedisRequired, Setup: noop},
			args: grpcFlags, wantErrPart: "--redis-url is required",
		},
		"DegradedRedis": {
			reason: "a degraded service starts without Redis", svc: Service{Name: "s", GRPC: true, Redis: RedisDegraded, Setup: noop},
			args: grpcFlags,
		},
		"LeaderTimings": {
			reason: "the renew deadline must fit inside the lease", svc: Service{Name: "s", Setup: noop},
			args: []string{"--leader-election-renew-deadline=50s"}, wantErrPart: "leader election",
		},
		"ServiceValidate": {
			reason:      "the service's own validation runs after the shared one",
			svc:         Service{Name: "s", Setup: noop, Validate: func() error { return errBadServiceFlag }},
			wantErrPart: errBadServiceFlag.Error(),
		},
		"NoSetup": {
			reason: "a service must wire something", svc: Service{Name: "s"}, wantErrPart: "has no Setup",
		},
		"PprofOnLoopback": {
			reason: "pprof may listen on loopback", svc: Service{Name: "s", Setup: noop},
			args: []string{"--pprof-bind-address=127.0.0.1:6060"},
		},
		"PprofOnIPv6Loopback": {
			reason: "::1 is loopback too", svc: Service{Name: "s", Setup: noop},
			args: []string{"--pprof-bind-address=[::1]:6060"},
		},
		"PprofOnEveryInterface": {
			reason: "pprof has no auth, so it never listens on every interface", svc: Service{Name: "s", Setup: noop},
			args: []string{"--pprof-bind-address=:6060"}, wantErrPart: "--pprof-bind-address",
		},
		"PprofOnPodIP": {
			reason: "pprof never listens on a routable address", svc: Service{Name: "s", Setup: noop},
			args: []string{"--pprof-bind-address=10.1.2.3:6060"}, wantErrPart: "--pprof-bind-address",
		},
		"PlainMetricsOnLoopback": {
			reason: "plain-HTTP /metrics is allowed on loopback", svc: Service{Name: "s", Setup: noop},
			args: []string{"--metrics-secure=false", "--metrics-bind-address=localhost:8080"},
		},
		"PlainMetricsOnEveryInterface": {
			reason: "plain-HTTP /metrics would let anyone on the network read it", svc: Service{Name: "s", Setup: noop},
			args: []string{"--metrics-secure=false"}, wantErrPart: "--metrics-secure=false needs a loopback",
		},
		"PlainMetricsDisabled": {
			reason: "a disabled endpoint listens nowhere", svc: Service{Name: "s", Setup: noop},
			args: []string{"--metrics-secure=false", "--metrics-bind-address=0"},
		},
		"MetricsCertWithoutKey": {
			reason: "a certificate needs its key", svc: Service{Name: "s", Setup: noop},
			args: []string{"--metrics-cert-file=c"}, wantErrPart: "--metrics-key-file",
		},
		"RedisSkipVerify": {
			reason: "TLS verification of Redis cannot be turned off", svc: Service{Name: "s", GRPC: true, Redis: RedisDegraded, Setup: noop},
			args: append([]string{"--redis-url=rediss://redis:6380?skip_verify=true"}, grpcFlags...), wantErrPart: "skip_verify is refused",
		},
		"RedisPasswordInURL": {
			reason: "a password in the URL would sit in the Pod spec", svc: Service{Name: "s", GRPC: true, Redis: RedisRequired, Setup: noop},
			args: append([]string{"--redis-url=rediss://:s3cret@redis:6380"}, grpcFlags...), wantErrPart: "--redis-password-file",
		},
		"RedisUserInURL": {
			reason: "an ACL user name is no secret", svc: Service{Name: "s", GRPC: true, Redis: RedisRequired, Setup: noop},
			args: append([]string{"--redis-url=rediss://remediator@redis:6380", "--redis-password-file=p"}, grpcFlags...),
		},
		"RedisFilesWithoutURL": {
			reason: "a CA for no Redis is a mistake", svc: Service{Name: "s", GRPC: true, Redis: RedisDegraded, Setup: noop},
			args: append([]string{"--redis-ca-file=ca"}, grpcFlags...), wantErrPart: "need --redis-url",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet(name, flag.ContinueOnError)
			var out bytes.Buffer
			fs.SetOutput(&out)
			_, err := ParseCommandLine(tc.svc, fs, tc.args)
			if tc.wantErrPart == "" {
				if err != nil {
					t.Fatalf("%s: %v", tc.reason, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErrPart) {
				t.Fatalf("%s: error %v, want one containing %q", tc.reason, err, tc.wantErrPart)
			}
			if strings.Contains(out.String(), "s3cret") {
				t.Errorf("%s: the output leaks the password: %s", tc.reason, out.String())
			}
		})
	}
}

var errBadServiceFlag = errors.New("--service-flag is bad")
