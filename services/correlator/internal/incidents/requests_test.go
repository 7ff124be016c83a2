package incidents

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
)

var fixedNow = time.Date(2026, 2, 16, 10, 45, 0, 0, time.UTC)

func stored(g Gomega, ns, name string) *platformv1alpha1.Issue {
	issue := &platformv1alpha1.Issue{}
	g.ExpectWithOffset(1, env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, issue)).To(Succeed())
	return issue
}

// call makes one request of kind verb through the gRPC client.
func call(h *harness, verb, ns, name, requester, reason string) (*correlatorv1.Incident, error) {
	ctx := context.Background()
	ref := &commonv1.ObjectRef{Namespace: ns, Name: name}
	switch verb {
	case "acknowledge":
		r, err := h.client.AcknowledgeIssue(ctx, &correlatorv1.AcknowledgeIssueRequest{Issue: ref, Requester: requester, Reason: reason})
		return r.GetIncident(), err
	case "resolve":
		r, err := h.client.ResolveIssue(ctx, &correlatorv1.ResolveIssueRequest{Issue: ref, Requester: requester, Reason: reason})
		return r.GetIncident(), err
	default:
		r, err := h.client.EscalateIssue(ctx, &correlatorv1.EscalateIssueRequest{Issue: ref, Requester: requester, Reason: reason})
		return r.GetIncident(), err
	}
}

// TestRequestsAreRecordedAsAnnotations: each request writes its three
// annotations once, keeps the first, and never touches the status.
func TestRequestsAreRecordedAsAnnotations(t *testing.T) {
	h := startServer(t, func() time.Time { return fixedNow })
	ns := env.NewNamespace(t, "requests", nil)
	for _, tc := range []struct {
		verb        string
		by, at, why string
		state       platformv1alpha1.IssueState
	}{
		{"acknowledge", platformv1alpha1.AnnotationAcknowledgedBy, platformv1alpha1.AnnotationAcknowledgedAt, platformv1alpha1.AnnotationAcknowledgeReason, platformv1alpha1.IssueAnalyzing},
		{"resolve", platformv1alpha1.AnnotationResolveRequestedBy, platformv1alpha1.AnnotationResolveRequestedAt, platformv1alpha1.AnnotationResolveReason, platformv1alpha1.IssueEscalated},
		{"escalate", platformv1alpha1.AnnotationEscalateRequestedBy, platformv1alpha1.AnnotationEscalateRequestedAt, platformv1alpha1.AnnotationEscalateReason, platformv1alpha1.IssueRemediating},
	} {
		t.Run(tc.verb, func(t *testing.T) {
			g := newG(t)
			issue := createIssue(t, newIssue(ns, tc.verb), platformv1alpha1.IssueStatus{State: tc.state})
			before := stored(g, ns, issue.Name)

			inc, err := call(h, tc.verb, ns, issue.Name, "alice", "on it")
			g.Expect(err).NotTo(HaveOccurred())
			after := stored(g, ns, issue.Name)
			g.Expect(after.Annotations).To(HaveKeyWithValue(tc.by, "alice"))
			g.Expect(after.Annotations).To(HaveKeyWithValue(tc.at, "2026-02-16T10:45:00Z"))
			g.Expect(after.Annotations).To(HaveKeyWithValue(tc.why, "on it"))
			g.Expect(after.Status).To(Equal(before.Status), "a handler never writes status")
			g.Expect(inc.GetState()).To(Equal(incidentState(before)))
			if tc.verb == "acknowledge" {
				g.Expect(inc.GetAcknowledgedBy()).To(Equal("alice"))
				g.Expect(inc.GetAcknowledgedAt().AsTime()).To(Equal(fixedNow))
			}

			// A second request of the kind keeps the first.
			again, err := call(h, tc.verb, ns, issue.Name, "bob", "me too")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(again.GetName()).To(Equal(issue.Name))
			final := stored(g, ns, issue.Name)
			g.Expect(final.Annotations).To(HaveKeyWithValue(tc.by, "alice"))
			g.Expect(final.Annotations).To(HaveKeyWithValue(tc.why, "on it"))
			g.Expect(final.ResourceVersion).To(Equal(after.ResourceVersion), "the repeat wrote nothing")
		})
	}
}

// TestRequestsRaceToOne: of many requests at once, exactly one is recorded,
// and every caller is answered with it.
func TestRequestsRaceToOne(t *testing.T) {
	g := newG(t)
	h := startServer(t, nil)
	ns := env.NewNamespace(t, "race", nil)
	createIssue(t, newIssue(ns, "contended"), platformv1alpha1.IssueStatus{State: platformv1alpha1.IssueDetected})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = call(h, "acknowledge", ns, "contended", "person-"+string(rune('a'+i)), "")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		g.Expect(err).NotTo(HaveOccurred())
	}
	winner := stored(g, ns, "contended").Annotations[platformv1alpha1.AnnotationAcknowledgedBy]
	g.Expect(winner).To(HavePrefix("person-"))
	inc, err := call(h, "acknowledge", ns, "contended", "late", "")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(inc.GetAcknowledgedBy()).To(Equal(winner))
}

