// Package app wires the remediator: its RemediationPlan and Runbook reconcilers, the action policy, its gRPC service and its admission webhook.
package app

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/scrub"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	"github.com/chatcli/aiops/services/remediator/internal/audit"
	"github.com/chatcli/aiops/services/remediator/internal/policy"
	"github.com/chatcli/aiops/services/remediator/internal/reconcilers/remediationplan"
	"github.com/chatcli/aiops/services/remediator/internal/reconcilers/runbook"
	"github.com/chatcli/aiops/services/remediator/internal/server"
	"github.com/chatcli/aiops/services/remediator/internal/webhooks"
)

// Service declares the remediator. Redis is required: without the lock on
// a target nothing may execute.
func Service() bootstrap.Service {
	o := &options{
		policy: policy.Defaults(), approvalClasses: "destructive", agentic: true, agenticMaxSteps: server.DefaultAgenticMaxSteps,
		agenticObserve: remediationplan.DefaultAgenticObserveInterval, brokenRollout: remediationplan.DefaultBrokenRolloutAfter,
		stabilityWindow: remediationplan.DefaultStabilityWindow, approvalTimeout: remediationplan.DefaultApprovalTimeout,
		verifyTimeout: remediationplan.MaxVerifyTimeout, generatedRunbookTTL: 30 * 24 * time.Hour,
		webhook: webhooks.ServerOptions{BindAddress: webhooks.DefaultBindAddress},
	}
	return bootstrap.Service{
		Name: "remediator", GRPC: true, Redis: bootstrap.RedisRequired,
		AddFlags: o.addFlags, Validate: o.validate, ManagerOptions: o.managerOptions, Setup: o.setup,
	}
}

type options struct {
	policy            policy.Config
	allowedNamespaces string
	approvalClasses   string
	maxReplicas       int
	scaleFactor       int

	stabilityWindow     time.Duration
	approvalTimeout     time.Duration
	verifyTimeout       time.Duration
	generatedRunbookTTL time.Duration

	mode            string
	workers         int
	agentic         bool
	agenticMaxSteps int
	agenticObserve  time.Duration
	brokenRollout   time.Duration
	analyzer        grpcx.PeerConfig

	webhook webhooks.ServerOptions
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.policy.PlatformNamespace, "platform-namespace", os.Getenv("POD_NAMESPACE"), "The platform's namespace: shared Runbooks live there, and no action targets it unless --allowed-namespaces lists it. Defaults to $POD_NAMESPACE.")
	fs.StringVar(&o.allowedNamespaces, "allowed-namespaces", "", "Comma-separated system or platform namespaces actions may target after all (kube-system, kube-public, kube-node-lease and the platform's are refused otherwise).")
	o.maxReplicas, o.scaleFactor = int(o.policy.MaxReplicas), int(o.policy.ScaleFactor)
	fs.IntVar(&o.maxReplicas, "max-replicas", o.maxReplicas, "The most replicas a scale action may set.")
	fs.IntVar(&o.scaleFactor, "max-scale-factor", o.scaleFactor, "A scale may set at most this many times the current replicas.")
	fs.Float64Var(&o.policy.ResourceFactor, "resource-factor", o.policy.ResourceFactor, "A new request or limit stays within this factor of the current value, up or down.")
	fs.Int64Var(&o.policy.ActionsPerNamespacePerHour, "actions-per-namespace-per-hour", o.policy.ActionsPerNamespacePerHour, "Blast-radius budget: actions per namespace per hour.")
	fs.Int64Var(&o.policy.PlansPerHour, "plans-per-hour", o.policy.PlansPerHour, "Blast-radius budget: plans that start executing per hour, cluster-wide.")
	fs.StringVar(&o.approvalClasses, "approval-classes", o.approvalClasses, "Comma-separated action classes (safe, disruptive, destructive) that wait for a person's approval; empty for none.")
	fs.DurationVar(&o.stabilityWindow, "stability-window", o.stabilityWindow, "How long a fixed target must stay healthy with no new restart before a plan completes.")
	fs.DurationVar(&o.approvalTimeout, "approval-timeout", o.approvalTimeout, "How long a plan waits for approval before it fails with ApprovalExpired.")
	fs.DurationVar(&o.verifyTimeout, "verify-timeout", o.verifyTimeout, "Cap on the verification timeout (a Deployment's progressDeadlineSeconds, a Job's activeDeadlineSeconds); at most 10m.")
	fs.DurationVar(&o.generatedRunbookTTL, "generated-runbook-ttl", o.generatedRunbookTTL, "Generated Runbooks unused for this long are deleted; 0 keeps them.")
	fs.BoolVar(&o.agentic, "agentic-mode", o.agentic, "Propose an agentic plan when no Runbook and no suggested action applies (needs --analyzer-address).")
	fs.IntVar(&o.agenticMaxSteps, "agentic-max-steps", o.agenticMaxSteps, "Step budget of an agentic plan (1-30).")
	fs.DurationVar(&o.brokenRollout, "broken-rollout-after", o.brokenRollout, "How long into a verification the pods of a Deployment that is not healthy are read; when every pod of its current template backs off (crash loop, image, config) the verification fails then instead of at the progress deadline.")
	fs.DurationVar(&o.agenticObserve, "agentic-observe-interval", o.agenticObserve, "How long an agentic loop waits after a step that changed nothing (no action, or one refused) before it asks the next; a rollout the loop started gets this long per step to show its effect.")
	fs.IntVar(&o.workers, "plan-workers", 8, "RemediationPlans advanced at once (plans on one target still take turns).")
	fs.StringVar(&o.mode, "mode", string(remediationplan.ModeLive), "live executes plans; dry-run runs every action as a server-side dry-run, records its diff and waits for approval. A namespace labelled "+remediationplan.ModeLabel+"=dry-run is in dry-run mode either way.")
	o.analyzer.AddFlags(fs, "analyzer")
	fs.StringVar(&o.webhook.BindAddress, "webhook-bind-address", o.webhook.BindAddress, "Address of the admission webhook server (HTTPS, TLS 1.3) on every replica; empty or 0 disables it.")
	fs.StringVar(&o.webhook.CertDir, "webhook-cert-dir", o.webhook.CertDir, "Directory holding the webhook's "+webhooks.CertName+" and "+webhooks.KeyName+", reloaded when they change. Defaults to the gRPC certificate.")
}

