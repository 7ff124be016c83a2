package restapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"

	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/testenv"
	"github.com/chatcli/aiops/services/correlator/internal/incidents"
)

var env *testenv.Environment

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	testenv.Run(m, &env, testenv.Options{WithoutRedis: true})
}

// Keys of the tests' Secret, each at least MinKeyLength characters.
const (
	viewerKey   = "viewer-key-0123456789abcdef0123456789"
	operatorKey = "operator-key-0123456789abcdef01234567"
	adminKey    = "admin-key-0123456789abcdef0123456789ab"
	otherKey    = "other-operator-key-0123456789abcdef0123"
)

func keyLines(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

var defaultKeys = keyLines(
	"# people",
	"grafana:viewer:"+viewerKey,
	"oncall:operator:"+operatorKey,
	"root:admin:"+adminKey,
	"ci:operator:"+otherKey,
)

// options shape one test's API.
type options struct {
	origins []string
	rps     float64
	burst   int
	devMode bool
	keys    string
}

// api is the REST API as the correlator runs it: the incident server on a
// cache and a HandlerClient as the correlator's ServiceAccount, the keys
// from the Secret in the platform namespace (polled), TLS from a PKI, the
// audit to a file.
type api struct {
	url       string
	client    *http.Client
	auditPath string
	platform  string
	source    *KeySource
}

func start(t *testing.T, o options) *api {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	platform := env.NewNamespace(t, "platform", nil)
	id := env.AsService(t, "correlator", platform)
	c, err := cache.New(id.Config, cache.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{&platformv1alpha1.Issue{}, &platformv1alpha1.Anomaly{}, &platformv1alpha1.AIInsight{},
		&platformv1alpha1.RemediationPlan{}, &platformv1alpha1.PostMortem{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	direct, err := client.New(id.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := incidents.NewServer(incidents.Options{Cache: c, Writer: bootstrap.NoStatusWrites(direct), Fresh: direct})
	if err != nil {
		t.Fatal(err)
	}
	if o.keys == "" {
		o.keys = defaultKeys
	}
	if o.keys != "-" {
		writeSecret(t, platform, o.keys)
	}
	source := &KeySource{Reader: direct, Secret: client.ObjectKey{Namespace: platform, Name: DefaultSecretName}, Interval: 100 * time.Millisecond, Log: logr.Discard()}
	if err := source.Load(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { _ = source.Start(ctx) }()

	auditPath := t.TempDir() + "/audit.jsonl"
	auditFile, err := os.OpenFile(auditPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auditFile.Close() })
	if o.rps == 0 {
		o.rps, o.burst = 1000, 1000
	}
	h, err := NewHandler(Config{
		Incidents: srv, Keys: source, AllowedOrigins: o.origins, RateLimitRPS: o.rps, RateLimitBurst: o.burst,
		Audit: NewAuditor(auditFile), DevMode: o.devMode, Log: logr.Discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	pki, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig, err := grpcx.ServerTLSConfig(grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile}, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	rest, err := Listen("127.0.0.1:0", tlsConfig, h, logr.Discard(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = rest.Start(ctx) }()
	return &api{
		url:       "https://" + rest.Addr().String(),
		client:    httpsClient(pki.CertPool()),
		auditPath: auditPath,
		platform:  platform,
		source:    source,
	}
}

func httpsClient(roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13},
		// A new connection per request: the rate limit must hold across
		// connections.
		DisableKeepAlives: true,
	}}
}

func writeSecret(t *testing.T, ns, keys string) {
	t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: DefaultSecretName}}
	err := env.Client.Get(ctx, client.ObjectKeyFromObject(s), s)
	s.Data = map[string][]byte{SecretDataKey: []byte(keys)}
	if err != nil {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := env.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends one request; hdr holds extra headers ("Authorization" is set
// from key when key is not empty).
func (a *api) do(t *testing.T, method, path, key, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
	}
	return out
}

// auditLines returns the audit file's records.
func (a *api) auditLines(t *testing.T) ([]AccessRecord, string) {
	t.Helper()
	raw, err := os.ReadFile(a.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []AccessRecord
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if line == "" {
			continue
		}
		var r AccessRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line is not JSON: %q", line)
		}
		out = append(out, r)
	}
	return out, string(raw)
}

func newG(t *testing.T) *WithT {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	return g
}

func createIssue(t *testing.T, ns, name string, state platformv1alpha1.IssueState) *platformv1alpha1.Issue {
	t.Helper()
	issue := &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{platformv1alpha1.LabelIncidentID: "INC-20260216-" + name[len(name)-3:]}},
		Spec: platformv1alpha1.IssueSpec{
			Severity: platformv1alpha1.SeverityHigh, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalOOMKill,
			Resource: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "checkout"}, RiskScore: 70,
		},
	}
	ctx := context.Background()
	if err := env.Client.Create(ctx, issue); err != nil {
		t.Fatal(err)
	}
	issue.Status = platformv1alpha1.IssueStatus{State: state, MaxRemediationAttempts: 3}
	if err := env.Client.Status().Update(ctx, issue); err != nil {
		t.Fatal(err)
	}
	return issue
}

func storedIssue(g Gomega, ns, name string) *platformv1alpha1.Issue {
	issue := &platformv1alpha1.Issue{}
	g.ExpectWithOffset(1, env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, issue)).To(Succeed())
	return issue
}

func secretObject(ns string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: DefaultSecretName}}
}
