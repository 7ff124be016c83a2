// Package app wires the instance-operator: its Instance reconciler. It serves no gRPC.
package app

import (
	"context"
	"errors"
	"flag"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/services/instance-operator/internal/reconcilers/instance"
)

// Service declares the instance-operator.
func Service() bootstrap.Service {
	o := &options{}
	return bootstrap.Service{
		Name: "instance-operator", GRPC: false, Redis: bootstrap.RedisUnused,
		AddFlags: o.addFlags, Validate: o.validate, ManagerOptions: o.managerOptions, Setup: o.setup,
	}
}

type options struct {
	namespaces  string
	config      instance.Config
	namespaceOf []string
	workers     int
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.namespaces, "instance-namespaces", "", "Comma-separated namespaces whose Instances are reconciled (the chart's rbac.instanceNamespaces, where the operator's Role lives). Empty reconciles none.")
	fs.StringVar(&o.config.WatcherClusterRole, "watcher-cluster-role", "", "The chart's read-only ClusterRole that a cross-namespace watcher's ClusterRoleBinding refers to; the operator may bind only it.")
	fs.StringVar(&o.config.Image, "server-image", "ghcr.io/diillson/chatcli", "Default image repository of ChatCLI servers (spec.image.repository overrides it).")
	fs.IntVar(&o.workers, "instance-workers", 4, "Instances reconciled at once.")
	fs.StringVar(&o.config.Tag, "server-image-tag", "", "Default pinned tag of ChatCLI servers (spec.image.tag overrides it); the chart passes its appVersion.")
}

func (o *options) validate() error {
	for _, ns := range strings.Split(o.namespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			o.namespaceOf = append(o.namespaceOf, ns)
		}
	}
	if len(o.namespaceOf) == 0 {
		return nil
	}
	var errs []error
	if o.config.WatcherClusterRole == "" {
		errs = append(errs, errors.New("--watcher-cluster-role is required with --instance-namespaces"))
	}
	if o.config.Tag == "" || o.config.Tag == "latest" {
		errs = append(errs, errors.New("--server-image-tag must be a pinned tag"))
	}
	return errors.Join(errs...)
}

// managerOptions limits the cache to the Instance namespaces and, within
// them, to the operator's own objects and labelled Secrets and ConfigMaps.
func (o *options) managerOptions(opts *ctrl.Options, _ *bootstrap.Options) error {
	if len(o.namespaceOf) == 0 {
		return nil
	}
	opts.Cache.DefaultNamespaces = map[string]cache.Config{}
	for _, ns := range o.namespaceOf {
		opts.Cache.DefaultNamespaces[ns] = cache.Config{}
	}
	return instance.CacheOptions(&opts.Cache)
}

func (o *options) setup(_ context.Context, rt *bootstrap.Runtime) error {
	if len(o.namespaceOf) == 0 {
		rt.Log.Info("No --instance-namespaces: no Instance is reconciled")
		return nil
	}
	return (&instance.Reconciler{
		Client:   rt.Manager.GetClient(),
		Reader:   rt.Manager.GetAPIReader(),
		Recorder: rt.Manager.GetEventRecorder("instance-operator"),
		Config:   o.config,
		Workers:  o.workers,
	}).SetupWithManager(rt.Manager)
}
