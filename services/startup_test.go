package services_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/testenv"
	analyzerv1 "github.com/chatcli/aiops/proto/chatcli/platform/analyzer/v1"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
	postmortemv1 "github.com/chatcli/aiops/proto/chatcli/platform/postmortem/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{}) }

// serviceAPIs declares what each service needs, as its bootstrap.Service
// does (the declarations live in internal packages this test cannot
// import), and calls one RPC of each service's API with the code it must
// answer: Unimplemented until a service's own issue lands, and the real
// answer to a bad request after that. Either proves the API is registered
// behind TLS and auth.
var serviceAPIs = map[string]struct {
	grpc  bool
	redis bootstrap.RedisPolicy
	call  func(context.Context, *grpc.ClientConn) error
	want  codes.Code
}{
	"instance-operator": {redis: bootstrap.RedisUnused},
	"watcher-bridge": {
		grpc: true, redis: bootstrap.RedisDegraded,
		call: func(ctx context.Context, cc *grpc.ClientConn) error {
			_, err := watcherv1.NewWatcherServiceClient(cc).InvalidateDedup(ctx, &watcherv1.InvalidateDedupRequest{})
			return err
		},
		want: codes.InvalidArgument,
	},
	"correlator": {
		grpc: true, redis: bootstrap.RedisDegraded,
		call: func(ctx context.Context, cc *grpc.ClientConn) error {
			_, err := correlatorv1.NewCorrelatorServiceClient(cc).ListIncidents(ctx, &correlatorv1.ListIncidentsRequest{})
			return err
		},
		want: codes.OK,
	},
	"analyzer": {
		grpc: true, redis: bootstrap.RedisDegraded,
		call: func(ctx context.Context, cc *grpc.ClientConn) error {
			_, err := analyzerv1.NewAnalyzerServiceClient(cc).SummarizeIncident(ctx, &analyzerv1.SummarizeIncidentRequest{})
			return err
		},
		want: codes.InvalidArgument, // an empty request names no issue
	},
	"remediator": {
		grpc: true, redis: bootstrap.RedisRequired,
		call: func(ctx context.Context, cc *grpc.ClientConn) error {
			_, err := remediatorv1.NewRemediatorServiceClient(cc).ListActions(ctx, &remediatorv1.ListActionsRequest{})
			return err
		},
		want: codes.OK,
	},
	"postmortem-writer": {
		grpc: true, redis: bootstrap.RedisUnused,
		call: func(ctx context.Context, cc *grpc.ClientConn) error {
			_, err := postmortemv1.NewPostMortemServiceClient(cc).GetPostMortem(ctx, &postmortemv1.GetPostMortemRequest{})
			return err
		},
		want: codes.InvalidArgument,
	},
}

// servicePeers are the peers each service calls over gRPC; each needs its
// --<peer>-* flags.
var servicePeers = map[string][]string{
	"correlator": {"remediator", "watcher"},
}

// peerFlags points a service's peers at an address nothing listens on:
// the clients connect lazily, so the service starts, and a call fails
// with Unavailable.
func peerFlags(t *testing.T, service, caFile, tokenFile string) []string {
	var args []string
	for _, peer := range servicePeers[service] {
		args = append(args, "--"+peer+"-address="+freeAddr(t), "--"+peer+"-ca-file="+caFile, "--"+peer+"-token-file="+tokenFile)
	}
	return args
}

// serviceArgs are the flags only one service has.
func serviceArgs(t *testing.T, name, dir string) []string {
	if name == "watcher-bridge" {
		webhookToken := filepath.Join(dir, "webhook-token")
		if err := os.WriteFile(webhookToken, []byte("alertmanager-token-of-32-bytes-or-more\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{"--webhook-bind-address=" + freeAddr(t), "--webhook-token-file=" + webhookToken, "--anomaly-namespace=chatcli-system"}
	}
	if name == "correlator" {
		incidentAPIAddr = freeAddr(t)
		return []string{"--incident-api-bind-address=" + incidentAPIAddr}
	}
	return nil
}

// incidentAPIAddr is the correlator's REST listener in
// testAllStartAndStopCleanly.
var incidentAPIAddr string

// checkIncidentAPI checks that the correlator's REST API speaks TLS with
// the gRPC certificate and refuses a caller without a key: its key Secret
// does not exist.
func checkIncidentAPI(t *testing.T, roots *x509.CertPool) {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}}}
	resp, err := hc.Get("https://" + incidentAPIAddr + "/api/v1/incidents")
	if err != nil {
		t.Fatalf("incident REST API: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("incident REST API without a key: %d, want 401", resp.StatusCode)
	}
}