// TestRequestErrors checks every error the proto documents for the three
// requests.
func TestRequestErrors(t *testing.T) {
	g := newG(t)
	h := startServer(t, nil)
	ns := env.NewNamespace(t, "request-errors", nil)
	createIssue(t, newIssue(ns, "resolved"), platformv1alpha1.IssueStatus{State: platformv1alpha1.IssueResolved})
	createIssue(t, newIssue(ns, "escalated"), platformv1alpha1.IssueStatus{State: platformv1alpha1.IssueEscalated})
	resolveAsked := newIssue(ns, "resolve-asked")
	resolveAsked.Annotations = map[string]string{platformv1alpha1.AnnotationResolveRequestedBy: "carol"}
	createIssue(t, resolveAsked, platformv1alpha1.IssueStatus{State: platformv1alpha1.IssueRemediating})
	busy := createIssue(t, newIssue(ns, "busy"), platformv1alpha1.IssueStatus{State: platformv1alpha1.IssueRemediating})
	plan := &platformv1alpha1.RemediationPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "busy-plan-1"},
		Spec: platformv1alpha1.RemediationPlanSpec{IssueRef: platformv1alpha1.LocalObjectReference{Name: busy.Name}, Attempt: 1,
			Actions: []platformv1alpha1.RemediationAction{{Type: platformv1alpha1.ActionRestartDeployment}}},
	}
	create(t, plan)
	plan.Status.State = platformv1alpha1.PlanVerifying
	setStatus(t, plan)

	for _, tc := range []struct {
		name, verb, issue, requester, reason string
		code                                 codes.Code
		reason2                              string
	}{
		{"empty requester", "acknowledge", "escalated", "", "", codes.InvalidArgument, ""},
		{"long requester", "resolve", "escalated", strings.Repeat("r", MaxRequesterBytes+1), "", codes.InvalidArgument, ""},
		{"long reason", "escalate", "escalated", "dave", strings.Repeat("x", MaxReasonBytes+1), codes.InvalidArgument, ""},
		{"no issue name", "acknowledge", "", "dave", "", codes.InvalidArgument, ""},
		{"missing issue", "acknowledge", "nope", "dave", "", codes.NotFound, ""},
		{"missing issue, resolve", "resolve", "nope", "dave", "", codes.NotFound, ""},
		{"acknowledge resolved", "acknowledge", "resolved", "dave", "", codes.FailedPrecondition, grpcx.ReasonIssueResolved},
		{"escalate resolved", "escalate", "resolved", "dave", "", codes.FailedPrecondition, grpcx.ReasonIssueResolved},
		{"escalate with a resolve request", "escalate", "resolve-asked", "dave", "", codes.FailedPrecondition, grpcx.ReasonResolveRequested},
		{"resolve while a plan verifies", "resolve", "busy", "dave", "", codes.FailedPrecondition, grpcx.ReasonPlanInProgress},
		{"resolve resolved: unchanged", "resolve", "resolved", "dave", "", codes.OK, ""},
		{"escalate escalated: unchanged", "escalate", "escalated", "dave", "", codes.OK, ""},
		{"resolve escalated", "resolve", "escalated", "dave", "fixed by hand", codes.OK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := call(h, tc.verb, ns, tc.issue, tc.requester, tc.reason)
			g.Expect(status.Code(err)).To(Equal(tc.code), "%v", err)
			g.Expect(grpcx.Reason(err)).To(Equal(tc.reason2))
		})
	}
	g.Expect(stored(g, ns, "resolved").Annotations).NotTo(HaveKey(platformv1alpha1.AnnotationResolveRequestedBy), "a Resolved Issue is returned unchanged")
	g.Expect(stored(g, ns, "busy").Annotations).NotTo(HaveKey(platformv1alpha1.AnnotationResolveRequestedBy))
	g.Expect(stored(g, ns, "escalated").Annotations).To(HaveKeyWithValue(platformv1alpha1.AnnotationResolveReason, "fixed by hand"))

	// Once the plan has ended, the Issue may be resolved.
	plan.Status.State = platformv1alpha1.PlanCompleted
	setStatus(t, plan)
	_, err := call(h, "resolve", ns, "busy", "dave", "")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(stored(g, ns, "busy").Annotations).To(HaveKeyWithValue(platformv1alpha1.AnnotationResolveRequestedBy, "dave"))
}
