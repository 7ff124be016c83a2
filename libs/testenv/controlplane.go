package testenv

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// The users of the API server's token file.
const (
	adminUser = "testenv-admin"
	// MetricsReaderUser may get the /metrics nonResourceURL, as the
	// chart's Prometheus scraper may.
	MetricsReaderUser = "testenv-metrics-reader"
	// UnprivilegedUser is authenticated and allowed nothing.
	UnprivilegedUser = "testenv-unprivileged"
)

// controlPlane is etcd plus kube-apiserver with RBAC, token authentication
// and service-account keys, on loopback.
type controlPlane struct {
	etcd      *process
	apiserver *process
	admin     *rest.Config
	// tokens are the bearer tokens of the token file's users.
	tokens map[string]string
}

func startControlPlane(ctx context.Context, bins, dir string) (*controlPlane, error) {
	etcdBin, err := binary(bins, "etcd")
	if err != nil {
		return nil, err
	}
	apiserverBin, err := binary(bins, "kube-apiserver")
	if err != nil {
		return nil, err
	}
	cp := &controlPlane{}
	etcdURL, err := cp.startEtcd(ctx, etcdBin, dir)
	if err != nil {
		return nil, err
	}
	if err := cp.startAPIServer(ctx, apiserverBin, dir, etcdURL); err != nil {
		cp.stop()
		return nil, err
	}
	return cp, nil
}

func (cp *controlPlane) startEtcd(ctx context.Context, bin, dir string) (string, error) {
	var lastErr error
	for range 3 {
		clientPort, err := freePort()
		if err != nil {
			return "", err
		}
		peerPort, err := freePort()
		if err != nil {
			return "", err
		}
		clientURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
		peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
		dataDir := filepath.Join(dir, "etcd-data")
		_ = os.RemoveAll(dataDir)
		p, err := startProcess("etcd", dir, bin,
			"--name=testenv",
			"--data-dir="+dataDir,
			"--listen-client-urls="+clientURL,
			"--advertise-client-urls="+clientURL,
			"--listen-peer-urls="+peerURL,
			"--initial-advertise-peer-urls="+peerURL,
			"--initial-cluster=testenv="+peerURL,
			"--unsafe-no-fsync",
			"--log-level=warn",
		)
		if err != nil {
			return "", err
		}
		lastErr = p.waitFor(ctx, 30*time.Second, func(ctx context.Context) error {
			return httpOK(ctx, http.DefaultClient, clientURL+"/health", "")
		})
		if lastErr == nil {
			cp.etcd = p
			return clientURL, nil
		}
		p.stop(time.Second)
	}
	return "", fmt.Errorf("start etcd: %w", lastErr)
}

func (cp *controlPlane) startAPIServer(ctx context.Context, bin, dir, etcdURL string) error {
	certDir := filepath.Join(dir, "certs")
	saKey := filepath.Join(dir, "sa.key")
	tokens := filepath.Join(dir, "tokens.csv")
	if err := writeServiceAccountKey(saKey); err != nil {
		return err
	}
	cp.tokens = map[string]string{}
	var lines strings.Builder
	for _, user := range []string{adminUser, MetricsReaderUser, UnprivilegedUser} {
		token, err := randomToken()
		if err != nil {
			return err
		}
		cp.tokens[user] = token
		groups := ""
		if user == adminUser {
			groups = ",system:masters"
		}
		fmt.Fprintf(&lines, "%s,%s,%s%s\n", token, user, user, groups)
	}
	token := cp.tokens[adminUser]
	if err := os.WriteFile(tokens, []byte(lines.String()), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return err
		}
		p, err := startProcess("kube-apiserver", dir, bin,
			"--etcd-servers="+etcdURL,
			"--bind-address=127.0.0.1",
			"--secure-port="+strconv.Itoa(port),
			"--cert-dir="+certDir,
			"--service-account-issuer=https://kubernetes.default.svc",
			"--service-account-key-file="+saKey,
			"--service-account-signing-key-file="+saKey,
			"--token-auth-file="+tokens,
			"--authorization-mode=RBAC",
			"--service-cluster-ip-range=10.0.0.0/24",
			"--allow-privileged=true",
			// No controller-manager runs in tests, so no default
			// ServiceAccount exists for pods to reference.
			"--disable-admission-plugins=ServiceAccount",
			"--v=0",
		)
		if err != nil {
			return err
		}
		host := "https://127.0.0.1:" + strconv.Itoa(port)
		readyz := func(ctx context.Context) error {
			caData, err := os.ReadFile(filepath.Join(certDir, "apiserver.crt"))
			if err != nil {
				return fmt.Errorf("read serving certificate: %w", err)
			}
			cfg := &rest.Config{Host: host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: caData}}
			client, err := rest.HTTPClientFor(cfg)
			if err != nil {
				return fmt.Errorf("build client: %w", err)
			}
			if err := httpOK(ctx, client, host+"/readyz", token); err != nil {
				return err
			}
			cp.admin = cfg
			return nil
		}
		lastErr = p.waitFor(ctx, 60*time.Second, readyz)
		if lastErr == nil {
			cp.apiserver = p
			cp.admin.QPS = 200
			cp.admin.Burst = 400
			return nil
		}
		p.stop(time.Second)
	}
	return fmt.Errorf("start kube-apiserver: %w", lastErr)
}

func (cp *controlPlane) stop() {
	cp.apiserver.stop(10 * time.Second)
	cp.etcd.stop(10 * time.Second)
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
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
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