// TestServices builds the six binaries once and runs the checks that need
// them.
func TestServices(t *testing.T) {
	bins := t.TempDir()
	cmd := exec.Command("go", "build", "-o", bins+"/", "github.com/chatcli/aiops/services/...")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build services: %v\n%s", err, output)
	}
	t.Run("HelpDocumentsEveryFlag", func(t *testing.T) { testHelpDocumentsEveryFlag(t, bins) })
	t.Run("AllStartAndStopCleanly", func(t *testing.T) { testAllStartAndStopCleanly(t, bins) })
	t.Run("RedisPolicyDrivesReadiness", func(t *testing.T) { testRedisPolicyDrivesReadiness(t, bins) })
}

// testAllStartAndStopCleanly runs the six binaries against a real API
// server and Redis, waits until each is ready, leads its Lease and serves
// gRPC health, then sends SIGTERM and checks each exits 0 within 10 s.
func testAllStartAndStopCleanly(t *testing.T, bins string) {
	ctx := context.Background()
	dir := t.TempDir()
	pki, err := testenv.NewPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	const token = "startup-test-token-of-32-bytes-or-more"
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	leaseNamespace := env.NewNamespace(t, "chatcli-system", nil)

	running := map[string]*runningService{}
	for name, decl := range serviceAPIs {
		// Each service acts as its own ServiceAccount under the role its
		// RBAC markers generate, so a missing permission fails here.
		kubeconfig, err := env.AsService(t, name, leaseNamespace).WriteKubeconfig()
		if err != nil {
			t.Fatal(err)
		}
		args := append(append(serviceArgs(t, name, dir), peerFlags(t, name, pki.CAFile, tokenFile)...),
			"--kubeconfig="+kubeconfig,
			"--leader-election-namespace="+leaseNamespace,
			"--log-format=console",
		)
		if decl.grpc {
			args = append(args, "--grpc-tls-cert-file="+pki.Server.CertFile, "--grpc-tls-key-file="+pki.Server.KeyFile, "--grpc-token-file="+tokenFile)
		}
		if decl.redis != bootstrap.RedisUnused {
			args = append(args, "--redis-url="+env.Redis.URL)
		}
		running[name] = startService(t, bins, name, dir, decl.grpc, args...)
	}

	for name, svc := range running {
		t.Run(name+"/ready", func(t *testing.T) {
			svc.waitReady(t)
			waitLeader(t, leaseNamespace, "chatcli-"+name)
			if !serviceAPIs[name].grpc {
				// No gRPC certificate to reuse: controller-runtime's
				// self-signed one, which no client can verify.
				checkMetricsAuth(t, svc, nil, "rest_client_requests_total")
				return
			}

			cc, err := grpcx.Dial(svc.grpcAddr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: token})
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			resp, err := healthpb.NewHealthClient(cc).Check(callCtx, &healthpb.HealthCheckRequest{})
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("gRPC health: %v %v", resp.GetStatus(), err)
			}
			if api := serviceAPIs[name]; api.call != nil {
				if err := api.call(callCtx, cc); status.Code(err) != api.want {
					t.Fatalf("service API: got %v, want %s", err, api.want)
				}
			}
			if name == "correlator" {
				checkIncidentAPI(t, pki.CertPool())
			}
			// /metrics reuses the gRPC certificate, so the PKI's CA verifies it.
			checkMetricsAuth(t, svc, pki.CertPool(), "chatcli_grpc_server_handled_total")
		})
	}

	for name, svc := range running {
		t.Run(name+"/stop", func(t *testing.T) {
			if err := syscall.Kill(svc.cmd.Process.Pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-svc.done:
				if code := svc.cmd.ProcessState.ExitCode(); code != 0 {
					t.Fatalf("exit code %d; log:\n%s", code, svc.logTail())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("did not exit within 10s of SIGTERM; log:\n%s", svc.logTail())
			}
		})
	}
}

