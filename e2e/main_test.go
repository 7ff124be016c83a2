package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/chatcli/aiops/e2e/cluster"
	"github.com/chatcli/aiops/e2e/platform"
	"github.com/chatcli/aiops/libs/testenv"
)

// RequireFullLoopEnv, when set to 1, makes every step of the remediation
// loop mandatory (Resolved, the healing action, healthy pods, a
// PostMortem). Unset, the scenarios assert fault → Anomaly → Issue and
// skip the later steps with a message that names where the incident
// stopped, so they grow as the correlator, analyzer, remediator and
// postmortem-writer land.
const RequireFullLoopEnv = "E2E_REQUIRE_FULL_LOOP"

var (
	env      *platform.Platform
	watchful client.WithWatch
	dumpOnce sync.Once
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start the cluster: %v\n", err)
		return 1
	}
	defer c.Stop()
	fmt.Fprintf(os.Stderr, "e2e: cluster ready in %s (%s)\n", c.Timings["total"].Round(time.Millisecond), timings(c.Timings))
	env, err = platform.Start(ctx, c, platform.Options{
		InstanceNamespaces: []string{agenticNamespace, injectionNamespace, seedWatchNamespace},
		OperatorNamespaces: []string{agenticNamespace, injectionNamespace},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start the platform: %v\n", err)
		c.WriteLogs(os.Stderr, 6000)
		return 1
	}
	defer env.Stop()
	fmt.Fprintf(os.Stderr, "e2e: platform ready (%s)\n", timings(env.Timings))
	if watchful, err = client.NewWithWatch(c.Config, client.Options{Scheme: testenv.NewScheme()}); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	return m.Run()
}

func timings(m map[string]time.Duration) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+" "+v.Round(time.Millisecond).String())
	}
	return strings.Join(parts, ", ")
}

// newNamespace makes a watched namespace for one test and, when the test
// fails, prints every process's log once.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000)
	if err := env.NewAppNamespace(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpOnce.Do(func() { env.Cluster.WriteLogs(os.Stderr, 30000) })
		}
		// Crash-looping pods keep kwok busy: remove them.
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		_ = env.Client.Delete(context.Background(), ns)
	})
	return name
}
