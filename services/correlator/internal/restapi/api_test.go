package restapi

import (
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gstruct"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

func errorOf(r response) map[string]any {
	e, _ := r.body["error"].(map[string]any)
	return e
}

// TestNoKeyNoAccess: without a valid key every route is 401, with a JSON
// error and a challenge.
func TestNoKeyNoAccess(t *testing.T) {
	g := newG(t)
	a := start(t, options{})
	for _, tc := range []struct {
		name, key string
		hdr       []string
	}{
		{name: "no key"},
		{name: "wrong key", key: "not-a-key-0123456789abcdef0123456789"},
		{name: "basic scheme", hdr: []string{"Authorization", "Basic " + operatorKey}},
		{name: "empty bearer", hdr: []string{"Authorization", "Bearer "}},
		{name: "a prefix of a key", key: viewerKey[:len(viewerKey)-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/v1/incidents", "/api/v1/incidents/ns/name", "/api/v1/incidents/by-id/INC-20260216-001", "/elsewhere"} {
				r := a.do(t, http.MethodGet, path, tc.key, "", tc.hdr...)
				g.Expect(r.status).To(Equal(http.StatusUnauthorized), path)
				g.Expect(errorOf(r)).To(HaveKeyWithValue("status", "UNAUTHENTICATED"))
				g.Expect(r.header.Get("WWW-Authenticate")).To(HavePrefix("Bearer"))
			}
		})
	}
	// The X-API-Key header is the other way to present a key.
	g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", "", "", APIKeyHeader, viewerKey).status).To(Equal(http.StatusOK))
}

// TestMissingSecretFailsClosed: without the Secret no key works.
func TestMissingSecretFailsClosed(t *testing.T) {
	g := newG(t)
	a := start(t, options{keys: "-"})
	g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", adminKey, "").status).To(Equal(http.StatusUnauthorized))
}

// TestDevMode lets requests without a key in, as an admin named dev-mode,
// but still refuses a wrong key.
func TestDevMode(t *testing.T) {
	g := newG(t)
	a := start(t, options{devMode: true, keys: "-"})
	ns := env.NewNamespace(t, "dev", nil)
	createIssue(t, ns, "dev-901", platformv1alpha1.IssueDetected)
	g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", "", "").status).To(Equal(http.StatusOK))
	g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", "wrong-key-0123456789abcdef0123456789", "").status).To(Equal(http.StatusUnauthorized))
	g.Eventually(func() int {
		return a.do(t, http.MethodPost, "/api/v1/incidents/"+ns+"/dev-901:acknowledge", "", "").status
	}).Should(Equal(http.StatusOK))
	g.Expect(storedIssue(g, ns, "dev-901").Annotations).To(HaveKeyWithValue(platformv1alpha1.AnnotationAcknowledgedBy, DevIdentity))
	g.Eventually(func(g Gomega) {
		lines, _ := a.auditLines(t)
		g.Expect(lines).NotTo(BeEmpty())
		g.Expect(lines[0].DevMode).To(BeTrue())
		g.Expect(lines[0].KeyID).To(Equal(DevIdentity))
	}).Should(Succeed())
}