// testHelpDocumentsEveryFlag checks that --help names every shared flag
// and the environment variable that sets it.
func testHelpDocumentsEveryFlag(t *testing.T, bins string) {
	for name, decl := range serviceAPIs {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(filepath.Join(bins, name), "--help").CombinedOutput()
			if err != nil {
				t.Fatalf("--help: %v\n%s", err, out)
			}
			opts := bootstrap.DefaultOptions(name)
			fs := flag.NewFlagSet(name, flag.ContinueOnError)
			opts.AddFlags(fs, bootstrap.Service{Name: name, GRPC: decl.grpc, Redis: decl.redis})
			fs.VisitAll(func(f *flag.Flag) {
				for _, want := range []string{"-" + f.Name, bootstrap.EnvName(f.Name)} {
					if !strings.Contains(string(out), want) {
						t.Errorf("--help does not mention %s", want)
					}
				}
			})
		})
	}
}

type runningService struct {
	name                             string
	cmd                              *exec.Cmd
	logPath                          string
	grpcAddr, probeAddr, metricsAddr string
	done                             chan struct{}
}

func startService(t *testing.T, bins, name, dir string, grpc bool, args ...string) *runningService {
	t.Helper()
	svc := &runningService{name: name, logPath: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	svc.probeAddr, svc.metricsAddr = freeAddr(t), freeAddr(t)
	args = append(args,
		"--health-probe-bind-address="+svc.probeAddr,
		"--metrics-bind-address="+svc.metricsAddr,
	)
	if grpc {
		svc.grpcAddr = freeAddr(t)
		args = append(args, "--grpc-bind-address="+svc.grpcAddr)
	}
	logFile, err := os.Create(svc.logPath)
	if err != nil {
		t.Fatal(err)
	}
	svc.cmd = exec.Command(filepath.Join(bins, name), args...)
	svc.cmd.Stdout, svc.cmd.Stderr = logFile, logFile
	svc.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := svc.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = svc.cmd.Wait()
		logFile.Close()
		close(svc.done)
	}()
	t.Cleanup(func() {
		_ = svc.cmd.Process.Kill()
		<-svc.done
	})
	return svc
}

func (s *runningService) waitReady(t *testing.T) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case <-s.done:
			return false, fmt.Errorf("%s exited", s.name)
		default:
		}
		return s.readyz() == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("%s not ready: %v; log:\n%s", s.name, err, s.logTail())
	}
}

// readyz is the status code of /readyz, 0 when it does not answer.
func (s *runningService) readyz() int {
	resp, err := http.Get("http://" + s.probeAddr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkMetricsAuth checks that /metrics speaks TLS 1.3 only and lets in
// only a caller the API server authenticates and allows get on /metrics.
// roots verifies the certificate; nil skips verification, for the
// self-signed default.
func checkMetricsAuth(t *testing.T, svc *runningService, roots *x509.CertPool, wantMetric string) {
	t.Helper()
	// The metrics server may start listening just after /readyz is green.
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		conn, err := net.Dial("tcp", svc.metricsAddr)
		if err != nil {
			return false, nil
		}
		return true, conn.Close()
	})
	if err != nil {
		t.Fatalf("/metrics never listened: %v", err)
	}
	tests := map[string]struct {
		token      string
		wantStatus int
	}{
		"no token":     {wantStatus: http.StatusUnauthorized},
		"unprivileged": {token: env.Tokens[testenv.UnprivilegedUser], wantStatus: http.StatusForbidden},
		"reader":       {token: env.Tokens[testenv.MetricsReaderUser], wantStatus: http.StatusOK},
		// controller-runtime's filter answers 500 here (the TokenReview
		// carries an error); what matters is that nothing leaks.
		"wrong token": {token: "not-a-token-the-api-server-knows"},
	}
	for name, tc := range tests {
		status, body := svc.scrape(t, roots, tc.token)
		switch {
		case tc.wantStatus == 0 && status == http.StatusOK:
			t.Errorf("/metrics with %s: status 200, want a refusal", name)
		case tc.wantStatus != 0 && status != tc.wantStatus:
			t.Errorf("/metrics with %s: status %d, want %d", name, status, tc.wantStatus)
		}
		if got, want := strings.Contains(body, wantMetric), status == http.StatusOK; got != want || (want && status != tc.wantStatus) {
			t.Errorf("/metrics with %s: status %d, body has %s: %v", name, status, wantMetric, got)
		}
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, InsecureSkipVerify: roots == nil, MaxVersion: tls.VersionTLS12}}} //nolint:gosec // the test checks TLS 1.2 is refused
	if resp, err := old.Get("https://" + svc.metricsAddr + "/metrics"); err == nil {
		resp.Body.Close()
		t.Errorf("/metrics accepted TLS 1.2")
	}
}

