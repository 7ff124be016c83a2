// Package platform installs the chatcli-aiops chart into a local cluster in
// its local-processes mode and runs the six service binaries (from bin/) as
// processes, each under a TokenRequest token of its own chart
// ServiceAccount, so that every scenario also proves the chart's RBAC. The
// internal gRPC is TLS with a CA the harness makes, the token is the one the
// chart generated, and Redis is a local redis-server.
//
// It depends on no service's internals: only on the CRDs, the chart and the
// services' flags. Services whose parts have not landed just start.
package platform

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/e2e/cluster"
	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/testenv"
)

// Services are the platform's six services, in start order.
var Services = []string{"instance-operator", "watcher-bridge", "correlator", "analyzer", "remediator", "postmortem-writer"}

// peerAliases are the shorter peer names some callers use in their
// --<peer>-* flags (the correlator's --watcher-address).
var peerAliases = map[string][]string{
	"watcher-bridge":    {"watcher"},
	"postmortem-writer": {"postmortem"},
}

// WatchLabel is the namespace label the watcher-bridge's
// --namespace-selector picks: application namespaces of the scenarios and
// the demo carry WatchLabel=watched.
const WatchLabel = "chatcli.io/e2e"

// Options choose how the platform runs.
type Options struct {
	// Namespace is the release namespace; default chatcli-system.
	Namespace string
	// Release is the Helm release name; default chatcli, which makes the
	// ServiceAccounts chatcli-<service> and matches the Leases.
	Release string
	// ChartDir is the chart; default charts/chatcli-aiops of the repository.
	ChartDir string
	// Args are extra flags per service, added after the harness's.
	Args map[string][]string
	// Env is extra environment for every service (CHATCLI_<FLAG> sets a
	// flag only in the services that define it; others ignore it).
	Env []string
	// InstanceNamespaces are created (watched) before the chart is
	// installed and become its rbac.instanceNamespaces: only there may the
	// analyzer and the watcher-bridge read an Instance's Secrets, as in a
	// real install. They must not exist yet.
	InstanceNamespaces []string
	// OperatorNamespaces, a subset of InstanceNamespaces, are those whose
	// Instances the instance-operator reconciles (--instance-namespaces).
	// In the others a test plays the operator's part and writes the
	// Instance's status itself: the operator publishes a cluster DNS
	// endpoint, which nothing resolves on a local control plane.
	OperatorNamespaces []string
}

// Platform is the installed chart and the running services.
type Platform struct {
	Cluster *cluster.Cluster
	// Client is an admin client with the platform's kinds.
	Client client.Client
	Redis  *testenv.Redis
	PKI    *testenv.PKI
	// Namespace and Release of the chart.
	Namespace, Release string
	// TokenFile holds the chart's internal gRPC token.
	TokenFile string
	// AlertmanagerTokenFile holds the bearer token of the watcher-bridge's
	// Alertmanager webhook (its own, never the gRPC token).
	AlertmanagerTokenFile string
	// Services by name.
	Services map[string]*Service
	// Timings of the start, for reports.
	Timings map[string]time.Duration

	dir string
	// appVersion is the chart's, the instance-operator's server image tag.
	appVersion string
	// replicas counts the extra replicas started per service; extra holds
	// them, for Stop.
	replicas map[string]int
	extra    []*Service
}

// Service is one running service binary.
type Service struct {
	Name string
	// GRPCAddr is empty for the instance-operator, which serves no gRPC.
	GRPCAddr, ProbeAddr, MetricsAddr string
	// IncidentAPIAddr is the correlator's REST incident API; empty for
	// the other services.
	IncidentAPIAddr string
	// WebhookAddr is the HTTPS webhook server the service runs
	// (--webhook-bind-address): the watcher-bridge's Alertmanager receiver
	// at /alertmanager, and the remediator's admission webhook (its gRPC
	// certificate), which the harness registers with a URL; empty for the
	// others.
	WebhookAddr string
	// Kubeconfig carries a token of the service's own ServiceAccount.
	Kubeconfig string
	Process    *cluster.Process

	binary, logDir string
	args, env      []string
}

