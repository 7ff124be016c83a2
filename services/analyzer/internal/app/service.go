// Package app wires the analyzer: its AIInsight reconciler and its gRPC
// services (AnalyzerService and the chatcli.v1 compat API).
package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"k8s.io/client-go/kubernetes"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/llm"
	"github.com/chatcli/aiops/libs/llm/providers"
	"github.com/chatcli/aiops/libs/scrub"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	"github.com/chatcli/aiops/services/analyzer/internal/analysis"
	"github.com/chatcli/aiops/services/analyzer/internal/chatcliserver"
	"github.com/chatcli/aiops/services/analyzer/internal/grpcserver"
	"github.com/chatcli/aiops/services/analyzer/internal/instancekeys"
	"github.com/chatcli/aiops/services/analyzer/internal/reconcilers/aiinsight"
	"github.com/chatcli/aiops/services/analyzer/internal/validate"
)

// Service declares the analyzer. Every replica serves the analysis API;
// the leader's reconciler sends its AIInsights to all of them.
func Service() bootstrap.Service {
	o := &options{
		workers: 16, analysisTimeout: aiinsight.DefaultTimeout, giveUpAfter: aiinsight.DefaultGiveUpAfter,
		providerTimeout: analysis.DefaultTimeout, fallback: true, defaultProvider: string(platformv1alpha1.ProviderBuiltin),
		platformNamespace: os.Getenv("POD_NAMESPACE"), maxInFlight: 16,
	}
	return bootstrap.Service{
		Name: "analyzer", GRPC: true, Redis: bootstrap.RedisDegraded,
		AddFlags: o.addFlags, Validate: o.validate, Setup: o.setup,
	}
}

type options struct {
	workers           int
	analysisTimeout   time.Duration
	giveUpAfter       time.Duration
	providerTimeout   time.Duration
	fallback          bool
	defaultProvider   string
	platformNamespace string
	scrubPatterns     string
	maxInFlight       int
	pool              grpcx.PeerConfig
	providerChain     string
	llmMaxTokens      int
	llmTemperature    string
	llmPrices         string
	providerRetries   int
	breakerThreshold  int
	breakerCooldown   time.Duration
	budgetPerIncident int64
	budgetPerDay      int64

	chain       []platformv1alpha1.Provider
	temperature *float64

	scrubber *scrub.Scrubber
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.workers, "analysis-workers", o.workers, "AIInsights analysed at once by the leader; with N analyzer replicas behind --analyzer-address, about N times as many calls finish per second.")
	fs.DurationVar(&o.analysisTimeout, "analysis-timeout", o.analysisTimeout, "Longest wait for one AnalyzeIssue call; a worker is never held longer.")
	fs.DurationVar(&o.giveUpAfter, "analysis-give-up-after", o.giveUpAfter, "How long after its creation an AIInsight whose pool cannot be reached fails as ProviderUnavailable.")
	fs.DurationVar(&o.providerTimeout, "provider-timeout", o.providerTimeout, "Longest wait for one provider completion (an answer and its repair may take two).")
	fs.BoolVar(&o.fallback, "builtin-fallback", o.fallback, "Let the built-in analyzer answer when the requested provider is not configured, out of budget or failing.")
	fs.StringVar(&o.defaultProvider, "default-provider", o.defaultProvider, "Provider of requests that name none.")
	fs.StringVar(&o.platformNamespace, "platform-namespace", o.platformNamespace, "The platform's namespace, never the target of a suggested action; defaults to $POD_NAMESPACE.")
	fs.IntVar(&o.maxInFlight, "provider-max-in-flight", o.maxInFlight, "Provider calls one replica makes at once; more wait, within their deadline. 0 means no bound.")
	fs.StringVar(&o.scrubPatterns, "log-scrub-patterns", o.scrubPatterns, "Extra patterns (RE2) redacted before any text reaches a provider: a JSON array of strings, or one pattern per line (CHATCLI_LOG_SCRUB_PATTERNS).")
	fs.StringVar(&o.providerChain, "provider-chain", o.providerChain, "Providers tried in this order, after the requested one, when it is not configured or failing (comma-separated, e.g. CLAUDEAI,OPENAI); BUILTIN comes last through --builtin-fallback.")
	fs.IntVar(&o.llmMaxTokens, "llm-max-tokens", providers.DefaultMaxTokens, "Largest answer a provider may write, in tokens.")
	fs.StringVar(&o.llmTemperature, "llm-temperature", "", "Sampling temperature sent to the providers; empty keeps each provider's default.")
	fs.StringVar(&o.llmPrices, "llm-prices", "", `Price table for the cost metrics: JSON {"<model>": {"input": USD per million tokens, "output": ...}}; models without a price count no cost.`)
	fs.IntVar(&o.providerRetries, "provider-retries", 2, "Retries of a provider call that failed with 429, 5xx, a timeout or a cut connection (exponential backoff; a retry-after is honoured within the deadline).")
	fs.IntVar(&o.breakerThreshold, "provider-breaker-threshold", 5, "Consecutive failed completions that open a provider's circuit breaker.")
	fs.DurationVar(&o.breakerCooldown, "provider-breaker-cooldown", 30*time.Second, "How long an open breaker refuses calls before one probe is let through.")
	fs.Int64Var(&o.budgetPerIncident, "llm-token-budget-per-incident", 0, "Most tokens the LLM providers may spend on one incident (analyses, retries, agentic steps, summary), counted in Redis; then BUILTIN answers and the analysis says so. 0: no limit.")
	fs.Int64Var(&o.budgetPerDay, "llm-token-budget-per-day", 0, "Most tokens the LLM providers may spend per UTC day, over all incidents and replicas, counted in Redis. 0: no limit. Without Redis no budget is enforced.")
	o.pool.AddFlags(fs, "analyzer")
}