// scrape GETs /metrics over HTTPS with a bearer token (none when empty)
// and returns the status code and body.
func (s *runningService) scrape(t *testing.T, roots *x509.CertPool, token string) (int, string) {
	t.Helper()
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots, InsecureSkipVerify: roots == nil} //nolint:gosec // self-signed default
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	req, err := http.NewRequest(http.MethodGet, "https://"+s.metricsAddr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	return resp.StatusCode, string(body)
}

func (s *runningService) logTail() string {
	data, _ := os.ReadFile(s.logPath)
	if len(data) > 6000 {
		data = data[len(data)-6000:]
	}
	return string(data)
}

func waitLeader(t *testing.T, namespace, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		lease := &coordinationv1.Lease{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, lease); err != nil {
			return false, nil
		}
		return lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "", nil
	})
	if err != nil {
		t.Fatalf("Lease %s/%s has no holder: %v", namespace, name, err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// testRedisPolicyDrivesReadiness points a service of each Redis policy at
// a Redis that does not answer: the remediator, which cannot lock without
// it, stays unready and says why; the correlator, which degrades, is ready;
// the remediator refuses to start with no --redis-url at all, and the
// correlator with a URL that turns off TLS verification.
func testRedisPolicyDrivesReadiness(t *testing.T, bins string) {
	dir := t.TempDir()
	pki, err := testenv.NewPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("redis-policy-test-token-of-32-bytes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := env.WriteKubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"--kubeconfig=" + kubeconfig, "--leader-elect=false", "--log-format=console",
		"--grpc-tls-cert-file=" + pki.Server.CertFile, "--grpc-tls-key-file=" + pki.Server.KeyFile, "--grpc-token-file=" + tokenFile}
	deadRedis := "--redis-url=redis://" + freeAddr(t)

	out, err := exec.Command(filepath.Join(bins, "remediator"), common...).CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "--redis-url is required") {
		t.Fatalf("remediator without --redis-url: exit %d, output:\n%s", code, out)
	}

	out, err = exec.Command(filepath.Join(bins, "correlator"), append(append(common, "--redis-url=rediss://127.0.0.1:6380?skip_verify=true"), peerFlags(t, "correlator", pki.CAFile, tokenFile)...)...).CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "skip_verify is refused") {
		t.Fatalf("correlator with skip_verify: exit %d, output:\n%s", code, out)
	}

	correlator := startService(t, bins, "correlator", dir, true, append(append(common, deadRedis, "--incident-api-bind-address=0"), peerFlags(t, "correlator", pki.CAFile, tokenFile)...)...)
	correlator.waitReady(t)

	remediator := startService(t, bins, "remediator", dir, true, append(common, deadRedis)...)
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get("http://" + remediator.probeAddr + "/readyz/redis")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusInternalServerError, nil
	})
	if err != nil {
		t.Fatalf("remediator's /readyz/redis never reported the dead Redis: %v; log:\n%s", err, remediator.logTail())
	}
	if code := remediator.readyz(); code == http.StatusOK {
		t.Fatalf("remediator ready without Redis")
	}
}

func exitCode(err error) int {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