// Start installs the chart into c and starts the six services, returning
// once each answers /readyz.
func Start(ctx context.Context, c *cluster.Cluster, opts Options) (_ *Platform, err error) {
	if opts.Namespace == "" {
		opts.Namespace = "chatcli-system"
	}
	if opts.Release == "" {
		opts.Release = "chatcli"
	}
	if opts.ChartDir == "" {
		root, err := cluster.RepoRoot()
		if err != nil {
			return nil, err
		}
		opts.ChartDir = filepath.Join(root, "charts", "chatcli-aiops")
	}
	p := &Platform{Cluster: c, Namespace: opts.Namespace, Release: opts.Release, Services: map[string]*Service{},
		Timings: map[string]time.Duration{}, replicas: map[string]int{}, dir: filepath.Join(c.Dir, "platform")}
	defer func() {
		if err != nil {
			p.Stop()
		}
	}()
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create platform directory: %w", err)
	}
	if p.Client, err = client.New(c.Config, client.Options{Scheme: testenv.NewScheme()}); err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	for _, ns := range opts.OperatorNamespaces {
		if !slices.Contains(opts.InstanceNamespaces, ns) {
			return nil, fmt.Errorf("operator namespace %s is not one of the instance namespaces %v", ns, opts.InstanceNamespaces)
		}
	}
	begin := time.Now()
	for _, ns := range opts.InstanceNamespaces {
		if err := p.NewAppNamespace(ctx, ns); err != nil {
			return nil, err
		}
	}
	values := map[string]any{"localProcesses": true}
	if len(opts.InstanceNamespaces) > 0 {
		// Helm's schema check wants the types a YAML decode gives.
		namespaces := make([]any, len(opts.InstanceNamespaces))
		for i, ns := range opts.InstanceNamespaces {
			namespaces[i] = ns
		}
		values["rbac"] = map[string]any{"instanceNamespaces": namespaces}
	}
	if err := p.installChart(ctx, c.Kubeconfig, opts.ChartDir, values); err != nil {
		return nil, err
	}
	p.Timings["helm install"] = time.Since(begin)
	if err := p.writeToken(ctx); err != nil {
		return nil, err
	}
	if p.PKI, err = testenv.NewPKI(p.dir); err != nil {
		return nil, err
	}
	if p.Redis, err = testenv.StartLocalRedis(ctx, "", c.LogDir); err != nil {
		return nil, err
	}
	step := time.Now()
	if err := p.prepareServices(ctx, opts); err != nil {
		return nil, err
	}
	for _, name := range Services {
		if err := p.Services[name].start(); err != nil {
			return nil, err
		}
	}
	for _, name := range Services {
		if err := p.Services[name].WaitReady(ctx, time.Minute); err != nil {
			return nil, err
		}
	}
	p.Timings["services ready"] = time.Since(step)
	if err := p.registerAdmissionWebhook(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Paths of the remediator's admission webhook, as the chart's
// ValidatingWebhookConfiguration names them.
const (
	PlanWebhookPath    = "/validate-platform-chatcli-io-v1alpha1-remediationplan"
	RunbookWebhookPath = "/validate-platform-chatcli-io-v1alpha1-runbook"
)

// registerAdmissionWebhook points a ValidatingWebhookConfiguration like the
// chart's at the local remediator by URL (the chart's, which names a
// Service, is not rendered in local-processes mode), with the harness CA.
// It comes after the remediator is ready: with failurePolicy Fail, a
// webhook that nothing serves would refuse every plan.
func (p *Platform) registerAdmissionWebhook(ctx context.Context) error {
	addr := p.Services["remediator"].WebhookAddr
	ca, err := os.ReadFile(p.PKI.CAFile)
	if err != nil {
		return fmt.Errorf("read the harness CA: %w", err)
	}
	fail, none, equivalent := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone, admissionregistrationv1.Equivalent
	hook := func(name, path, resource string, ops ...admissionregistrationv1.OperationType) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name: name, AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fail,
			MatchPolicy: &equivalent, TimeoutSeconds: ptr.To[int32](10),
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://" + addr + path), CABundle: ca},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: ops,
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{platformv1alpha1.GroupVersion.Group}, APIVersions: []string{platformv1alpha1.GroupVersion.Version},
					Resources: []string{resource}, Scope: ptr.To(admissionregistrationv1.NamespacedScope),
				},
			}},
		}
	}
	config := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: p.Release + "-remediator-local"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{
			hook("remediationplans.remediator.platform.chatcli.io", PlanWebhookPath, "remediationplans",
				admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete),
			hook("runbooks.remediator.platform.chatcli.io", RunbookWebhookPath, "runbooks",
				admissionregistrationv1.Create, admissionregistrationv1.Update),
		},
	}
	if err := p.Client.Create(ctx, config); err != nil {
		return fmt.Errorf("register the remediator's admission webhook: %w", err)
	}
	return nil
}

