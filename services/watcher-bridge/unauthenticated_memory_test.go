package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chatcli/aiops/libs/grpcx"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

// TestUnauthenticatedCallsCostNoMemory sends 100 parallel 4 MiB
// IngestSignals calls with a wrong token to a running watcher-bridge. Each
// must be Unauthenticated, and since the token is checked before the body
// is read, the process's peak RSS must stay near where it was. Before that
// check moved into the tap handle, the same load took RSS from 66 to 975
// MiB.
func TestUnauthenticatedCallsCostNoMemory(t *testing.T) {
	const (
		calls       = 100
		connections = 10
		bodyBytes   = 4 << 20
		maxGrowth   = 150 << 20
	)
	g := NewWithT(t)
	fx := newFixture(t, "memory-test-token-of-32-bytes-or-more")
	ns := env.NewNamespace(t, "unauthenticated-memory", nil)
	w := startWatcher(t, fx, "memory", append(fx.args(), "--anomaly-namespace="+ns, "--watch-nodes=false")...)
	before := procStatusBytes(t, w.cmd.Process.Pid, "VmRSS")

	request := &watcherv1.IngestSignalsRequest{Signals: []*watcherv1.Signal{{
		SignalType: "oom_kill", Source: "watcher", Description: strings.Repeat("x", bodyBytes),
	}}}
	clients := make([]watcherv1.WatcherServiceClient, connections)
	for i := range clients {
		cc, err := grpcx.Dial(w.grpcAddr, grpcx.ClientConfig{CAFile: fx.pki.CAFile, Token: "wrong-token-of-32-bytes-or-more-too"})
		g.Expect(err).NotTo(HaveOccurred())
		t.Cleanup(func() { cc.Close() })
		clients[i] = watcherv1.NewWatcherServiceClient(cc)
	}
	codesSeen := make([]codes.Code, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := clients[i%connections].IngestSignals(ctx, request, grpc.MaxCallSendMsgSize(bodyBytes+1<<20))
			codesSeen[i] = status.Code(err)
		})
	}
	wg.Wait()

	for i, code := range codesSeen {
		g.Expect(code).To(Equal(codes.Unauthenticated), "call %d", i)
	}
	peak := procStatusBytes(t, w.cmd.Process.Pid, "VmHWM")
	t.Logf("RSS before %d MiB, peak after %d MiB", before>>20, peak>>20)
	g.Expect(peak-before).To(BeNumerically("<", maxGrowth),
		"100 unauthenticated 4 MiB calls grew the peak RSS from %d to %d MiB", before>>20, peak>>20)
	g.Expect(w.done).NotTo(BeClosed())
	w.stop(t)
}

// procStatusBytes reads a kB field (VmRSS, VmHWM) of /proc/<pid>/status.
func procStatusBytes(t *testing.T, pid int, field string) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("parse %s %q: %v", field, rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}