// TestRoles: a viewer reads and may not write (403, nothing recorded); an
// operator's write is recorded as the annotations, with its key id as the
// requester whatever the body says.
func TestRoles(t *testing.T) {
	g := newG(t)
	a := start(t, options{})
	ns := env.NewNamespace(t, "roles", nil)
	createIssue(t, ns, "checkout-001", platformv1alpha1.IssueAnalyzing)
	createIssue(t, ns, "cart-002", platformv1alpha1.IssueRemediating)
	createIssue(t, ns, "db-003", platformv1alpha1.IssueResolved)

	g.Eventually(func() int {
		return a.do(t, http.MethodGet, "/api/v1/incidents/"+ns+"/checkout-001", viewerKey, "").status
	}).Should(Equal(http.StatusOK))
	r := a.do(t, http.MethodGet, "/api/v1/incidents/by-id/INC-20260216-001", viewerKey, "")
	g.Expect(r.status).To(Equal(http.StatusOK))
	g.Expect(r.body["incident"]).To(HaveKeyWithValue("name", "checkout-001"))
	r = a.do(t, http.MethodGet, "/api/v1/incidents?namespace="+ns+"&state=analyzing,Remediating&page_size=1", viewerKey, "")
	g.Expect(r.status).To(Equal(http.StatusOK), r.raw)
	g.Expect(r.body["incidents"]).To(HaveLen(1))
	g.Expect(r.body["nextPageToken"]).NotTo(BeEmpty())

	for _, verb := range []string{"acknowledge", "resolve", "escalate"} {
		r := a.do(t, http.MethodPost, "/api/v1/incidents/"+ns+"/checkout-001:"+verb, viewerKey, `{"reason":"x"}`)
		g.Expect(r.status).To(Equal(http.StatusForbidden), verb)
		g.Expect(errorOf(r)).To(HaveKeyWithValue("status", "PERMISSION_DENIED"))
	}
	g.Expect(storedIssue(g, ns, "checkout-001").Annotations).To(BeEmpty())

	r = a.do(t, http.MethodPost, "/api/v1/incidents/"+ns+"/checkout-001:acknowledge", operatorKey, `{"reason":"looking"}`)
	g.Expect(r.status).To(Equal(http.StatusOK), r.raw)
	g.Expect(r.body["incident"]).To(HaveKeyWithValue("acknowledgedBy", "oncall"))
	ann := storedIssue(g, ns, "checkout-001").Annotations
	g.Expect(ann).To(HaveKeyWithValue(platformv1alpha1.AnnotationAcknowledgedBy, "oncall"))
	g.Expect(ann).To(HaveKeyWithValue(platformv1alpha1.AnnotationAcknowledgeReason, "looking"))
	g.Expect(ann).To(HaveKey(platformv1alpha1.AnnotationAcknowledgedAt))

	g.Expect(a.do(t, http.MethodPost, "/api/v1/incidents/"+ns+"/checkout-001:resolve", adminKey, "").status).To(Equal(http.StatusOK))
	g.Expect(storedIssue(g, ns, "checkout-001").Annotations).To(HaveKeyWithValue(platformv1alpha1.AnnotationResolveRequestedBy, "root"))
	g.Expect(a.do(t, http.MethodPost, "/api/v1/incidents/"+ns+"/cart-002:escalate", otherKey, `{"reason":"page the team"}`).status).To(Equal(http.StatusOK))
	g.Expect(storedIssue(g, ns, "cart-002").Annotations).To(HaveKeyWithValue(platformv1alpha1.AnnotationEscalateRequestedBy, "ci"))

	// Errors keep their meaning over HTTP.
	for _, tc := range []struct {
		method, path, body string
		status             int
		reason             string
	}{
		{http.MethodPost, "/api/v1/incidents/" + ns + "/db-003:escalate", "", http.StatusConflict, "ISSUE_RESOLVED"},
		{http.MethodPost, "/api/v1/incidents/" + ns + "/nope:acknowledge", "", http.StatusNotFound, ""},
		{http.MethodPost, "/api/v1/incidents/" + ns + "/cart-002:acknowledge", `{"requester":"someone-else"}`, http.StatusBadRequest, ""},
		{http.MethodPost, "/api/v1/incidents/" + ns + "/cart-002:acknowledge", `{"reason":"` + strings.Repeat("r", 1025) + `"}`, http.StatusBadRequest, ""},
		{http.MethodPost, "/api/v1/incidents/" + ns + "/cart-002:delete", "", http.StatusNotFound, ""},
		{http.MethodDelete, "/api/v1/incidents/" + ns + "/cart-002", "", http.StatusMethodNotAllowed, ""},
		{http.MethodGet, "/api/v1/incidents/by-id/INC-1", "", http.StatusBadRequest, ""},
		{http.MethodGet, "/api/v1/incidents?page_token=forged", "", http.StatusBadRequest, "INVALID_PAGE_TOKEN"},
		{http.MethodGet, "/api/v1/incidents?colour=red", "", http.StatusBadRequest, ""},
		{http.MethodGet, "/api/v1/incidents?severity=urgent", "", http.StatusBadRequest, ""},
		{http.MethodGet, "/api/v2/incidents", "", http.StatusNotFound, ""},
	} {
		r := a.do(t, tc.method, tc.path, adminKey, tc.body)
		g.Expect(r.status).To(Equal(tc.status), "%s %s: %s", tc.method, tc.path, r.raw)
		g.Expect(errorOf(r)).To(HaveKeyWithValue("reason", tc.reason), tc.path)
		g.Expect(r.header.Get("Content-Type")).To(Equal("application/json"))
	}
	g.Expect(storedIssue(g, ns, "cart-002").Annotations).NotTo(HaveKey(platformv1alpha1.AnnotationAcknowledgedBy))
}

