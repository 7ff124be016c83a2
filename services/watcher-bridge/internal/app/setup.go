// Package watcherbridge wires the watcher-bridge: native detection, the
// Alertmanager webhook, ChatCLI GetAlerts polling and the gRPC API, all
// feeding one exactly-once ingest pipeline that creates Anomalies.
package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/signals"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/alertmanager"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/chatcli"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/grpcserver"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/ingest"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/watch"
)

// Setup wires every source of signals to the ingest pipeline.
func (o *Options) Setup(ctx context.Context, rt *bootstrap.Runtime) error {
	mgr := rt.Manager
	o.Detect.RestartThreshold = int32(o.restartThreshold)
	selector, err := labels.Parse(o.NamespaceSelector)
	if err != nil {
		return fmt.Errorf("--namespace-selector: %w", err)
	}
	kube, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("create clientset: %w", err)
	}

	ingestMetrics, err := ingest.NewMetrics(metrics.Registry)
	if err != nil {
		return err
	}
	creator, err := ingest.NewCreator(ingest.Config{
		Client:            rt.HandlerClient,
		APIReader:         mgr.GetAPIReader(),
		Cache:             mgr.GetCache(),
		Redis:             rt.Redis,
		TTL:               instanceTTL(mgr.GetCache(), o.DedupTTL),
		DefaultTTL:        o.DedupTTL,
		FallbackNamespace: o.AnomalyNamespace,
		Logger:            rt.Log.WithName("ingest"),
		Metrics:           ingestMetrics,
		Scope:             scopeOf(mgr.GetCache(), selector),
		Budget:            ingest.Budget{Limit: o.ExternalAnomalyBudget, Window: externalBudgetWindow},
	})
	if err != nil {
		return err
	}
	md, err := metadata.NewForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("create metadata client: %w", err)
	}
	if err := mgr.Add(ingest.NewDeletionWatch(md, creator, rt.Log.WithName("deletions"))); err != nil {
		return fmt.Errorf("add deletion watch: %w", err)
	}

	dyn, err := dynamic.NewForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("create dynamic client: %w", err)
	}
	detector, err := watch.NewDetector(watch.Config{
		Kube: kube, Sink: creator, Detect: o.Detect, Workers: o.DetectionWorkers,
		WatchNodes: o.WatchNodes, UsagePollInterval: o.UsagePollInterval, Logger: rt.Log.WithName("detect"), Registerer: metrics.Registry,
		OwnerFallback:    k8sctx.ReaderLookup(mgr.GetAPIReader()),
		SecretNamespaces: o.SecretSignalNamespaces, Metadata: md, Dynamic: dyn,
	})
	if err != nil {
		return err
	}
	if err := mgr.Add(detector); err != nil {
		return fmt.Errorf("add detector: %w", err)
	}
	if err := mgr.Add(&watch.ScopeSource{
		Cache: mgr.GetCache(), Kube: kube, NamespaceSelector: selector, Detector: detector, Logger: rt.Log.WithName("scope"),
	}); err != nil {
		return fmt.Errorf("add scope source: %w", err)
	}

	poller, err := chatcli.New(chatcli.Config{
		Cache: mgr.GetCache(), APIReader: mgr.GetAPIReader(), Sink: creator.External("getalerts"),
		Logger: rt.Log.WithName("getalerts"), Registerer: metrics.Registry, DefaultInterval: o.PollInterval,
	})
	if err != nil {
		return err
	}
	if err := mgr.Add(poller); err != nil {
		return fmt.Errorf("add GetAlerts poller: %w", err)
	}

	anomalies, err := mgr.GetCache().GetInformer(ctx, &platformv1alpha1.Anomaly{})
	if err != nil {
		return fmt.Errorf("watch Anomalies: %w", err)
	}
	watcherServer, err := grpcserver.NewWatcherServer(creator.External("grpc"), creator, anomalies, grpcserver.WatcherOptions{Logger: rt.Log.WithName("grpc")})
	if err != nil {
		return err
	}
	compat, err := grpcserver.NewChatCLICompatServer(mgr.GetCache(), grpcserver.ChatCLICompatOptions{Window: o.AlertWindow})
	if err != nil {
		return err
	}
	grpcserver.Register(rt.GRPC, watcherServer, compat)
	// Open WatchAnomalies streams would hold up the gRPC server's graceful
	// stop; end them as soon as shutdown begins.
	if err := mgr.Add(onShutdown(watcherServer.Close)); err != nil {
		return fmt.Errorf("add stream closer: %w", err)
	}

	if o.WebhookBindAddress != "" {
		webhook, err := o.webhookServer(rt, creator.External("alertmanager"))
		if err != nil {
			return err
		}
		if err := mgr.Add(webhook); err != nil {
			return fmt.Errorf("add Alertmanager webhook: %w", err)
		}
	}
	return nil
}

