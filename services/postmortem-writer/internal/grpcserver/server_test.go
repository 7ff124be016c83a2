package grpcserver_test

import (
	"context"
	"net"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/grpcx"
	"github.com/chatcli/aiops/libs/testenv"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	postmortemv1 "github.com/chatcli/aiops/proto/chatcli/platform/postmortem/v1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/grpcserver"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/incidenttest"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/reconcilers/issue"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/reconcilers/postmortem"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/report"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

const token = "postmortem-service-test-token-32-bytes"

// start runs the writer's controllers and PostMortemService, as the
// service's ServiceAccount, and returns a client of the service. The
// handlers get a client that refuses status writes, as in production.
func start(t *testing.T) postmortemv1.PostMortemServiceClient {
	t.Helper()
	id := env.AsService(t, "postmortem-writer", env.NewNamespace(t, "platform", nil))
	mgr, err := ctrl.NewManager(id.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	scrub, err := report.NewScrub(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&issue.Reconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if err := (&postmortem.Reconciler{Client: mgr.GetClient(), Scrub: scrub, Now: time.Now}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	pki, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcx.NewServer(grpcx.ServerConfig{CertFile: pki.Server.CertFile, KeyFile: pki.Server.KeyFile, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	postmortemv1.RegisterPostMortemServiceServer(srv.Server, &grpcserver.Server{Client: bootstrap.NoStatusWrites(mgr.GetClient()), Reader: mgr.GetAPIReader(), Now: time.Now})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpcx.Dial(lis.Addr().String(), grpcx.ClientConfig{CAFile: pki.CAFile, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return postmortemv1.NewPostMortemServiceClient(conn)
}

func byIssue(ns, name string) *postmortemv1.PostMortemRef {
	return &postmortemv1.PostMortemRef{Ref: &postmortemv1.PostMortemRef_Issue{Issue: &commonv1.ObjectRef{Namespace: ns, Name: name}}}
}

func stored(g Gomega, ns, issueName string) *platformv1alpha1.PostMortem {
	pm := &platformv1alpha1.PostMortem{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: report.PostMortemName(issueName)}, pm)).To(Succeed())
	return pm
}

func TestPostMortemService(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	api := start(t)
	ns := env.NewNamespace(t, "reports", nil)
	t0 := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	for _, name := range []string{"gw-a", "gw-b", "gw-c"} {
		g.Expect(incidenttest.Create(ctx, env.Client, incidenttest.AgenticResolution(ns, name, t0))).To(Succeed())
	}
	for _, name := range []string{"gw-a", "gw-b", "gw-c"} {
		g.Eventually(func(g Gomega) {
			g.Expect(meta.IsStatusConditionTrue(stored(g, ns, name).Status.Conditions, platformv1alpha1.PostMortemReadyCondition)).To(BeTrue())
		}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	}

	t.Run("Get", func(t *testing.T) {
		g := NewWithT(t)
		resp, err := api.GetPostMortem(ctx, &postmortemv1.GetPostMortemRequest{Ref: byIssue(ns, "gw-a")})
		g.Expect(err).NotTo(HaveOccurred())
		pm := resp.GetPostMortem()
		g.Expect(pm.GetName()).To(Equal("pm-gw-a"))
		g.Expect(pm.GetReady()).To(BeTrue())
		g.Expect(pm.GetState()).To(Equal(postmortemv1.PostMortemState_POST_MORTEM_STATE_OPEN))
		g.Expect(pm.GetSummary()).To(Equal(incidenttest.AgenticSummary))
		g.Expect(pm.GetDuration()).To(Equal("10m0s"))
		g.Expect(pm.GetPlanNames()).To(Equal([]string{"gw-a-plan-1", "gw-a-plan-2"}))
		g.Expect(pm.GetInsightName()).To(Equal("gw-a-insight-2"))
		g.Expect(pm.GetSignalType()).To(Equal("oom_kill"))
		g.Expect(pm.GetTimeline()).To(HaveLen(len(stored(g, ns, "gw-a").Status.Timeline)))

		for name, tc := range map[string]struct {
			ref  *postmortemv1.PostMortemRef
			want codes.Code
		}{
			"NoRef":   {nil, codes.InvalidArgument},
			"NoName":  {byIssue(ns, ""), codes.InvalidArgument},
			"Missing": {byIssue(ns, "nope"), codes.NotFound},
		} {
			_, err := api.GetPostMortem(ctx, &postmortemv1.GetPostMortemRequest{Ref: tc.ref})
			g.Expect(status.Code(err)).To(Equal(tc.want), name)
		}
	})

	t.Run("Render", func(t *testing.T) {
		g := NewWithT(t)
		resp, err := api.RenderPostMortem(ctx, &postmortemv1.RenderPostMortemRequest{Ref: byIssue(ns, "gw-b")})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.GetMarkdown()).To(ContainSubstring("| Time | Event | Attempt | Object | Detail |"))
		g.Expect(resp.GetMarkdown()).NotTo(ContainSubstring(incidenttest.PlantedAWSKey))
	})

	t.Run("List", func(t *testing.T) {
		g := NewWithT(t)
		count := func(req *postmortemv1.ListPostMortemsRequest) int {
			req.Namespace = ns
			resp, err := api.ListPostMortems(ctx, req)
			g.Expect(err).NotTo(HaveOccurred())
			return len(resp.GetPostMortems())
		}
		g.Expect(count(&postmortemv1.ListPostMortemsRequest{})).To(Equal(3))
		g.Expect(count(&postmortemv1.ListPostMortemsRequest{IssueName: "gw-b"})).To(Equal(1))
		g.Expect(count(&postmortemv1.ListPostMortemsRequest{Severity: "high", SignalType: "oom_kill", ResourceKind: "Deployment", ResourceName: "api-gateway"})).To(Equal(3))
		g.Expect(count(&postmortemv1.ListPostMortemsRequest{Severity: "low"})).To(Equal(0))
		g.Expect(count(&postmortemv1.ListPostMortemsRequest{State: postmortemv1.PostMortemState_POST_MORTEM_STATE_CLOSED})).To(Equal(0))
		_, err := api.ListPostMortems(ctx, &postmortemv1.ListPostMortemsRequest{Severity: "severe"})
		g.Expect(status.Code(err)).To(Equal(codes.InvalidArgument))

		page, err := api.ListPostMortems(ctx, &postmortemv1.ListPostMortemsRequest{Namespace: ns, PageSize: 2})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(page.GetPostMortems()).To(HaveLen(2))
		g.Expect(page.GetNextPageToken()).NotTo(BeEmpty())
		rest, err := api.ListPostMortems(ctx, &postmortemv1.ListPostMortemsRequest{Namespace: ns, PageSize: 2, PageToken: page.GetNextPageToken()})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(rest.GetPostMortems()).To(HaveLen(1))
		g.Expect(rest.GetNextPageToken()).To(BeEmpty())
	})

	t.Run("Transition", func(t *testing.T) {
		g := NewWithT(t)
		transition := func(state postmortemv1.PostMortemState, actor, note string) error {
			_, err := api.TransitionPostMortem(ctx, &postmortemv1.TransitionPostMortemRequest{Ref: byIssue(ns, "gw-c"), State: state, Actor: actor, Note: note})
			return err
		}
		err := transition(postmortemv1.PostMortemState_POST_MORTEM_STATE_CLOSED, "", "")
		g.Expect(status.Code(err)).To(Equal(codes.FailedPrecondition), "Open cannot skip the review")
		g.Expect(grpcx.Reason(err)).To(Equal(grpcserver.ReasonReviewTransitionRefused))
		g.Expect(status.Code(transition(postmortemv1.PostMortemState_POST_MORTEM_STATE_UNSPECIFIED, "", ""))).To(Equal(codes.InvalidArgument))

		g.Expect(transition(postmortemv1.PostMortemState_POST_MORTEM_STATE_IN_REVIEW, "alice@example.com", "first look")).To(Succeed())
		g.Expect(transition(postmortemv1.PostMortemState_POST_MORTEM_STATE_IN_REVIEW, "alice@example.com", "first look")).To(Succeed(), "asking again changes nothing")
		g.Eventually(func(g Gomega) {
			st := stored(g, ns, "gw-c").Status
			g.Expect(st.State).To(Equal(platformv1alpha1.PostMortemInReview))
			g.Expect(st.Reviews).To(HaveLen(1))
			g.Expect(st.Reviews[0]).To(And(HaveField("By", "alice@example.com"), HaveField("Note", "first look"), HaveField("State", platformv1alpha1.PostMortemInReview)))
			g.Expect(st.Reviews[0].At.Time).To(BeTemporally("~", time.Now(), time.Minute))
		}).WithTimeout(20 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())

		g.Expect(transition(postmortemv1.PostMortemState_POST_MORTEM_STATE_CLOSED, "", "")).To(Succeed())
		g.Eventually(func(g Gomega) {
			st := stored(g, ns, "gw-c").Status
			g.Expect(st.State).To(Equal(platformv1alpha1.PostMortemClosed))
			g.Expect(st.Reviews).To(HaveLen(2))
			g.Expect(st.Reviews[1].By).To(Equal("ip:127.0.0.1"), "without an actor, the caller's identity")
		}).WithTimeout(20 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
		g.Expect(grpcx.Reason(transition(postmortemv1.PostMortemState_POST_MORTEM_STATE_IN_REVIEW, "", ""))).To(Equal(grpcserver.ReasonReviewTransitionRefused), "Closed is final")
	})

	t.Run("Annotation", func(t *testing.T) {
		g := NewWithT(t)
		pm := stored(g, ns, "gw-b")
		patch := client.MergeFrom(pm.DeepCopy())
		pm.Annotations = map[string]string{platformv1alpha1.AnnotationReviewState: "InReview", platformv1alpha1.AnnotationReviewBy: "bob"}
		g.Expect(env.Client.Patch(ctx, pm, patch)).To(Succeed())
		g.Eventually(func(g Gomega) {
			st := stored(g, ns, "gw-b").Status
			g.Expect(st.State).To(Equal(platformv1alpha1.PostMortemInReview))
			g.Expect(st.Reviews).To(ConsistOf(HaveField("By", "bob")))
		}).WithTimeout(20 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	})
}
