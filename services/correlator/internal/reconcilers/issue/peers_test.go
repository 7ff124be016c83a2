package issue

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/testenv"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

const peerToken = "issue-lifecycle-test-token-of-32-bytes"

// peers are an in-test remediator and watcher-bridge, served over TLS on
// loopback. The remediator checks the order ProposePlan's contract asks
// for (the attempt is stored before the call) and creates the plan as the
// real one names and owns it; the test then plays the plan's execution by
// writing its status. The watcher-bridge checks that the Issue is Resolved
// in the API server when it is told to forget the dedup keys.
type peers struct {
	remediator *fakeRemediator
	watcher    *fakeWatcher
	remConn    *grpc.ClientConn
	watchConn  *grpc.ClientConn
	// writes, when set, records the reconciler's Issue status writes.
	writes *testenv.StatusWrites
}

func startPeers(t testing.TB) *peers {
	t.Helper()
	pki, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcx.NewServer(grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, Token: peerToken})
	if err != nil {
		t.Fatal(err)
	}
	p := &peers{
		remediator: &fakeRemediator{calls: map[string]int{}, refuse: map[string]error{}},
		watcher:    &fakeWatcher{},
	}
	remediatorv1.RegisterRemediatorServiceServer(srv, p.remediator)
	watcherv1.RegisterWatcherServiceServer(srv, p.watcher)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	dial := func() *grpc.ClientConn {
		conn, err := grpcx.Dial(lis.Addr().String(), grpcx.ClientConfig{CAFile: pki.CAFile, Token: peerToken})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	p.remConn, p.watchConn = dial(), dial()
	return p
}

type fakeRemediator struct {
	remediatorv1.UnimplementedRemediatorServiceServer
	mu         sync.Mutex
	calls      map[string]int   // per issue/attempt
	refuse     map[string]error // per issue name
	violations []string
	requests   []*remediatorv1.ProposePlanRequest
}

func (f *fakeRemediator) ProposePlan(ctx context.Context, req *remediatorv1.ProposePlanRequest) (*remediatorv1.ProposePlanResponse, error) {
	f.mu.Lock()
	f.calls[fmt.Sprintf("%s/%d", req.GetIssue().GetName(), req.GetAttempt())]++
	f.requests = append(f.requests, req)
	refusal := f.refuse[req.GetIssue().GetName()]
	f.mu.Unlock()

	issue := &platformv1alpha1.Issue{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: req.GetIssue().GetNamespace(), Name: req.GetIssue().GetName()}, issue); err != nil {
		return nil, grpcx.Error(codes.NotFound, grpcx.ReasonResourceGone, err.Error(), nil)
	}
	if issue.Status.State != platformv1alpha1.IssueRemediating || issue.Status.RemediationAttempts != req.GetAttempt() || string(issue.UID) != req.GetIssueUid() {
		f.violate(fmt.Sprintf("ProposePlan(%s, %d) before the attempt was stored: state %s, attempts %d", issue.Name, req.GetAttempt(), issue.Status.State, issue.Status.RemediationAttempts))
		return nil, grpcx.Error(codes.FailedPrecondition, grpcx.ReasonIssueNotRemediating, "not remediating", nil)
	}
	if req.GetInsightName() != InsightName(issue.Name, req.GetAttempt()) {
		f.violate("ProposePlan names insight " + req.GetInsightName())
	}
	if refusal != nil {
		return nil, refusal
	}
	plan := &platformv1alpha1.RemediationPlan{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: issue.Namespace, Name: fmt.Sprintf("%s-plan-%d", issue.Name, req.GetAttempt()),
			Labels: map[string]string{platformv1alpha1.LabelIssue: issue.Name},
		},
		Spec: platformv1alpha1.RemediationPlanSpec{
			IssueRef: platformv1alpha1.LocalObjectReference{Name: issue.Name}, Attempt: req.GetAttempt(),
			Strategy: fmt.Sprintf("attempt %d", req.GetAttempt()),
			Actions:  []platformv1alpha1.RemediationAction{{Type: platformv1alpha1.ActionRestartDeployment}},
		},
	}
	if err := controllerutil.SetControllerReference(issue, plan, env.Scheme); err != nil {
		return nil, err
	}
	created := true
	if err := env.Client.Create(ctx, plan); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
		created = false
	}
	return &remediatorv1.ProposePlanResponse{Created: created, Plan: &remediatorv1.Plan{
		Name: plan.Name, Namespace: plan.Namespace, Attempt: req.GetAttempt(), Source: remediatorv1.PlanSource_PLAN_SOURCE_AI_ACTIONS,
		Strategy: plan.Spec.Strategy, Actions: []*commonv1.Action{{Type: string(platformv1alpha1.ActionRestartDeployment)}},
	}}, nil
}

func (f *fakeRemediator) violate(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.violations = append(f.violations, msg)
}

func (f *fakeRemediator) snapshot() (map[string]int, []string, []*remediatorv1.ProposePlanRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := map[string]int{}
	for k, v := range f.calls {
		calls[k] = v
	}
	return calls, append([]string(nil), f.violations...), append([]*remediatorv1.ProposePlanRequest(nil), f.requests...)
}

func (f *fakeRemediator) refuseIssue(name string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse[name] = err
}

type fakeWatcher struct {
	watcherv1.UnimplementedWatcherServiceServer
	mu         sync.Mutex
	calls      []*commonv1.ResourceRef
	violations []string
	failNext   int
}

func (f *fakeWatcher) InvalidateDedup(ctx context.Context, req *watcherv1.InvalidateDedupRequest) (*watcherv1.InvalidateDedupResponse, error) {
	f.mu.Lock()
	if f.failNext > 0 {
		f.failNext--
		f.mu.Unlock()
		return nil, grpcx.Error(codes.Unavailable, grpcx.ReasonRedisUnavailable, "redis is down", nil)
	}
	f.calls = append(f.calls, req.GetResource())
	f.mu.Unlock()
	// The recurrence contract: the Issue of this resource is Resolved in
	// the API server before its dedup keys go.
	list := &platformv1alpha1.IssueList{}
	if err := env.Client.List(ctx, list, client.InNamespace(req.GetResource().GetNamespace())); err != nil {
		return nil, err
	}
	resolved := false
	for _, i := range list.Items {
		if i.Spec.Resource.Name == req.GetResource().GetName() && i.Status.State == platformv1alpha1.IssueResolved {
			resolved = true
		}
	}
	if !resolved {
		f.mu.Lock()
		f.violations = append(f.violations, "InvalidateDedup before Resolved was stored for "+req.GetResource().GetName())
		f.mu.Unlock()
	}
	return &watcherv1.InvalidateDedupResponse{KeysCleared: 3}, nil
}

func (f *fakeWatcher) snapshot() ([]*commonv1.ResourceRef, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*commonv1.ResourceRef(nil), f.calls...), append([]string(nil), f.violations...)
}

// releasedIn are the calls for resources of one namespace: the reconciler
// of a test also ends the Issues other tests left in the API server.
func (f *fakeWatcher) releasedIn(ns string) []*commonv1.ResourceRef {
	calls, _ := f.snapshot()
	var out []*commonv1.ResourceRef
	for _, c := range calls {
		if c.GetNamespace() == ns {
			out = append(out, c)
		}
	}
	return out
}
