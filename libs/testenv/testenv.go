// Package testenv runs a real control plane (etcd and kube-apiserver built
// into bin/) and a real Redis for tests. Reconcilers are tested against the
// real API server, never a fake client, and least-privilege RBAC is proven by
// impersonating ServiceAccounts.
package testenv

import (
	"context"
	"fmt"
	"os"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/chatcli/aiops/libs/k8sctx"
)

// Options choose what an Environment starts.
type Options struct {
	// WithoutRedis skips Redis for packages that need only the API server.
	WithoutRedis bool
	// WithoutCRDs skips installing the platform CRDs.
	WithoutCRDs bool
}

// Environment is a running control plane and Redis.
type Environment struct {
	// Config is an admin rest.Config (system:masters).
	Config *rest.Config
	// Client is an admin client with the platform and core kinds.
	Client client.Client
	// Scheme knows the core kinds, apiextensions and platform.chatcli.io.
	Scheme *runtime.Scheme
	// Redis is nil when Options.WithoutRedis is set.
	Redis *Redis
	// StartupDuration is how long the API server took to become ready.
	StartupDuration time.Duration
	// Tokens are bearer tokens the API server accepts, by user:
	// MetricsReaderUser and UnprivilegedUser, for testing endpoints that
	// delegate authentication and authorization to it (/metrics).
	Tokens map[string]string

	dir          string
	controlPlane *controlPlane
}

// NewScheme returns the services' scheme plus apiextensions, which tests
// use to install and wait for the CRDs.
func NewScheme() *runtime.Scheme {
	s := k8sctx.NewScheme()
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	return s
}

// Start starts etcd, kube-apiserver and (unless told not to) Redis, and
// installs the platform CRDs.
func Start(ctx context.Context, opts Options) (_ *Environment, err error) {
	bins, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "testenv-")
	if err != nil {
		return nil, fmt.Errorf("create testenv directory: %w", err)
	}
	// Not the named result: a failing return sets that to nil before the
	// deferred cleanup runs, which would then leak the processes.
	env := &Environment{dir: dir, Scheme: NewScheme()}
	defer func() {
		if err != nil {
			env.Stop()
		}
	}()

	begin := time.Now()
	env.controlPlane, err = startControlPlane(ctx, bins, dir)
	if err != nil {
		return nil, err
	}
	env.StartupDuration = time.Since(begin)
	env.Config = env.controlPlane.admin
	env.Client, err = client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		return nil, fmt.Errorf("create admin client: %w", err)
	}
	env.Tokens = map[string]string{
		MetricsReaderUser: env.controlPlane.tokens[MetricsReaderUser],
		UnprivilegedUser:  env.controlPlane.tokens[UnprivilegedUser],
	}
	if err := env.grantMetricsReader(ctx); err != nil {
		return nil, err
	}
	if !opts.WithoutCRDs {
		if err := installCRDs(ctx, env.Client); err != nil {
			return nil, err
		}
	}
	if !opts.WithoutRedis {
		if env.Redis, err = StartRedis(ctx, dir); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// Stop ends every process the Environment started and removes its files.
func (e *Environment) Stop() {
	if e == nil {
		return
	}
	e.Redis.Stop()
	if e.controlPlane != nil {
		e.controlPlane.stop()
	}
	if e.dir != "" && os.Getenv("TESTENV_KEEP") == "" {
		_ = os.RemoveAll(e.dir)
	}
}

// ConfigFor returns a rest.Config that impersonates a ServiceAccount, with
// the groups the API server gives real ServiceAccount tokens.
func (e *Environment) ConfigFor(namespace, serviceAccount string) *rest.Config {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + serviceAccount,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	return cfg
}

// ClientFor returns a client that acts as a ServiceAccount.
func (e *Environment) ClientFor(namespace, serviceAccount string) (client.Client, error) {
	c, err := client.New(e.ConfigFor(namespace, serviceAccount), client.Options{Scheme: e.Scheme})
	if err != nil {
		return nil, fmt.Errorf("create client for %s/%s: %w", namespace, serviceAccount, err)
	}
	return c, nil
}