// TestCORS: with no origin configured every cross-origin request is
// refused, preflight included; a configured origin is allowed, others
// still are not.
func TestCORS(t *testing.T) {
	g := newG(t)
	closed := start(t, options{})
	for _, method := range []string{http.MethodOptions, http.MethodGet} {
		r := closed.do(t, method, "/api/v1/incidents", viewerKey, "", "Origin", "https://dash.example.com", "Access-Control-Request-Method", "GET")
		g.Expect(r.status).To(Equal(http.StatusForbidden), method)
		g.Expect(r.header.Get("Access-Control-Allow-Origin")).To(BeEmpty())
	}
	// Same-origin and non-browser requests carry no Origin and pass.
	g.Expect(closed.do(t, http.MethodGet, "/api/v1/incidents", viewerKey, "").status).To(Equal(http.StatusOK))

	open := start(t, options{origins: []string{"https://Dash.example.com"}})
	pre := open.do(t, http.MethodOptions, "/api/v1/incidents", "", "", "Origin", "https://dash.example.com", "Access-Control-Request-Method", "POST")
	g.Expect(pre.status).To(Equal(http.StatusNoContent))
	g.Expect(pre.header.Get("Access-Control-Allow-Origin")).To(Equal("https://dash.example.com"))
	g.Expect(pre.header.Get("Access-Control-Allow-Headers")).To(ContainSubstring("Authorization"))
	r := open.do(t, http.MethodGet, "/api/v1/incidents", viewerKey, "", "Origin", "https://dash.example.com")
	g.Expect(r.status).To(Equal(http.StatusOK))
	g.Expect(r.header.Get("Access-Control-Allow-Origin")).To(Equal("https://dash.example.com"))
	// A preflight lets nobody in without a key.
	g.Expect(open.do(t, http.MethodGet, "/api/v1/incidents", "", "", "Origin", "https://dash.example.com").status).To(Equal(http.StatusUnauthorized))
	g.Expect(open.do(t, http.MethodGet, "/api/v1/incidents", viewerKey, "", "Origin", "https://evil.example.com").status).To(Equal(http.StatusForbidden))
	g.Expect(open.do(t, http.MethodGet, "/api/v1/incidents", viewerKey, "", "Origin", "http://dash.example.com").status).To(Equal(http.StatusForbidden))
}

