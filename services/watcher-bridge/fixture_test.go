package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chatcli/aiops/libs/testenv"
)

// fixture is what every test that runs the watcher-bridge binary needs:
// the binary built from this package, a PKI, a gRPC token file and a
// kubeconfig that acts as the watcher-bridge's ServiceAccount under the
// role its RBAC markers generate.
type fixture struct {
	dir, binary, tokenFile, kubeconfig string
	pki                                *testenv.PKI
	identity                           *testenv.ServiceIdentity
}

func newFixture(t *testing.T, grpcToken string) fixture {
	t.Helper()
	f := fixture{dir: t.TempDir()}
	f.binary = filepath.Join(f.dir, "watcher-bridge")
	if out, err := exec.Command("go", "build", "-o", f.binary, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var err error
	if f.pki, err = testenv.NewPKI(f.dir); err != nil {
		t.Fatal(err)
	}
	f.tokenFile = filepath.Join(f.dir, "token")
	if err := os.WriteFile(f.tokenFile, []byte(grpcToken), 0o600); err != nil {
		t.Fatal(err)
	}
	f.identity = env.AsService(t, "watcher-bridge", env.NewNamespace(t, "platform", nil))
	if f.kubeconfig, err = f.identity.WriteKubeconfig(); err != nil {
		t.Fatal(err)
	}
	return f
}

// args are the flags every process of a test shares: the API server, no
// leader election, and the gRPC server's TLS and token.
func (f fixture) args() []string {
	return []string{"--kubeconfig=" + f.kubeconfig, "--leader-elect=false",
		"--grpc-tls-cert-file=" + f.pki.Server.CertFile, "--grpc-tls-key-file=" + f.pki.Server.KeyFile,
		"--grpc-token-file=" + f.tokenFile}
}