// writeToken copies the internal token the chart generated into a file the
// services read (--grpc-token-file and --<peer>-token-file).
func (p *Platform) writeToken(ctx context.Context) error {
	var secret corev1.Secret
	key := client.ObjectKey{Namespace: p.Namespace, Name: p.Release + "-internal-token"}
	if err := p.Client.Get(ctx, key, &secret); err != nil {
		return fmt.Errorf("get the chart's internal token Secret: %w", err)
	}
	token := secret.Data["token"]
	if len(token) == 0 {
		return fmt.Errorf("secret %s has no token", key)
	}
	p.TokenFile = filepath.Join(p.dir, "internal-token")
	if err := os.WriteFile(p.TokenFile, token, 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	p.AlertmanagerTokenFile = filepath.Join(p.dir, "alertmanager-token")
	if err := os.WriteFile(p.AlertmanagerTokenFile, []byte(rand.Text()+rand.Text()), 0o600); err != nil {
		return fmt.Errorf("write the Alertmanager token file: %w", err)
	}
	return nil
}

// prepareServices allocates every service's addresses first, since each
// service is told where its peers are, then writes each one's kubeconfig.
func (p *Platform) prepareServices(ctx context.Context, opts Options) error {
	var peerEnv []string
	for _, name := range Services {
		bin, err := cluster.Binary(name)
		if err != nil {
			return fmt.Errorf("%w (make build builds the services)", err)
		}
		s := &Service{Name: name, binary: bin, logDir: p.Cluster.LogDir}
		for _, addr := range []*string{&s.ProbeAddr, &s.MetricsAddr} {
			if *addr, err = testenv.FreeAddr(); err != nil {
				return err
			}
		}
		if name == "correlator" {
			if s.IncidentAPIAddr, err = testenv.FreeAddr(); err != nil {
				return err
			}
		}
		if name == "watcher-bridge" || name == "remediator" {
			if s.WebhookAddr, err = testenv.FreeAddr(); err != nil {
				return err
			}
		}
		if name != "instance-operator" {
			if s.GRPCAddr, err = testenv.FreeAddr(); err != nil {
				return err
			}
			// A service that calls this one has --<peer>-address and
			// friends; the others ignore the variables.
			for _, peer := range append([]string{name}, peerAliases[name]...) {
				peerEnv = append(peerEnv,
					bootstrap.EnvName(peer+"-address")+"="+s.GRPCAddr,
					bootstrap.EnvName(peer+"-ca-file")+"="+p.PKI.CAFile,
					bootstrap.EnvName(peer+"-token-file")+"="+p.TokenFile)
			}
		}
		p.Services[name] = s
	}
	for _, name := range Services {
		s := p.Services[name]
		s.Kubeconfig = filepath.Join(p.dir, name+".kubeconfig")
		if err := p.Cluster.ServiceAccountKubeconfig(ctx, p.Namespace, p.Release+"-"+name, s.Kubeconfig); err != nil {
			return err
		}
		if s.GRPCAddr != "" {
			leaf, err := p.PKI.IssueServer(name)
			if err != nil {
				return err
			}
			s.args = append(s.args, "--grpc-tls-cert-file="+leaf.CertFile, "--grpc-tls-key-file="+leaf.KeyFile,
				"--grpc-token-file="+p.TokenFile)
		}
		s.args = append(s.args, "--kubeconfig="+s.Kubeconfig,
			"--leader-elect=true", "--leader-election-namespace="+p.Namespace, "--log-format=json")
		if name == "watcher-bridge" {
			s.args = append(s.args, "--namespace-selector="+WatchLabel+"=watched", "--anomaly-namespace="+p.Namespace,
				"--webhook-token-file="+p.AlertmanagerTokenFile)
		}
		if name == "instance-operator" && len(opts.OperatorNamespaces) > 0 {
			// The chart's own flags for it (templates/_services.tpl).
			s.args = append(s.args, "--instance-namespaces="+strings.Join(opts.OperatorNamespaces, ","),
				"--watcher-cluster-role="+p.Release+"-instance-watcher", "--server-image-tag="+p.appVersion)
		}
		s.args = append(s.args, opts.Args[name]...)
		// Redis only reaches the services that have --redis-url. Every
		// ended incident of a scenario gets a PostMortem, whatever its
		// severity (--postmortem-all-ended of the postmortem-writer).
		s.env = append([]string{
			bootstrap.EnvName("redis-url") + "=" + p.Redis.URL,
			bootstrap.EnvName("postmortem-all-ended") + "=true",
		}, peerEnv...)
		s.env = append(s.env, opts.Env...)
	}
	return nil
}

func (s *Service) start() error {
	args := []string{"--health-probe-bind-address=" + s.ProbeAddr, "--metrics-bind-address=" + s.MetricsAddr}
	if s.GRPCAddr != "" {
		args = append(args, "--grpc-bind-address="+s.GRPCAddr)
	}
	if s.IncidentAPIAddr != "" {
		args = append(args, "--incident-api-bind-address="+s.IncidentAPIAddr)
	}
	if s.WebhookAddr != "" {
		args = append(args, "--webhook-bind-address="+s.WebhookAddr)
	}
	proc, err := cluster.StartProcess(s.Name, s.logDir, s.binary, s.env, append(args, s.args...)...)
	if err != nil {
		return err
	}
	s.Process = proc
	return nil
}

// AddReplica starts another replica of a running service: the same
// ServiceAccount, flags and peers, its own addresses and log
// (<name>-<n>.log). Its controllers stand by until the Lease is free.
func (p *Platform) AddReplica(ctx context.Context, name string) (*Service, error) {
	orig := p.Services[name]
	if orig == nil {
		return nil, fmt.Errorf("no service %s", name)
	}
	p.replicas[name]++
	r := *orig
	r.Name = fmt.Sprintf("%s-%d", name, p.replicas[name])
	r.Process = nil
	var err error
	for _, addr := range []*string{&r.ProbeAddr, &r.MetricsAddr} {
		if *addr, err = testenv.FreeAddr(); err != nil {
			return nil, err
		}
	}
	if r.GRPCAddr != "" {
		if r.GRPCAddr, err = testenv.FreeAddr(); err != nil {
			return nil, err
		}
	}
	if r.IncidentAPIAddr != "" {
		if r.IncidentAPIAddr, err = testenv.FreeAddr(); err != nil {
			return nil, err
		}
	}
	if r.WebhookAddr != "" {
		if r.WebhookAddr, err = testenv.FreeAddr(); err != nil {
			return nil, err
		}
	}
	if err := r.start(); err != nil {
		return nil, err
	}
	p.extra = append(p.extra, &r)
	if err := r.WaitReady(ctx, time.Minute); err != nil {
		return nil, err
	}
	return &r, nil
}

// Restart starts the service again after Stop or Kill, on the same
// addresses, and waits until it is ready.
func (s *Service) Restart(ctx context.Context) error {
	if done, _ := s.Process.Exited(); !done {
		return errors.New(s.Name + " is still running")
	}
	if err := s.start(); err != nil {
		return err
	}
	return s.WaitReady(ctx, time.Minute)
}

// WaitReady waits until /readyz answers 200.
func (s *Service) WaitReady(ctx context.Context, timeout time.Duration) error {
	url := "http://" + s.ProbeAddr + "/readyz"
	return s.Process.WaitFor(ctx, timeout, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New("readyz: " + resp.Status)
		}
		return nil
	})
}

