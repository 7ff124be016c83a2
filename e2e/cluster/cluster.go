// Package cluster runs a local Kubernetes cluster from real control-plane
// binaries on loopback: etcd, kube-apiserver (RBAC, TokenRequest),
// kube-controller-manager (so Deployments get ReplicaSets and Pods, and node
// lifecycle lifts the not-ready taint), kube-scheduler, and kwok for fake
// nodes whose pods a kubelet-like status writer moves through stages. Faults
// are kwok stages that match on the pod spec (stages/fault-*.yaml), plus any
// stage files named in CHATCLI_KWOK_EXTRA_STAGES, so only the right fix heals
// them.
package cluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/chatcli/aiops/libs/testenv"
)

// ExtraStagesEnv lists kwok Stage files (separated by the OS path list
// separator, ':' on Linux) loaded after the built-in stages, so a user can
// model a fault of their own without code.
const ExtraStagesEnv = "CHATCLI_KWOK_EXTRA_STAGES"

// FakeNodeAnnotation marks the nodes kwok manages.
const FakeNodeAnnotation = "kwok.x-k8s.io/node"

// stages are kwok's node-initialize, node-heartbeat and pod-fast stages
// (Apache-2.0, from sigs.k8s.io/kwok v0.8.0 kustomize/stage) and the
// platform's fault stages.
//
//go:embed stages/*.yaml
var stages embed.FS

// Options choose what Start runs.
type Options struct {
	// Dir holds the data, certificates, kubeconfigs and logs; empty makes
	// a temporary directory that Stop removes (unless KEEP is set).
	Dir string
	// Nodes is the number of fake nodes; 0 means 2.
	Nodes int
	// ExtraStages are stage files loaded after the built-in ones and the
	// ones in $CHATCLI_KWOK_EXTRA_STAGES.
	ExtraStages []string
}

// Cluster is a running local cluster.
type Cluster struct {
	// Dir holds every file of the cluster; logs are <Dir>/logs/<process>.log.
	Dir string
	// LogDir holds one log per process.
	LogDir string
	// Kubeconfig is an admin (system:masters) kubeconfig file.
	Kubeconfig string
	// Config is the admin rest.Config.
	Config *rest.Config
	// Clientset is an admin clientset.
	Clientset kubernetes.Interface
	// Timings of the start, for reports.
	Timings map[string]time.Duration
	// KeepFiles stops Stop from removing a temporary Dir, so the logs of
	// a failed run stay for reading.
	KeepFiles bool

	ownDir    bool
	processes []*Process
}

// Start runs the cluster and returns once its fake nodes are Ready and
// schedulable. On error everything started is stopped.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Nodes == 0 {
		opts.Nodes = 2
	}
	c := &Cluster{Dir: opts.Dir, Timings: map[string]time.Duration{}}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "chatcli-e2e-"); err != nil {
			return nil, fmt.Errorf("create cluster directory: %w", err)
		}
		c.ownDir = true
	}
	c.LogDir = filepath.Join(c.Dir, "logs")
	if err := os.MkdirAll(c.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w (logs in %s)", err, c.LogDir)
			c.Stop()
		}
	}()
	bins := map[string]string{}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if bins[name], err = Binary(name); err != nil {
			return nil, err
		}
	}
	begin := time.Now()
	etcdURL, err := c.startEtcd(ctx, bins["etcd"])
	if err != nil {
		return nil, err
	}
	c.Timings["etcd"] = time.Since(begin)
	step := time.Now()
	saKey := filepath.Join(c.Dir, "sa.key")
	if err := writeServiceAccountKey(saKey); err != nil {
		return nil, err
	}
	if err := c.startAPIServer(ctx, bins["kube-apiserver"], etcdURL, saKey); err != nil {
		return nil, err
	}
	c.Timings["kube-apiserver"] = time.Since(step)
	step = time.Now()
	if err := c.startControllers(bins, saKey, append(extraStagesFromEnv(), opts.ExtraStages...)); err != nil {
		return nil, err
	}
	if err := c.createNodes(ctx, opts.Nodes); err != nil {
		return nil, err
	}
	c.Timings["nodes ready"] = time.Since(step)
	c.Timings["total"] = time.Since(begin)
	return c, nil
}

func (c *Cluster) startEtcd(ctx context.Context, bin string) (string, error) {
	var lastErr error
	for range 3 {
		client, err := testenv.FreeAddr()
		if err != nil {
			return "", err
		}
		peer, err := testenv.FreeAddr()
		if err != nil {
			return "", err
		}
		clientURL, peerURL := "http://"+client, "http://"+peer
		dataDir := filepath.Join(c.Dir, "etcd-data")
		_ = os.RemoveAll(dataDir)
		p, err := StartProcess("etcd", c.LogDir, bin, nil,
			"--name=e2e", "--data-dir="+dataDir,
			"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
			"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
			"--initial-cluster=e2e="+peerURL, "--unsafe-no-fsync", "--log-level=warn")
		if err != nil {
			return "", err
		}
		lastErr = p.WaitFor(ctx, 30*time.Second, func(ctx context.Context) error {
			return httpOK(ctx, http.DefaultClient, clientURL+"/health", "")
		})
		if lastErr == nil {
			c.processes = append(c.processes, p)
			return clientURL, nil
		}
		p.Stop(time.Second)
	}
	return "", fmt.Errorf("start etcd: %w", lastErr)
}

