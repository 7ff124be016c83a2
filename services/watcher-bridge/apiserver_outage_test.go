package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/chatcli/aiops/libs/grpcx"
)

// TestLeaderRidesOutAnAPIServerOutage cuts a leading watcher-bridge off
// its API server for longer than controller-runtime's default renew
// deadline (10 s) but shorter than the platform's (30 s). The process must
// not exit, must become ready and serve gRPC health again, and must still
// hold its Lease, renewed after the outage.
func TestLeaderRidesOutAnAPIServerOutage(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const token = "apiserver-outage-token-of-32-bytes"
	fx := newFixture(t, token)
	proxy := startCutProxy(t, env.APIServerAddr())
	kubeconfig, err := fx.identity.WriteKubeconfigVia("https://" + proxy.addr)
	g.Expect(err).NotTo(HaveOccurred())

	ns := env.NewNamespace(t, "apiserver-outage", map[string]string{"aiops-apiserver-outage": "watched"})
	// Later flags win: through the proxy, and leader-elected.
	w := startWatcher(t, fx, "leader", append(fx.args(),
		"--kubeconfig="+kubeconfig, "--leader-elect=true", "--leader-election-namespace="+fx.identity.Namespace,
		"--namespace-selector=aiops-apiserver-outage=watched", "--anomaly-namespace="+ns, "--watch-nodes=false")...)

	// lease is nil until the process has created it.
	lease := func() *coordinationv1.Lease {
		l := &coordinationv1.Lease{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: fx.identity.Namespace, Name: "chatcli-watcher-bridge"}, l); err != nil {
			return nil
		}
		return l
	}
	holder := func() string {
		if l := lease(); l != nil && l.Spec.HolderIdentity != nil {
			return *l.Spec.HolderIdentity
		}
		return ""
	}
	g.Eventually(holder).WithTimeout(30 * time.Second).ShouldNot(BeEmpty())
	leader := holder()

	proxy.cut()
	time.Sleep(12 * time.Second) // the outage itself, not an assertion
	g.Expect(w.done).NotTo(BeClosed(), "the leader exited during a 12 s outage")
	proxy.restore(t)
	restored := time.Now()

	g.Eventually(func() bool {
		l := lease()
		return l != nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(restored)
	}).WithTimeout(30*time.Second).Should(BeTrue(), "the Lease was not renewed after the outage")
	g.Expect(holder()).To(Equal(leader), "the leader lost its Lease")
	g.Expect(w.done).NotTo(BeClosed())

	g.Eventually(func() int {
		resp, err := http.Get("http://" + w.probe + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}).WithTimeout(30 * time.Second).Should(Equal(http.StatusOK))
	cc, err := grpcx.Dial(w.grpcAddr, grpcx.ClientConfig{CAFile: fx.pki.CAFile, Token: token})
	g.Expect(err).NotTo(HaveOccurred())
	defer cc.Close()
	g.Eventually(func() healthpb.HealthCheckResponse_ServingStatus {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		resp, err := healthpb.NewHealthClient(cc).Check(callCtx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return healthpb.HealthCheckResponse_UNKNOWN
		}
		return resp.GetStatus()
	}).WithTimeout(30 * time.Second).Should(Equal(healthpb.HealthCheckResponse_SERVING))
	w.stop(t)
}

// cutProxy forwards TCP to the API server until cut, which closes the
// listener and every connection, as a network partition would; restore
// listens again on the same port.
type cutProxy struct {
	target, addr string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(conn)
		}
	}()
}

func (p *cutProxy) forward(in net.Conn) {
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		in.Close()
		return
	}
	if !p.track(in, out) {
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	in.Close()
	out.Close()
}

// track registers both ends, or closes them when the proxy is cut.
func (p *cutProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *cutProxy) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}