// Stop ends every service and Redis. The cluster is the caller's to stop.
func (p *Platform) Stop() {
	if p == nil {
		return
	}
	for _, s := range p.extra {
		s.Process.Stop(15 * time.Second)
	}
	for i := len(Services) - 1; i >= 0; i-- {
		if s := p.Services[Services[i]]; s != nil && s.Process != nil {
			s.Process.Stop(15 * time.Second)
		}
	}
	p.Redis.Stop()
}

// Healthy reports an error naming a service or cluster process that has
// ended, with its log tail.
func (p *Platform) Healthy() error {
	var errs []error
	for _, name := range Services {
		if s := p.Services[name]; s != nil && s.Process != nil {
			if done, err := s.Process.Exited(); done {
				errs = append(errs, fmt.Errorf("%s exited (%v); log:\n%s", name, err, s.Process.LogTail(3000)))
			}
		}
	}
	return errors.Join(append(errs, p.Cluster.Healthy())...)
}

// NewAppNamespace creates a namespace the watcher-bridge watches.
func (p *Platform) NewAppNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{WatchLabel: "watched"}}}
	if err := p.Client.Create(ctx, ns); err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// Describe is a line per service: its addresses and log, for a demo's
// KEEP=1 report.
func (p *Platform) Describe() string {
	var b strings.Builder
	for _, name := range Services {
		s := p.Services[name]
		fmt.Fprintf(&b, "  %-18s grpc=%-21s readyz=http://%s/readyz log=%s\n", name, s.GRPCAddr, s.ProbeAddr, s.Process.LogPath)
	}
	return b.String()
}