func (c *Cluster) startAPIServer(ctx context.Context, bin, etcdURL, saKey string) error {
	certDir := filepath.Join(c.Dir, "certs")
	token, err := randomToken()
	if err != nil {
		return err
	}
	tokens := filepath.Join(c.Dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+",e2e-admin,e2e-admin,system:masters\n"), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	var lastErr error
	for range 3 {
		addr, err := testenv.FreeAddr()
		if err != nil {
			return err
		}
		_, port, _ := net.SplitHostPort(addr)
		p, err := StartProcess("kube-apiserver", c.LogDir, bin, nil,
			"--etcd-servers="+etcdURL,
			"--bind-address=127.0.0.1", "--secure-port="+port, "--cert-dir="+certDir,
			"--service-account-issuer=https://kubernetes.default.svc",
			"--service-account-key-file="+saKey, "--service-account-signing-key-file="+saKey,
			"--token-auth-file="+tokens,
			"--authorization-mode=RBAC",
			"--service-cluster-ip-range=10.0.0.0/24",
			"--allow-privileged=true",
			"--v=0")
		if err != nil {
			return err
		}
		host := "https://" + addr
		lastErr = p.WaitFor(ctx, 90*time.Second, func(ctx context.Context) error {
			caData, err := os.ReadFile(filepath.Join(certDir, "apiserver.crt"))
			if err != nil {
				return fmt.Errorf("read serving certificate: %w", err)
			}
			cfg := &rest.Config{Host: host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: caData}, QPS: 200, Burst: 400}
			client, err := rest.HTTPClientFor(cfg)
			if err != nil {
				return fmt.Errorf("build client: %w", err)
			}
			if err := httpOK(ctx, client, host+"/readyz", token); err != nil {
				return err
			}
			c.Config = cfg
			return nil
		})
		if lastErr == nil {
			c.processes = append(c.processes, p)
			if c.Clientset, err = kubernetes.NewForConfig(c.Config); err != nil {
				return fmt.Errorf("create clientset: %w", err)
			}
			c.Kubeconfig = filepath.Join(c.Dir, "admin.kubeconfig")
			return WriteKubeconfig(c.Kubeconfig, c.Config.Host, c.Config.CAData, token)
		}
		p.Stop(time.Second)
	}
	return fmt.Errorf("start kube-apiserver: %w", lastErr)
}

// startControllers starts kube-controller-manager, kube-scheduler and
// kwok. None serves a port (--secure-port=0), so readiness shows in the
// nodes: node lifecycle lifts their not-ready taint once kwok heartbeats.
func (c *Cluster) startControllers(bins map[string]string, saKey string, extraStages []string) error {
	kc := c.Kubeconfig
	common := []string{"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc, "--leader-elect=false", "--secure-port=0"}
	kcm, err := StartProcess("kube-controller-manager", c.LogDir, bins["kube-controller-manager"], nil, append(common,
		"--controllers=*,-nodeipam",
		"--service-account-private-key-file="+saKey,
		"--root-ca-file="+filepath.Join(c.Dir, "certs", "apiserver.crt"),
		"--use-service-account-credentials=false",
		// A quick rollout history: ReplicaSets and pods are removed fast.
		"--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10")...)
	if err != nil {
		return err
	}
	c.processes = append(c.processes, kcm)
	scheduler, err := StartProcess("kube-scheduler", c.LogDir, bins["kube-scheduler"], nil, common...)
	if err != nil {
		return err
	}
	c.processes = append(c.processes, scheduler)
	stageFile := filepath.Join(c.Dir, "kwok-stages.yaml")
	if err := writeStages(stageFile, extraStages); err != nil {
		return err
	}
	kwok, err := StartProcess("kwok", c.LogDir, bins["kwok"], nil,
		"--kubeconfig="+kc, "--config="+stageFile,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+FakeNodeAnnotation+"=fake",
		"--cidr=10.0.0.1/24", "--node-ip=10.0.0.1")
	if err != nil {
		return err
	}
	c.processes = append(c.processes, kwok)
	return nil
}

// writeStages concatenates the built-in stages and the extra stage files
// into one multi-document file for kwok's --config.
func writeStages(path string, extra []string) error {
	var docs []string
	entries, err := stages.ReadDir("stages")
	if err != nil {
		return fmt.Errorf("list built-in stages: %w", err)
	}
	for _, e := range entries {
		data, err := stages.ReadFile("stages/" + e.Name())
		if err != nil {
			return fmt.Errorf("read built-in stage %s: %w", e.Name(), err)
		}
		docs = append(docs, string(data))
	}
	for _, file := range extra {
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("read extra stage file (%s): %w", ExtraStagesEnv, err)
		}
		docs = append(docs, string(data))
	}
	if err := os.WriteFile(path, []byte(strings.Join(docs, "\n---\n")), 0o644); err != nil {
		return fmt.Errorf("write kwok stages: %w", err)
	}
	return nil
}

