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
		})
	}
}

var errBadServiceFlag = errors.New("--service-flag is bad")