// managerOptions gives the manager the webhook server. It serves on every
// replica: controller-runtime's webhook server needs no leader.
func (o *options) managerOptions(mgr *ctrl.Options, shared *bootstrap.Options) error {
	if !o.webhook.Enabled() {
		return nil
	}
	o.webhook.CertFile, o.webhook.KeyFile = shared.GRPCCertFile, shared.GRPCKeyFile
	srv, err := webhooks.NewServer(o.webhook)
	if err != nil {
		return err
	}
	mgr.WebhookServer = srv
	return nil
}

func (o *options) validate() error {
	o.policy.MaxReplicas, o.policy.ScaleFactor = int32(o.maxReplicas), int32(o.scaleFactor)
	o.policy.AllowedNamespaces = splitList(o.allowedNamespaces)
	o.policy.ApprovalClasses = nil
	for _, c := range splitList(o.approvalClasses) {
		switch actions.Class(c) {
		case actions.ClassSafe, actions.ClassDisruptive, actions.ClassDestructive:
			o.policy.ApprovalClasses = append(o.policy.ApprovalClasses, actions.Class(c))
		default:
			return fmt.Errorf("--approval-classes: %q is not safe, disruptive or destructive", c)
		}
	}
	switch {
	case o.maxReplicas < 1 || o.maxReplicas > actions.MaxReplicas:
		return fmt.Errorf("--max-replicas must be within 1-%d", actions.MaxReplicas)
	case o.scaleFactor < 1:
		return fmt.Errorf("--max-scale-factor must be at least 1")
	case o.policy.ResourceFactor < 1:
		return fmt.Errorf("--resource-factor must be at least 1")
	case o.policy.ActionsPerNamespacePerHour < 1 || o.policy.PlansPerHour < 1:
		return fmt.Errorf("--actions-per-namespace-per-hour and --plans-per-hour must be at least 1")
	case o.stabilityWindow < 0 || o.approvalTimeout <= 0 || o.verifyTimeout <= 0 || o.verifyTimeout > remediationplan.MaxVerifyTimeout:
		return fmt.Errorf("--stability-window, --approval-timeout and --verify-timeout (at most 10m) must be positive")
	case o.workers < 1:
		return fmt.Errorf("--plan-workers must be at least 1")
	case o.agenticMaxSteps < 1 || o.agenticMaxSteps > 30:
		return fmt.Errorf("--agentic-max-steps must be within 1-30")
	case o.brokenRollout <= 0:
		return fmt.Errorf("--broken-rollout-after must be positive")
	case o.agenticObserve <= 0 || o.agenticObserve > time.Minute:
		return fmt.Errorf("--agentic-observe-interval must be within (0, 1m]")
	}
	if m := remediationplan.Mode(o.mode); m != remediationplan.ModeLive && m != remediationplan.ModeDryRun {
		return fmt.Errorf("--mode must be live or dry-run, not %q", o.mode)
	}
	if o.webhook.Enabled() {
		if _, _, err := net.SplitHostPort(o.webhook.BindAddress); err != nil {
			return fmt.Errorf("--webhook-bind-address: %w", err)
		}
	}
	if o.analyzer.Address != "" {
		return o.analyzer.Validate()
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// setup wires the reconcilers and the API. Targets, their pods and
// ConfigMaps are read straight from the API server, never cached: the
// remediator must not hold every pod and ConfigMap of the cluster in
// memory, and it decides on what is live.
func (o *options) setup(_ context.Context, rt *bootstrap.Runtime) error {
	mgr := rt.Manager
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		return fmt.Errorf("build the direct client: %w", err)
	}
	auditLog, err := audit.FromEnvironment()
	if err != nil {
		return err
	}
	if o.policy.PlatformNamespace == "" {
		o.policy.PlatformNamespace = rt.Options.LeaderElectionNamespace
	}
	pol := &policy.Policy{Config: o.policy, Reader: direct, Redis: rt.Redis, Audit: auditLog, Now: time.Now}
	executors := actions.NewExecutors(direct)
	logs, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("build the pods/log client: %w", err)
	}

	var analyzer analyzerv1.AnalyzerServiceClient
	if o.analyzer.Address != "" {
		conn, err := o.analyzer.Dial(rt.Log)
		if err != nil {
			return fmt.Errorf("dial the analyzer: %w", err)
		}
		analyzer = analyzerv1.NewAnalyzerServiceClient(conn)
	}
	if err := (&remediationplan.Reconciler{
		Client: direct, Executor: executors.Deployment, JobExecutor: executors.Job, Policy: pol, Redis: rt.Redis, Audit: auditLog, Now: time.Now,
		StabilityWindow: o.stabilityWindow, ApprovalTimeout: o.approvalTimeout, VerifyTimeout: o.verifyTimeout,
		Analyzer: analyzer, AgenticObserveInterval: o.agenticObserve, BrokenRolloutAfter: o.brokenRollout, Mode: remediationplan.Mode(o.mode), Workers: o.workers,
		// Everything read live, like the rest of the remediator.
		Context: agenticObservation(&k8sctx.Builder{Reader: direct, Live: direct, Logs: logs}, scrub.Default(), k8sctx.DefaultMaxBytes),
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the RemediationPlan reconciler: %w", err)
	}
	if err := (&runbook.Reconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Now: time.Now, GeneratedTTL: o.generatedRunbookTTL}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the Runbook reconciler: %w", err)
	}
	if o.webhook.Enabled() {
		// The webhook only reads: it needs no client that writes.
		if err := (&webhooks.Handlers{Reader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Audit: auditLog}).Register(mgr.GetWebhookServer()); err != nil {
			return fmt.Errorf("set up the admission webhook: %w", err)
		}
		if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
			return fmt.Errorf("add the webhook readyz check: %w", err)
		}
	}
	remediatorv1.RegisterRemediatorServiceServer(rt.GRPC, &server.Server{
		Client: rt.HandlerClient, Reader: mgr.GetAPIReader(), Policy: pol, Audit: auditLog,
		PlatformNamespace: o.policy.PlatformNamespace,
		Agentic:           o.agentic && analyzer != nil, AgenticMaxSteps: int32(o.agenticMaxSteps),
		Executor: executors,
	})
	return nil
}
