package chatcli

import (
	"context"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc/metadata"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/signals"
	"github.com/chatcli/aiops/libs/testenv"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

// Test timing: loops tick every testInterval; waitFor is a safety net for
// Eventually, not something the tests measure.
const (
	testInterval = "200ms"
	waitFor      = 30 * time.Second
	pollEvery    = 20 * time.Millisecond
)

// alertServer is a real chatcli.v1 server on 127.0.0.1, built with
// grpcx.NewServer (TLS 1.3 and bearer-token auth), that answers GetAlerts
// with canned alerts.
type alertServer struct {
	chatcliv1.UnimplementedChatCLIServiceServer
	addr   string
	alerts []*chatcliv1.WatcherAlert

	// calls counts GetAlerts calls that passed authentication.
	calls atomic.Int64
	mu    sync.Mutex
	auth  map[string]bool
}

func startAlertServer(t *testing.T, pki *testenv.PKI, token string, alerts ...*chatcliv1.WatcherAlert) *alertServer {
	t.Helper()
	s := &alertServer{alerts: alerts, auth: make(map[string]bool)}
	srv, err := grpcx.NewServer(grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, Token: token})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	chatcliv1.RegisterChatCLIServiceServer(srv, s)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	s.addr = lis.Addr().String()
	return s
}

func (s *alertServer) GetAlerts(ctx context.Context, _ *chatcliv1.GetAlertsRequest) (*chatcliv1.GetAlertsResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	for _, v := range md.Get("authorization") {
		s.auth[v] = true
	}
	s.mu.Unlock()
	s.calls.Add(1)
	return &chatcliv1.GetAlertsResponse{Alerts: s.alerts}, nil
}

// endpoint is the status.endpoint that points an Instance at s.
func (s *alertServer) endpoint() string { return "dns:///" + s.addr }

func (s *alertServer) count() int64 { return s.calls.Load() }

// authorizations are the distinct authorization headers s has seen.
func (s *alertServer) authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for v := range s.auth {
		out = append(out, v)
	}
	return out
}

// restartAlert is a HighRestartCount alert about Deployment shop/<deploy>.
func restartAlert(deploy string) *chatcliv1.WatcherAlert {
	return &chatcliv1.WatcherAlert{
		Type: "HighRestartCount", Severity: "high", Message: "container app restarted 8 times",
		Object: "pod/" + deploy + "-7d9f-x2", Namespace: "shop", Deployment: deploy, TimestampUnix: time.Now().Unix(),
	}
}

// recordingSink keeps what it is given. fail makes Ingest return an error.
type recordingSink struct {
	fail atomic.Bool
	mu   sync.Mutex
	seen map[string]bool
}

func newRecordingSink() *recordingSink { return &recordingSink{seen: make(map[string]bool)} }

