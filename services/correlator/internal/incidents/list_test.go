package incidents

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
)

func names(incs []*correlatorv1.Incident) []string {
	out := make([]string, 0, len(incs))
	for _, i := range incs {
		out = append(out, i.GetNamespace()+"/"+i.GetName())
	}
	return out
}

// TestListIncidents filters, orders newest first and pages through the
// incidents of two namespaces.
func TestListIncidents(t *testing.T) {
	g := newG(t)
	ctx := context.Background()
	h := startServer(t, nil)
	nsA := env.NewNamespace(t, "list-a", nil)
	nsB := env.NewNamespace(t, "list-b", nil)

	type spec struct {
		ns, name, kind, resource string
		sev                      platformv1alpha1.Severity
		state                    platformv1alpha1.IssueState
	}
	specs := []spec{
		{nsA, "a1", "Deployment", "checkout", platformv1alpha1.SeverityCritical, platformv1alpha1.IssueDetected},
		{nsA, "a2", "Deployment", "cart", platformv1alpha1.SeverityHigh, platformv1alpha1.IssueAnalyzing},
		{nsA, "a3", "StatefulSet", "db", platformv1alpha1.SeverityLow, platformv1alpha1.IssueResolved},
		{nsB, "b1", "Deployment", "checkout", platformv1alpha1.SeverityHigh, platformv1alpha1.IssueEscalated},
		{nsB, "b2", "Deployment", "search", platformv1alpha1.SeverityMedium, platformv1alpha1.IssueRemediating},
		{nsB, "b3", "DaemonSet", "agent", platformv1alpha1.SeverityHigh, platformv1alpha1.IssueResolved},
	}
	for i, s := range specs {
		issue := newIssue(s.ns, s.name)
		issue.Spec.Severity = s.sev
		issue.Spec.Resource = platformv1alpha1.ResourceReference{Kind: s.kind, Namespace: s.ns, Name: s.resource, UID: types.UID("uid-" + s.name)}
		createIssue(t, issue, platformv1alpha1.IssueStatus{State: s.state})
		if i == 0 {
			// creationTimestamp counts seconds: a1 is older than the rest.
			time.Sleep(1100 * time.Millisecond)
		}
	}
	inBoth := func(req *correlatorv1.ListIncidentsRequest) []string {
		var out []string
		for _, n := range names(mustList(g, h, req).GetIncidents()) {
			if n[:len(nsA)] == nsA || n[:len(nsB)] == nsB {
				out = append(out, n)
			}
		}
		return out
	}
	g.Eventually(func() []string { return inBoth(&correlatorv1.ListIncidentsRequest{}) }).Should(HaveLen(6))
	all := inBoth(&correlatorv1.ListIncidentsRequest{})
	g.Expect(all[len(all)-1]).To(Equal(nsA+"/a1"), "newest first")
	// Within a second, by namespace and name: detected_at is the creation
	// time of an Issue whose status has none.
	listed := slices.DeleteFunc(mustList(g, h, &correlatorv1.ListIncidentsRequest{}).GetIncidents(), func(i *correlatorv1.Incident) bool {
		return i.GetNamespace() != nsA && i.GetNamespace() != nsB
	})
	g.Expect(slices.IsSortedFunc(listed, func(a, b *correlatorv1.Incident) int {
		return newestFirst(pagePosition{a.GetDetectedAt().GetSeconds(), a.GetNamespace(), a.GetName()},
			pagePosition{b.GetDetectedAt().GetSeconds(), b.GetNamespace(), b.GetName()})
	})).To(BeTrue())

	for _, tc := range []struct {
		name string
		req  *correlatorv1.ListIncidentsRequest
		want []string
	}{
		{"namespace", &correlatorv1.ListIncidentsRequest{Namespace: nsB}, []string{nsB + "/b1", nsB + "/b2", nsB + "/b3"}},
		{"states", &correlatorv1.ListIncidentsRequest{States: []correlatorv1.IncidentState{
			correlatorv1.IncidentState_INCIDENT_STATE_RESOLVED, correlatorv1.IncidentState_INCIDENT_STATE_ESCALATED}},
			[]string{nsA + "/a3", nsB + "/b1", nsB + "/b3"}},
		{"severities", &correlatorv1.ListIncidentsRequest{Severities: []string{"high"}}, []string{nsA + "/a2", nsB + "/b1", nsB + "/b3"}},
		{"resource kind and name", &correlatorv1.ListIncidentsRequest{Resource: &commonv1.ResourceRef{Kind: "Deployment", Name: "checkout"}},
			[]string{nsB + "/b1", nsA + "/a1"}},
		{"resource uid", &correlatorv1.ListIncidentsRequest{Resource: &commonv1.ResourceRef{Kind: "Deployment", Name: "checkout", Uid: "uid-b1"}},
			[]string{nsB + "/b1"}},
		{"resource namespace", &correlatorv1.ListIncidentsRequest{Resource: &commonv1.ResourceRef{Namespace: nsA, Kind: "StatefulSet"}},
			[]string{nsA + "/a3"}},
		{"combined", &correlatorv1.ListIncidentsRequest{Namespace: nsA, Severities: []string{"critical", "low"},
			States: []correlatorv1.IncidentState{correlatorv1.IncidentState_INCIDENT_STATE_DETECTED}}, []string{nsA + "/a1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got := inBoth(tc.req)
			g.Expect(got).To(ConsistOf(tc.want))
		})
	}

	t.Run("pages", func(t *testing.T) {
		g := NewWithT(t)
		var paged []string
		before := inBoth(&correlatorv1.ListIncidentsRequest{Namespace: nsA})
		req := &correlatorv1.ListIncidentsRequest{Namespace: nsA, PageSize: 2}
		for range 5 {
			resp := mustList(g, h, req)
			g.Expect(len(resp.GetIncidents())).To(BeNumerically("<=", 2))
			paged = append(paged, names(resp.GetIncidents())...)
			if resp.GetNextPageToken() == "" {
				break
			}
			// An incident created between two pages neither repeats nor
			// shifts the pages: it is newer than the position (in a later
			// second, since creationTimestamp counts seconds).
			if len(paged) == 2 {
				time.Sleep(1100 * time.Millisecond)
				createIssue(t, newIssue(nsA, "late"), platformv1alpha1.IssueStatus{State: platformv1alpha1.IssueDetected})
			}
			req.PageToken = resp.GetNextPageToken()
		}
		g.Expect(paged).To(Equal(before))
		g.Expect(paged).To(HaveLen(3))

		// The same token with other filters, or altered, is refused.
		first := mustList(g, h, &correlatorv1.ListIncidentsRequest{Namespace: nsA, PageSize: 1})
		g.Expect(first.GetNextPageToken()).NotTo(BeEmpty())
		for _, bad := range []*correlatorv1.ListIncidentsRequest{
			{Namespace: nsB, PageToken: first.GetNextPageToken()},
			{Namespace: nsA, Severities: []string{"high"}, PageToken: first.GetNextPageToken()},
			{Namespace: nsA, PageToken: first.GetNextPageToken()[:len(first.GetNextPageToken())-2]},
			{Namespace: nsA, PageToken: "not a token"},
		} {
			_, err := h.client.ListIncidents(ctx, bad)
			g.Expect(status.Code(err)).To(Equal(codes.InvalidArgument))
			g.Expect(grpcx.Reason(err)).To(Equal(grpcx.ReasonInvalidPageToken))
		}
		// A different page size with the same filters is fine.
		_, err := h.client.ListIncidents(ctx, &correlatorv1.ListIncidentsRequest{Namespace: nsA, PageSize: 7, PageToken: first.GetNextPageToken()})
		g.Expect(err).NotTo(HaveOccurred())
	})
}