func extraStagesFromEnv() []string {
	var files []string
	for _, f := range filepath.SplitList(os.Getenv(ExtraStagesEnv)) {
		if f = strings.TrimSpace(f); f != "" {
			files = append(files, f)
		}
	}
	return files
}

// createNodes creates n fake nodes and waits until each is Ready without
// the not-ready taint, which node lifecycle removes.
func (c *Cluster) createNodes(ctx context.Context, n int) error {
	quantity := func(s string) resource.Quantity { return resource.MustParse(s) }
	capacity := corev1.ResourceList{corev1.ResourceCPU: quantity("32"), corev1.ResourceMemory: quantity("256Gi"), corev1.ResourcePods: quantity("110")}
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{FakeNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels:      map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok"},
			},
			Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
		}
		if _, err := c.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s: %w", name, err)
		}
	}
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := c.exitedProcess(); err != nil {
			return false, err
		}
		nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		ready := 0
		for _, node := range nodes.Items {
			if nodeSchedulable(&node) {
				ready++
			}
		}
		last = fmt.Sprintf("%d of %d nodes ready and untainted", ready, n)
		return ready == n, nil
	})
	if err != nil {
		return fmt.Errorf("wait for fake nodes: %s: %w", last, err)
	}
	return nil
}

func nodeSchedulable(node *corev1.Node) bool {
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return false
		}
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// exitedProcess returns an error naming the first cluster process that
// has ended, with its log tail.
func (c *Cluster) exitedProcess() error {
	for _, p := range c.processes {
		if done, err := p.Exited(); done {
			return fmt.Errorf("%s exited (%v); log:\n%s", p.Name, err, p.LogTail(4000))
		}
	}
	return nil
}

// Healthy reports an error when a cluster process has ended.
func (c *Cluster) Healthy() error { return c.exitedProcess() }

// Processes are the cluster's processes, in start order.
func (c *Cluster) Processes() []*Process { return c.processes }

// Stop ends the processes in reverse start order and removes the cluster's
// temporary directory unless KEEP is set.
func (c *Cluster) Stop() {
	if c == nil {
		return
	}
	for i := len(c.processes) - 1; i >= 0; i-- {
		c.processes[i].Stop(10 * time.Second)
	}
	c.processes = nil
	if c.ownDir && !c.KeepFiles && os.Getenv("KEEP") == "" {
		_ = os.RemoveAll(c.Dir)
	}
}

// WriteLogs writes the tail of every log under LogDir (the cluster's and
// any the harness started there), for a failing test's report.
func (c *Cluster) WriteLogs(w io.Writer, maxPerLog int) {
	entries, err := os.ReadDir(c.LogDir)
	if err != nil {
		fmt.Fprintf(w, "read logs: %v\n", err)
		return
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(c.LogDir, e.Name()))
		if err != nil {
			continue
		}
		if len(data) > maxPerLog {
			data = data[len(data)-maxPerLog:]
		}
		fmt.Fprintf(w, "===== %s (last %d bytes) =====\n%s\n", e.Name(), len(data), data)
	}
}

// ServiceAccountKubeconfig requests a token for a ServiceAccount
// (TokenRequest, valid for a day) and writes a kubeconfig carrying it, so a
// process acts exactly as that ServiceAccount.
func (c *Cluster) ServiceAccountKubeconfig(ctx context.Context, namespace, name, path string) error {
	expiry := int64(24 * 3600)
	tr, err := c.Clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("request a token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return WriteKubeconfig(path, c.Config.Host, c.Config.CAData, tr.Status.Token)
}

// WriteKubeconfig writes a kubeconfig for host with a bearer token.
func WriteKubeconfig(path, host string, caData []byte, token string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["e2e"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: caData}
	kc.AuthInfos["e2e"] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "e2e"}
	kc.CurrentContext = "e2e"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

func httpOK(ctx context.Context, client *http.Client, url, token string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("GET " + url + ": " + resp.Status)
	}
	return nil
}

func writeServiceAccountKey(path string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generate service-account key: %w", err)
	}
	block := &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return fmt.Errorf("write service-account key: %w", err)
	}
	return nil
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