func (s *recordingSink) Ingest(_ context.Context, batch []signals.Signal) ([]signals.IngestResult, error) {
	if s.fail.Load() {
		return nil, context.DeadlineExceeded
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	results := make([]signals.IngestResult, len(batch))
	for i, sig := range batch {
		s.seen[sig.Labels[LabelInstance]+" "+string(sig.Type)+" "+sig.Resource.String()] = true
		results[i] = signals.IngestResult{Status: signals.IngestCreated}
	}
	return results, nil
}

// has reports whether a signal about res came from the Instance named key.
func (s *recordingSink) has(key, signalType, res string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[key+" "+signalType+" "+res]
}

// harness is a namespace, a PKI, and a Poller run by a real manager whose
// cache sees only that namespace.
type harness struct {
	t      *testing.T
	ns     string
	pki    *testenv.PKI
	caPEM  []byte
	sink   *recordingSink
	poller *Poller
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	ns := env.NewNamespace(t, "poller", nil)
	pki, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatalf("NewPKI: %v", err)
	}
	// The poller acts as the watcher-bridge's ServiceAccount under its
	// generated role, which may read Secrets only in Instance namespaces.
	wb := env.AsService(t, "watcher-bridge", env.NewNamespace(t, "platform", nil), ns)
	mgr, err := manager.New(wb.Config, manager.Options{
		Scheme:  env.Scheme,
		Logger:  logr.Discard(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
	})
	if err != nil {
		t.Fatalf("create manager: %v", err)
	}
	h := &harness{t: t, ns: ns, pki: pki, sink: newRecordingSink()}
	h.caPEM = h.readFile(pki.CAFile)
	h.poller, err = New(Config{
		Cache:           mgr.GetCache(),
		APIReader:       mgr.GetAPIReader(),
		Sink:            h.sink,
		Logger:          testr.New(t),
		Registerer:      prometheus.NewRegistry(),
		DefaultInterval: time.Second,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := h.poller.SetupWithManager(mgr); err != nil {
		t.Fatalf("SetupWithManager: %v", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return h
}

// key is the instance label of the Instance name in the harness namespace.
func (h *harness) key(name string) string { return h.ns + "/" + name }

// secret creates a Secret that the Instance named instance may use; an
// empty instance leaves it unlabelled, so no Instance may.
func (h *harness) secret(name, instance string, data map[string][]byte) {
	h.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}, Data: data}
	if instance != "" {
		s.Labels = map[string]string{platformv1alpha1.LabelInstance: instance}
	}
	if err := env.Client.Create(context.Background(), s); err != nil {
		h.t.Fatalf("create Secret %s: %v", name, err)
	}
}

// instance creates an Instance with TLS, a token Secret holding token and
// an enabled watcher polling every testInterval; mutate changes the spec
// before it is created. Ready and endpoint then go into its status, as
// the instance-operator would write them.
func (h *harness) instance(name, token string, ready bool, endpoint string, mutate func(*platformv1alpha1.Instance)) *platformv1alpha1.Instance {
	h.t.Helper()
	h.secret(name+"-tls", name, map[string][]byte{"ca.crt": h.caPEM, "tls.crt": h.readFile(h.pki.Server.CertFile), "tls.key": h.readFile(h.pki.Server.KeyFile)})
	h.secret(name+"-token", name, map[string][]byte{"token": []byte(token + "\n")})
	inst := &platformv1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns},
		Spec: platformv1alpha1.InstanceSpec{
			Provider: platformv1alpha1.ProviderBuiltin,
			Server: platformv1alpha1.ServerSpec{
				TLS:   &platformv1alpha1.TLSSpec{Enabled: true, SecretName: name + "-tls"},
				Token: &platformv1alpha1.TokenSecretReference{Name: name + "-token"},
			},
			// The test servers report alerts about namespace shop.
			Watcher: &platformv1alpha1.WatcherSpec{Enabled: true, Interval: testInterval,
				Targets: []platformv1alpha1.WatchTarget{{Name: "api", Namespace: "shop"}}},
		},
	}
	if mutate != nil {
		mutate(inst)
	}
	if err := env.Client.Create(context.Background(), inst); err != nil {
		h.t.Fatalf("create Instance %s: %v", name, err)
	}
	h.setStatus(inst, ready, endpoint)
	return inst
}

// setStatus writes the Ready condition and endpoint through the status
// subresource.
func (h *harness) setStatus(inst *platformv1alpha1.Instance, ready bool, endpoint string) {
	h.t.Helper()
	cond := metav1.Condition{Type: platformv1alpha1.InstanceReadyCondition, Status: metav1.ConditionTrue,
		Reason: platformv1alpha1.InstanceAvailableReason, Message: "Server is available"}
	if !ready {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, platformv1alpha1.InstanceProgressingReason, "Server is starting"
	}
	meta.SetStatusCondition(&inst.Status.Conditions, cond)
	inst.Status.Endpoint = endpoint
	if err := env.Client.Status().Update(context.Background(), inst); err != nil {
		h.t.Fatalf("update status of Instance %s: %v", inst.Name, err)
	}
}

func (h *harness) readFile(path string) []byte {
	h.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatal(err)
	}
	return data
}

// polls reads the polls counter of an Instance for one result.
func (h *harness) polls(name, result string) float64 {
	return counterValue(h.t, h.poller.metrics.polls, h.key(name), result)
}

func counterValue(t *testing.T, c *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.WithLabelValues(labels...).Write(&m); err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return m.GetCounter().GetValue()
}