func (o *options) validate() error {
	var errs []error
	if o.maxInFlight < 0 {
		errs = append(errs, fmt.Errorf("--provider-max-in-flight must not be negative, got %d", o.maxInFlight))
	}
	if o.workers < 1 {
		errs = append(errs, fmt.Errorf("--analysis-workers must be at least 1, got %d", o.workers))
	}
	if o.analysisTimeout <= 0 || o.providerTimeout <= 0 || o.giveUpAfter <= 0 {
		errs = append(errs, errors.New("--analysis-timeout, --provider-timeout and --analysis-give-up-after must be positive"))
	}
	for _, n := range strings.Split(o.providerChain, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if p := platformv1alpha1.Provider(n); slices.Contains(analysis.KnownProviders(), p) {
			o.chain = append(o.chain, p)
		} else {
			errs = append(errs, fmt.Errorf("--provider-chain: %q is not a provider", n))
		}
	}
	if o.llmTemperature != "" {
		t, err := strconv.ParseFloat(o.llmTemperature, 64)
		if err != nil || t < 0 || t > 2 {
			errs = append(errs, fmt.Errorf("--llm-temperature must be a number in [0, 2], got %q", o.llmTemperature))
		}
		o.temperature = &t
	}
	if o.llmPrices != "" {
		prices := map[string]llm.Price{}
		if err := json.Unmarshal([]byte(o.llmPrices), &prices); err != nil {
			errs = append(errs, fmt.Errorf("--llm-prices: %w", err))
		}
		llm.Prices = prices
	}
	if o.budgetPerIncident < 0 || o.budgetPerDay < 0 {
		errs = append(errs, errors.New("--llm-token-budget-per-incident and --llm-token-budget-per-day must not be negative"))
	}
	if o.llmMaxTokens < 1 || o.providerRetries < 0 || o.breakerThreshold < 1 || o.breakerCooldown <= 0 {
		errs = append(errs, errors.New("--llm-max-tokens and --provider-breaker-threshold must be at least 1, --provider-retries not negative, --provider-breaker-cooldown positive"))
	}
	patterns, err := scrub.ParsePatterns(o.scrubPatterns)
	if err != nil {
		errs = append(errs, fmt.Errorf("--log-scrub-patterns: %w", err))
	} else if o.scrubber, err = scrub.New(patterns); err != nil {
		errs = append(errs, fmt.Errorf("--log-scrub-patterns: %w", err))
	}
	// Without a pool address the reconciler calls this replica in process.
	if o.pool.Address != "" {
		if err := o.pool.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (o *options) setup(_ context.Context, rt *bootstrap.Runtime) error {
	mgr := rt.Manager
	checker := validate.Default{PlatformNamespace: o.platformNamespace}
	svc := analysis.NewService(o.scrubber, checker)
	svc.DefaultProvider = platformv1alpha1.Provider(o.defaultProvider)
	svc.Fallback = o.fallback
	svc.Chain = o.chain
	if o.budgetPerIncident > 0 || o.budgetPerDay > 0 {
		svc.Budget = &analysis.TokenBudget{Redis: rt.Redis, PerIncident: o.budgetPerIncident, PerDay: o.budgetPerDay, Log: rt.Log}
	}
	// Keys come from the analyzer's own Secret, mounted as environment
	// variables; only the names of the providers found are logged.
	configured, err := o.networkProviders(os.Getenv)
	if err != nil {
		return err
	}
	for _, p := range configured {
		svc.Providers.Register(p)
	}
	resolver := &instancekeys.Resolver{
		Instances: mgr.GetClient(), Secrets: mgr.GetAPIReader(),
		Settings: o.providerSettings(), Policy: o.policy(),
	}
	svc.Resolve = resolver.Provider
	svc.Tune = resolver.Tuning
	// Instances with spec.aiops.analysisMode server have their incidents
	// analysed by their own ChatCLI server.
	servers := &chatcliserver.Router{Instances: mgr.GetClient(), Secrets: mgr.GetAPIReader(), Policy: o.policy()}
	svc.Servers = servers.Provider
	rt.Log.Info("LLM providers", "configured", svc.Providers.Names(), "chain", o.chain, "builtinFallback", o.fallback)
	svc.Timeout = o.providerTimeout
	svc.MaxInFlight = o.maxInFlight
	grpcserver.Register(rt.GRPC, svc, rt.Redis)

	var pool analyzerv1.AnalyzerServiceClient = inProcess{&grpcserver.AnalyzerServer{Service: svc}}
	if o.pool.Address != "" {
		conn, err := o.pool.Dial(rt.Log)
		if err != nil {
			return fmt.Errorf("dial the analyzer pool: %w", err)
		}
		pool = analyzerv1.NewAnalyzerServiceClient(conn)
	}
	logs, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("create the clientset for pod logs: %w", err)
	}
	if err := (&aiinsight.Reconciler{
		Client: mgr.GetClient(),
		// Everything is read from the API server, by name or selector: a
		// cache lags most in a storm of incidents, and a workload read a
		// few seconds stale shows the revision before the fault as the
		// current one. No cache holds every workload, pod or event.
		Context:  &k8sctx.Builder{Reader: mgr.GetAPIReader(), Logs: logs},
		Scrubber: o.scrubber, Analyzer: pool, Checker: checker,
		Timeout: o.analysisTimeout, GiveUpAfter: o.giveUpAfter, Workers: o.workers, Now: time.Now,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the AIInsight reconciler: %w", err)
	}
	return nil
}

// networkProviders builds every provider whose keys keys holds, each
// wrapped with retries, a breaker and metrics.
func (o *options) networkProviders(keys providers.Keys) ([]llm.Provider, error) {
	var names []platformv1alpha1.Provider
	for _, n := range analysis.KnownProviders() {
		if n != platformv1alpha1.ProviderBuiltin {
			names = append(names, n)
		}
	}
	found, err := providers.Configured(keys, o.providerSettings(), names...)
	if err != nil {
		return nil, fmt.Errorf("configure the LLM providers: %w", err)
	}
	out := make([]llm.Provider, 0, len(found))
	for _, p := range found {
		out = append(out, llm.NewResilient(p, o.policy()))
	}
	return out, nil
}

func (o *options) providerSettings() providers.Settings {
	return providers.Settings{MaxTokens: o.llmMaxTokens, Temperature: o.temperature}
}

func (o *options) policy() llm.Policy {
	return llm.Policy{MaxAttempts: o.providerRetries + 1, BreakerThreshold: o.breakerThreshold, BreakerCooldown: o.breakerCooldown}
}

// inProcess calls this replica's own AnalyzerService without the network,
// for a single analyzer run without --analyzer-address.
type inProcess struct{ s *grpcserver.AnalyzerServer }

func (c inProcess) AnalyzeIssue(ctx context.Context, req *analyzerv1.AnalyzeIssueRequest, _ ...grpc.CallOption) (*analyzerv1.AnalyzeIssueResponse, error) {
	return c.s.AnalyzeIssue(ctx, req)
}

func (c inProcess) AgenticStep(ctx context.Context, req *analyzerv1.AgenticStepRequest, _ ...grpc.CallOption) (*analyzerv1.AgenticStepResponse, error) {
	return c.s.AgenticStep(ctx, req)
}

func (c inProcess) SummarizeIncident(ctx context.Context, req *analyzerv1.SummarizeIncidentRequest, _ ...grpc.CallOption) (*analyzerv1.SummarizeIncidentResponse, error) {
	return c.s.SummarizeIncident(ctx, req)
}