// TestRateLimitPerKey: one key's bucket runs dry, over new connections
// each time, while another key's is untouched.
func TestRateLimitPerKey(t *testing.T) {
	g := newG(t)
	a := start(t, options{rps: 0.01, burst: 3})
	for range 3 {
		g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", viewerKey, "").status).To(Equal(http.StatusOK))
	}
	r := a.do(t, http.MethodGet, "/api/v1/incidents", viewerKey, "")
	g.Expect(r.status).To(Equal(http.StatusTooManyRequests))
	g.Expect(errorOf(r)).To(HaveKeyWithValue("reason", "RATE_LIMITED"))
	g.Expect(r.header.Get("Retry-After")).To(MatchRegexp(`^[1-9][0-9]*$`))
	// The same person on the other header is the same key.
	g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", "", "", APIKeyHeader, viewerKey).status).To(Equal(http.StatusTooManyRequests))
	for range 3 {
		g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", operatorKey, "").status).To(Equal(http.StatusOK))
	}
	// Guessing keys is limited per address.
	for range 3 {
		g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", "guess-0123456789abcdef0123456789abcdef", "").status).To(Equal(http.StatusUnauthorized))
	}
	g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", "guess-0123456789abcdef0123456789abcdef", "").status).To(Equal(http.StatusTooManyRequests))
	g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", adminKey, "").status).To(Equal(http.StatusOK), "a valid key is not held up")
}

// TestAuditLines: every request, accepted or not, is one JSON line naming
// the key id, never the key.
func TestAuditLines(t *testing.T) {
	g := newG(t)
	a := start(t, options{})
	a.do(t, http.MethodGet, "/api/v1/incidents?namespace=x", viewerKey, "")
	a.do(t, http.MethodPost, "/api/v1/incidents/x/y:acknowledge", viewerKey, "")
	a.do(t, http.MethodGet, "/api/v1/incidents", "wrong-key-0123456789abcdef0123456789", "")
	g.Eventually(func(g Gomega) {
		lines, raw := a.auditLines(t)
		g.Expect(lines).To(HaveLen(3))
		g.Expect(lines[0]).To(gstruct.MatchFields(gstruct.IgnoreExtras, gstruct.Fields{
			"Event": Equal("rest_access"), "KeyID": Equal("grafana"), "Role": Equal("viewer"),
			"Method": Equal("GET"), "Path": Equal("/api/v1/incidents"), "Status": Equal(200),
		}))
		g.Expect(lines[0].DurationMS).To(BeNumerically(">", 0))
		g.Expect(lines[0].Time.IsZero()).To(BeFalse())
		g.Expect(lines[1].Status).To(Equal(403))
		g.Expect(lines[1].Path).To(Equal("/api/v1/incidents/x/y:acknowledge"))
		g.Expect(lines[2].Status).To(Equal(401))
		g.Expect(lines[2].KeyID).To(BeEmpty())
		for _, secret := range []string{viewerKey, "wrong-key-0123456789abcdef0123456789", "namespace=x"} {
			g.Expect(raw).NotTo(ContainSubstring(secret))
		}
	}).Should(Succeed())
}

// TestKeyRotation: a changed Secret takes effect without a restart; a
// deleted one closes the API.
func TestKeyRotation(t *testing.T) {
	g := newG(t)
	a := start(t, options{keys: keyLines("oncall:operator:" + operatorKey)})
	g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", operatorKey, "").status).To(Equal(http.StatusOK))
	g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", otherKey, "").status).To(Equal(http.StatusUnauthorized))

	writeSecret(t, a.platform, keyLines("oncall:viewer:"+otherKey))
	g.Eventually(func() int { return a.do(t, http.MethodGet, "/api/v1/incidents", otherKey, "").status }).Should(Equal(http.StatusOK))
	g.Expect(a.do(t, http.MethodGet, "/api/v1/incidents", operatorKey, "").status).To(Equal(http.StatusUnauthorized))
	g.Expect(a.do(t, http.MethodPost, "/api/v1/incidents/x/y:acknowledge", otherKey, "").status).To(Equal(http.StatusForbidden), "the new role holds")

	g.Expect(env.Client.Delete(t.Context(), secretObject(a.platform))).To(Succeed())
	g.Eventually(func() int { return a.do(t, http.MethodGet, "/api/v1/incidents", otherKey, "").status }).Should(Equal(http.StatusUnauthorized))
}