func (o *Options) webhookServer(rt *bootstrap.Runtime, sink signals.Sink) (*webhookRunnable, error) {
	rules := alertmanager.Config{}
	if o.AlertmanagerRules != "" {
		data, err := os.ReadFile(o.AlertmanagerRules)
		if err != nil {
			return nil, fmt.Errorf("read --alertmanager-rules-file: %w", err)
		}
		if rules, err = alertmanager.ParseConfig(data); err != nil {
			return nil, fmt.Errorf("--alertmanager-rules-file: %w", err)
		}
	}
	mapper, err := alertmanager.NewMapper(rules)
	if err != nil {
		return nil, fmt.Errorf("alertmanager rules: %w", err)
	}
	// Alertmanager gets a token of its own (Validate insists): it is
	// configured by other people, often in another namespace, and must not
	// hold the token of the internal gRPC API.
	token, err := grpcx.WatchTokenFile(o.WebhookTokenFile, rt.Log.WithName("webhook").WithValues("flag", "--webhook-token-file"))
	if err != nil {
		return nil, fmt.Errorf("read webhook token: %w", err)
	}
	handler, err := alertmanager.NewHandler(alertmanager.HandlerConfig{
		TokenFunc: token, MaxBodyBytes: o.WebhookMaxBodyBytes, Mapper: mapper, Sink: sink, Logger: rt.Log.WithName("alertmanager"),
		RateLimitRPS: o.WebhookRateRPS, RateLimitBurst: o.WebhookRateBurst,
	})
	if err != nil {
		return nil, err
	}
	tlsConfig, err := grpcx.ServerTLSConfig(grpcx.ServerConfig{
		CertFile: rt.Options.GRPCCertFile, KeyFile: rt.Options.GRPCKeyFile, ClientCAFile: rt.Options.GRPCClientCAFile,
	}, rt.Log.WithName("webhook"))
	if err != nil {
		return nil, fmt.Errorf("webhook TLS: %w", err)
	}
	listener, err := net.Listen("tcp", o.WebhookBindAddress)
	if err != nil {
		return nil, fmt.Errorf("listen for the webhook on %s: %w", o.WebhookBindAddress, err)
	}
	return &webhookRunnable{listener: listener, handler: handler, tls: tlsConfig, shutdownTimeout: rt.Options.ShutdownTimeout}, nil
}

// onShutdown runs fn when the manager stops, on every replica.
type onShutdown func() error

func (f onShutdown) NeedLeaderElection() bool { return false }

func (f onShutdown) Start(ctx context.Context) error {
	<-ctx.Done()
	return f()
}

// externalBudgetWindow is the window of --external-anomaly-budget.
const externalBudgetWindow = time.Hour

// scopeOf returns the watch scope as every replica sees it in its cache:
// the Instances' targets and the namespaces selector picks. It is what the
// leader's detectors watch, applied to the signals of every source.
func scopeOf(reader client.Reader, selector labels.Selector) func(context.Context) (ingest.Scope, error) {
	return func(ctx context.Context) (ingest.Scope, error) {
		list := &platformv1alpha1.InstanceList{}
		if err := reader.List(ctx, list); err != nil {
			return nil, fmt.Errorf("list Instances: %w", err)
		}
		var selected []string
		if selector != nil && !selector.Empty() {
			namespaces := &metav1.PartialObjectMetadataList{}
			namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
			if err := reader.List(ctx, namespaces, client.MatchingLabelsSelector{Selector: selector}); err != nil {
				return nil, fmt.Errorf("list Namespaces: %w", err)
			}
			for _, ns := range namespaces.Items {
				selected = append(selected, ns.Name)
			}
		}
		return watch.NewScope(list.Items, selected), nil
	}
}

// instanceTTL returns the dedup TTL an Instance sets for a resource it
// watches. It reads the Instances from the cache on every replica, since
// the gRPC and webhook paths run on all of them, not only on the leader.
func instanceTTL(reader client.Reader, fallback time.Duration) func(platformv1alpha1.ResourceReference) time.Duration {
	return func(r platformv1alpha1.ResourceReference) time.Duration {
		list := &platformv1alpha1.InstanceList{}
		if err := reader.List(context.Background(), list); err != nil {
			return 0
		}
		return watch.NewScope(list.Items, nil).TTL(r, fallback)
	}
}
