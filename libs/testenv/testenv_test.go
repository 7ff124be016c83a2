package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

var env *Environment

const childEnv = "TESTENV_ORPHAN_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runOrphanChild()
		return
	}
	Run(m, &env, Options{})
}

// runOrphanChild starts an Environment, prints the pids it owns, and blocks
// until it is killed.
func runOrphanChild() {
	started, err := Start(context.Background(), Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("pids", started.pids())
	select {}
}

func (e *Environment) pids() string {
	var pids []string
	for _, p := range []*process{e.controlPlane.etcd, e.controlPlane.apiserver, e.Redis.proc} {
		if p != nil {
			pids = append(pids, strconv.Itoa(p.cmd.Process.Pid))
		}
	}
	return strings.Join(pids, ",")
}

func TestServiceAccountImpersonationFollowsRBAC(t *testing.T) {
	ctx := context.Background()
	const sa = "correlator"
	ns := env.NewNamespace(t, "rbac-proof", nil)
	if err := env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns}}); err != nil {
		t.Fatalf("create ServiceAccount: %v", err)
	}
	asSA, err := env.ClientFor(ns, sa)
	if err != nil {
		t.Fatal(err)
	}
	if err := asSA.List(ctx, &platformv1alpha1.AnomalyList{}, client.InNamespace(ns)); !apierrors.IsForbidden(err) {
		t.Fatalf("list anomalies without a Role: got %v, want Forbidden", err)
	}

	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "read-anomalies", Namespace: ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"platform.chatcli.io"}, Resources: []string{"anomalies"}, Verbs: []string{"list"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "read-anomalies", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("create %T: %v", obj, err)
		}
	}
	// RBAC changes reach the authorizer through an informer.
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		return asSA.List(ctx, &platformv1alpha1.AnomalyList{}, client.InNamespace(ns)) == nil, nil
	})
	if err != nil {
		t.Fatalf("list anomalies with a Role never succeeded: %v", err)
	}
	if err := asSA.Delete(ctx, &platformv1alpha1.Anomaly{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: ns}}); !apierrors.IsForbidden(err) {
		t.Fatalf("delete without the verb: got %v, want Forbidden", err)
	}
}

func TestRedisAnswers(t *testing.T) {
	if err := env.Redis.ping(context.Background(), env.Redis.Addr); err != nil {
		t.Fatalf("ping %s: %v", env.Redis.Addr, err)
	}
}

// TestNoProcessOutlivesAKilledTestBinary kills a test binary that holds a
// whole Environment with SIGKILL, which runs no cleanup, and checks that
// etcd, kube-apiserver and redis-server die with it.
func TestNoProcessOutlivesAKilledTestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second control plane")
	}
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"=1")
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "pids ") {
		t.Fatalf("child did not report its pids: %q %v", line, err)
	}
	var pids []int
	for _, field := range strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "pids ")), ",") {
		pid, err := strconv.Atoi(field)
		if err != nil {
			t.Fatalf("bad pid %q", field)
		}
		pids = append(pids, pid)
	}
	if len(pids) != 3 {
		t.Fatalf("want etcd, kube-apiserver and redis pids, got %v", pids)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	err = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		for _, pid := range pids {
			if alive(pid) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		for _, pid := range pids {
			if alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("process %d outlived the killed test binary", pid)
			}
		}
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}