func mustList(g Gomega, h *harness, req *correlatorv1.ListIncidentsRequest) *correlatorv1.ListIncidentsResponse {
	resp, err := h.client.ListIncidents(context.Background(), req)
	g.ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return resp
}

func TestListIncidentsRefusesBadFilters(t *testing.T) {
	h := startServer(t, nil)
	for i, req := range []*correlatorv1.ListIncidentsRequest{
		{PageSize: -1},
		{Severities: []string{"urgent"}},
		{Severities: []string{"High"}},
		{States: []correlatorv1.IncidentState{correlatorv1.IncidentState_INCIDENT_STATE_UNSPECIFIED}},
		{States: []correlatorv1.IncidentState{42}},
		{Namespace: "a", Resource: &commonv1.ResourceRef{Namespace: "b"}},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if _, err := h.client.ListIncidents(context.Background(), req); status.Code(err) != codes.InvalidArgument {
				t.Fatalf("%v: got %v, want InvalidArgument", req, err)
			}
		})
	}
}

func TestPageSizeIsCapped(t *testing.T) {
	g := newG(t)
	h := startServer(t, nil)
	ns := env.NewNamespace(t, "cap", nil)
	for i := range MaxPageSize + 1 {
		issue := newIssue(ns, fmt.Sprintf("i%03d", i))
		g.Expect(env.Client.Create(context.Background(), issue)).To(Succeed())
	}
	g.Eventually(func(g Gomega) {
		resp := mustList(g, h, &correlatorv1.ListIncidentsRequest{Namespace: ns, PageSize: 100000})
		g.Expect(resp.GetIncidents()).To(HaveLen(MaxPageSize))
		g.Expect(resp.GetNextPageToken()).NotTo(BeEmpty())
		// An Issue the reconciler has not seen yet is Detected.
		g.Expect(resp.GetIncidents()[0].GetState()).To(Equal(correlatorv1.IncidentState_INCIDENT_STATE_DETECTED))
	}).Should(Succeed())
	resp := mustList(g, h, &correlatorv1.ListIncidentsRequest{Namespace: ns})
	g.Expect(resp.GetIncidents()).To(HaveLen(DefaultPageSize))
}
