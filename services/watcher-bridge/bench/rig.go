package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/testenv"
)

// benchLabel marks the namespaces the watcher-bridge watches entirely.
const benchLabel = "chatcli.io/bench"

// rig is a control plane, Redis and a watcher-bridge process.
type rig struct {
	env         *testenv.Environment
	kube        *kubernetes.Clientset
	cmd         *exec.Cmd
	grpc        *grpc.ClientConn
	metricsAddr string
	dir         string
	binary      string
	token       string
	pki         *testenv.PKI
	kubeconfig  string
}

func startRig(ctx context.Context, binary string) (*rig, error) {
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("watcher-bridge binary: %w (run make build)", err)
	}
	env, err := testenv.Start(ctx, testenv.Options{})
	if err != nil {
		return nil, err
	}
	r := &rig{env: env, binary: binary}
	if err := r.startWatcher(ctx, nil); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

// startWatcher starts a watcher-bridge process with extra environment
// variables; the first call also prepares the files and namespaces.
func (r *rig) startWatcher(ctx context.Context, extraEnv []string) error {
	if r.dir == "" {
		if err := r.prepare(ctx); err != nil {
			return err
		}
	}
	pki, kubeconfig, token := r.pki, r.kubeconfig, r.token
	tokenFile := filepath.Join(r.dir, "token")
	grpcAddr, probeAddr, metricsAddr := freeAddr(), freeAddr(), freeAddr()
	r.metricsAddr = metricsAddr
	logFile, err := os.Create(filepath.Join(r.dir, "watcher-bridge.log"))
	if err != nil {
		return err
	}
	r.cmd = exec.Command(r.binary,
		"--kubeconfig="+kubeconfig, "--leader-elect=false",
		"--namespace-selector="+benchLabel+"=true", "--anomaly-namespace=chatcli-system",
		"--grpc-bind-address="+grpcAddr, "--health-probe-bind-address="+probeAddr, "--metrics-bind-address="+metricsAddr,
		// The bench reads its gauges over plain HTTP on loopback.
		"--metrics-secure=false",
		"--grpc-tls-cert-file="+pki.Server.CertFile, "--grpc-tls-key-file="+pki.Server.KeyFile, "--grpc-token-file="+tokenFile,
		// One bench client is one peer; the per-peer limit protects a
		// production server from a runaway tool, not what is measured here.
		"--grpc-rate-limit-rps=1000000", "--grpc-rate-limit-burst=1000000",
		// Likewise the hourly budget of outside Anomalies per namespace:
		// the throughput run creates one per distinct fault.
		"--external-anomaly-budget=1000000",
		"--redis-url="+r.env.Redis.URL, "--webhook-bind-address=", "--log-level=error",
		"--pprof-bind-address="+os.Getenv("BENCH_PPROF_ADDRESS"),
	)
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	r.cmd.Env = append(os.Environ(), extraEnv...)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		resp, err := http.Get("http://" + probeAddr + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("watcher-bridge not ready (log in %s): %w", r.dir, err)
	}
	r.grpc, err = grpcx.Dial(grpcAddr, grpcx.ClientConfig{CAFile: pki.CAFile, Token: token})
	return err
}

func (r *rig) prepare(ctx context.Context) error {
	var err error
	if r.dir, err = os.MkdirTemp("", "watcher-bench-"); err != nil {
		return err
	}
	if r.kube, err = kubernetes.NewForConfig(r.env.Config); err != nil {
		return err
	}
	if _, err := r.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "chatcli-system"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if r.pki, err = testenv.NewPKI(r.dir); err != nil {
		return err
	}
	r.token = "bench-token-of-32-bytes-or-more-too"
	if err := os.WriteFile(filepath.Join(r.dir, "token"), []byte(r.token), 0o600); err != nil {
		return err
	}
	r.kubeconfig, err = r.env.WriteKubeconfig()
	return err
}

// stopWatcher ends the watcher-bridge process.
func (r *rig) stopWatcher() {
	if r.grpc != nil {
		_ = r.grpc.Close()
		r.grpc = nil
	}
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

func (r *rig) stop() {
	r.stopWatcher()
	r.env.Stop()
	if r.dir != "" {
		_ = os.RemoveAll(r.dir)
	}
}

// watchedNamespace creates a namespace the watcher-bridge watches entirely.
func (r *rig) watchedNamespace(ctx context.Context, name string) error {
	_, err := r.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{benchLabel: "true"},
	}}, metav1.CreateOptions{})
	return err
}

// metric reads one sample of the watcher-bridge's /metrics.
func (r *rig) metric(name string) (float64, error) {
	resp, err := http.Get("http://" + r.metricsAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	scanner := bufio.NewScanner(resp.Body)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, name+" ") {
			return strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, name)), 64)
		}
	}
	return 0, nil
}

// residency is the watcher-bridge's resident memory: anonymous pages (heap,
// stacks) and file pages (the binary's own code and data, clean and
// reclaimable).
type residency struct{ total, anon, file, peak int64 }

// rss reads the watcher-bridge's resident memory.
func (r *rig) rss() (residency, error) {
	var res residency
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		return res, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			res.total = kb << 10
		case "VmHWM:":
			res.peak = kb << 10
		case "RssAnon:":
			res.anon = kb << 10
		case "RssFile:":
			res.file = kb << 10
		}
	}
	return res, nil
}

func freeAddr() string {
	addr, err := testenv.FreeAddr()
	if err != nil {
		panic(err)
	}
	return addr
}
