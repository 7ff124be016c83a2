// Package incidents is the correlator's CorrelatorService: queries over
// incidents (Issues) answered from the manager's cache, and the requests
// people make of them (acknowledge, resolve, escalate) recorded as
// annotations on the Issue. It never writes a status: the leader's Issue
// reconciler acts on the annotations.
package incidents

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/grpcx"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
	postmortemv1 "github.com/chatcli/aiops/proto/chatcli/platform/postmortem/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

// Page sizes of ListIncidents, as the proto documents them.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// MaxReasonBytes bounds the reason of a request; MaxRequesterBytes bounds
// who asked, which is also stored in an annotation.
const (
	MaxReasonBytes    = 1024
	MaxRequesterBytes = 256
)

// defaultPageTokenKey keys the page tokens' MAC when Options gives none.
// It need not be secret: a token only names a position in a list the
// caller may read anyway. The MAC binds a token to its filters and finds
// tokens that were altered, on every replica alike.
var defaultPageTokenKey = []byte("chatcli-correlator-incident-page-token")

var incidentIDPattern = regexp.MustCompile(`^INC-[0-9]{8}-[0-9]{3,}$`)

// Options are what a Server reads and writes through.
type Options struct {
	// Cache answers the queries: the manager's cache (its client or
	// GetCache()).
	Cache client.Reader
	// Writer records requests: the Runtime's HandlerClient, which refuses
	// status writes.
	Writer client.Client
	// Fresh, when set, is read before a request is recorded and for the
	// plans ResolveIssue checks (the manager's API reader), so a request
	// is judged on the Issue as it is, not as the cache last saw it.
	// Without it Writer reads.
	Fresh client.Reader
	// Now stamps the requests; nil is time.Now.
	Now func() time.Time
	// PageTokenKey keys the page tokens; nil is a built-in key. Every
	// replica must use the same one.
	PageTokenKey []byte
}

// Server implements correlatorv1.CorrelatorServiceServer.
type Server struct {
	correlatorv1.UnimplementedCorrelatorServiceServer
	cache   client.Reader
	writer  client.Client
	fresh   client.Reader
	now     func() time.Time
	pageKey []byte
}

var _ correlatorv1.CorrelatorServiceServer = (*Server)(nil)

// NewServer returns a Server over o.
func NewServer(o Options) (*Server, error) {
	if o.Cache == nil || o.Writer == nil {
		return nil, errors.New("incident server needs a cache reader and a writer")
	}
	s := &Server{cache: o.Cache, writer: o.Writer, fresh: o.Fresh, now: o.Now, pageKey: o.PageTokenKey}
	if s.fresh == nil {
		s.fresh = o.Writer
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.pageKey) == 0 {
		s.pageKey = defaultPageTokenKey
	}
	return s, nil
}

// GetIncident returns one incident with its Anomalies, AIInsights,
// RemediationPlans and PostMortem.
func (s *Server) GetIncident(ctx context.Context, req *correlatorv1.GetIncidentRequest) (*correlatorv1.GetIncidentResponse, error) {
	issue, err := s.findIssue(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &correlatorv1.GetIncidentResponse{Incident: IncidentFromIssue(issue)}
	if out.Anomalies, err = s.anomaliesOf(ctx, issue); err != nil {
		return nil, err
	}
	if out.Insights, err = s.insightsOf(ctx, issue); err != nil {
		return nil, err
	}
	plans, err := s.plansOf(ctx, s.cache, issue)
	if err != nil {
		return nil, err
	}
	for i := range plans {
		out.Plans = append(out.Plans, planView(&plans[i]))
	}
	if out.PostMortem, err = s.postMortemOf(ctx, issue); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Server) findIssue(ctx context.Context, req *correlatorv1.GetIncidentRequest) (*platformv1alpha1.Issue, error) {
	switch ref := req.GetRef().(type) {
	case *correlatorv1.GetIncidentRequest_Issue:
		key, err := issueKey(ref.Issue)
		if err != nil {
			return nil, err
		}
		issue := &platformv1alpha1.Issue{}
		if err := s.cache.Get(ctx, key, issue); err != nil {
			return nil, apiError(err, "read Issue "+key.String())
		}
		return issue, nil
	case *correlatorv1.GetIncidentRequest_IncidentId:
		id := ref.IncidentId
		if !incidentIDPattern.MatchString(id) {
			return nil, grpcx.Error(codes.InvalidArgument, "", fmt.Sprintf("incident_id %q is not INC-YYYYMMDD-NNN", truncate(id, 64)), nil)
		}
		list := &platformv1alpha1.IssueList{}
		// Ids are unique per cluster; the Issue reconciler labels an Issue
		// with its id before it writes it into the status.
		if err := s.cache.List(ctx, list, client.MatchingLabels{platformv1alpha1.LabelIncidentID: id}); err != nil {
			return nil, apiError(err, "list Issues of "+id)
		}
		if len(list.Items) == 0 {
			return nil, grpcx.Error(codes.NotFound, "", "no incident "+id, nil)
		}
		// Should two ever share the id, the first detected is the one it
		// was given to first.
		slices.SortFunc(list.Items, func(a, b platformv1alpha1.Issue) int {
			return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
		return &list.Items[0], nil
	default:
		return nil, grpcx.Error(codes.InvalidArgument, "", "name the incident by issue or incident_id", nil)
	}
}

// issueKey checks an ObjectRef to an Issue.
func issueKey(ref *commonv1.ObjectRef) (client.ObjectKey, error) {
	if ref.GetNamespace() == "" || ref.GetName() == "" {
		return client.ObjectKey{}, grpcx.Error(codes.InvalidArgument, "", "issue needs a namespace and a name", nil)
	}
	if len(ref.GetNamespace()) > 63 || len(ref.GetName()) > 253 {
		return client.ObjectKey{}, grpcx.Error(codes.InvalidArgument, "", "issue namespace or name is too long", nil)
	}
	return client.ObjectKey{Namespace: ref.GetNamespace(), Name: ref.GetName()}, nil
}

// belongsTo reports whether obj, of the Issue's namespace, is one of the
// Issue's: labelled with it, or owned by it.
func belongsTo(obj client.Object, issue *platformv1alpha1.Issue, issueRef string) bool {
	if issueRef == issue.Name || obj.GetLabels()[platformv1alpha1.LabelIssue] == issue.Name {
		return true
	}
	for _, o := range obj.GetOwnerReferences() {
		if o.UID == issue.UID && o.Kind == "Issue" {
			return true
		}
	}
	return false
}

// anomaliesOf returns the Issue's Anomalies, oldest first: those labelled
// with it, and those its status names.
func (s *Server) anomaliesOf(ctx context.Context, issue *platformv1alpha1.Issue) ([]*watcherv1.Anomaly, error) {
	list := &platformv1alpha1.AnomalyList{}
	if err := s.cache.List(ctx, list, client.InNamespace(issue.Namespace), client.MatchingLabels{platformv1alpha1.LabelIssue: issue.Name}); err != nil {
		return nil, apiError(err, "list Anomalies of Issue "+issue.Name)
	}
	seen := map[string]bool{}
	for _, a := range list.Items {
		seen[a.Name] = true
	}
	for _, name := range issue.Status.RelatedAnomalies {
		if seen[name] {
			continue
		}
		a := &platformv1alpha1.Anomaly{}
		err := s.cache.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: name}, a)
		if client.IgnoreNotFound(err) != nil {
			return nil, apiError(err, "read Anomaly "+name)
		}
		if err == nil {
			seen[name] = true
			list.Items = append(list.Items, *a)
		}
	}
	slices.SortFunc(list.Items, func(a, b platformv1alpha1.Anomaly) int {
		return cmp.Or(a.Spec.DetectedAt.Compare(b.Spec.DetectedAt.Time), a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
	})
	out := make([]*watcherv1.Anomaly, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, anomalyView(&list.Items[i]))
	}
	return out, nil
}

// insightsOf returns the Issue's AIInsights, oldest first (by attempt).
func (s *Server) insightsOf(ctx context.Context, issue *platformv1alpha1.Issue) ([]*correlatorv1.Insight, error) {
	list := &platformv1alpha1.AIInsightList{}
	if err := s.cache.List(ctx, list, client.InNamespace(issue.Namespace)); err != nil {
		return nil, apiError(err, "list AIInsights of Issue "+issue.Name)
	}
	kept := slices.DeleteFunc(list.Items, func(in platformv1alpha1.AIInsight) bool {
		return !belongsTo(&in, issue, in.Spec.IssueRef.Name)
	})
	slices.SortFunc(kept, func(a, b platformv1alpha1.AIInsight) int {
		return cmp.Or(cmp.Compare(a.Spec.Attempt, b.Spec.Attempt), a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
	})
	out := make([]*correlatorv1.Insight, 0, len(kept))
	for i := range kept {
		out = append(out, insightView(&kept[i]))
	}
	return out, nil
}

// plansOf returns the Issue's RemediationPlans by attempt, read through r.
func (s *Server) plansOf(ctx context.Context, r client.Reader, issue *platformv1alpha1.Issue) ([]platformv1alpha1.RemediationPlan, error) {
	list := &platformv1alpha1.RemediationPlanList{}
	if err := r.List(ctx, list, client.InNamespace(issue.Namespace)); err != nil {
		return nil, apiError(err, "list RemediationPlans of Issue "+issue.Name)
	}
	kept := slices.DeleteFunc(list.Items, func(p platformv1alpha1.RemediationPlan) bool {
		return !belongsTo(&p, issue, p.Spec.IssueRef.Name)
	})
	slices.SortFunc(kept, func(a, b platformv1alpha1.RemediationPlan) int {
		return cmp.Or(cmp.Compare(a.Spec.Attempt, b.Spec.Attempt), a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
	})
	return kept, nil
}

// postMortemOf returns the Issue's PostMortem: the one status.postMortemRef
// names, else one that names the Issue; nil when none is written yet.
func (s *Server) postMortemOf(ctx context.Context, issue *platformv1alpha1.Issue) (*postmortemv1.PostMortem, error) {
	if ref := issue.Status.PostMortemRef; ref != nil {
		pm := &platformv1alpha1.PostMortem{}
		err := s.cache.Get(ctx, client.ObjectKey{Namespace: issue.Namespace, Name: ref.Name}, pm)
		if err == nil {
			return postMortemView(pm), nil
		}
		if client.IgnoreNotFound(err) != nil {
			return nil, apiError(err, "read PostMortem "+ref.Name)
		}
	}
	list := &platformv1alpha1.PostMortemList{}
	if err := s.cache.List(ctx, list, client.InNamespace(issue.Namespace)); err != nil {
		return nil, apiError(err, "list PostMortems of Issue "+issue.Name)
	}
	kept := slices.DeleteFunc(list.Items, func(pm platformv1alpha1.PostMortem) bool {
		return !belongsTo(&pm, issue, pm.Spec.IssueRef.Name)
	})
	if len(kept) == 0 {
		return nil, nil
	}
	slices.SortFunc(kept, func(a, b platformv1alpha1.PostMortem) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
	})
	return postMortemView(&kept[0]), nil
}

// listFilter is a checked ListIncidentsRequest.
type listFilter struct {
	namespace  string
	states     map[correlatorv1.IncidentState]bool
	severities map[string]bool
	kind, name string
	uid        types.UID
}

func newListFilter(req *correlatorv1.ListIncidentsRequest) (*listFilter, error) {
	f := &listFilter{namespace: req.GetNamespace()}
	r := req.GetResource()
	if r.GetNamespace() != "" {
		if f.namespace != "" && f.namespace != r.GetNamespace() {
			return nil, grpcx.Error(codes.InvalidArgument, "", "resource.namespace differs from namespace", nil)
		}
		f.namespace = r.GetNamespace()
	}
	f.kind, f.name, f.uid = r.GetKind(), r.GetName(), types.UID(r.GetUid())
	for _, st := range req.GetStates() {
		if _, known := correlatorv1.IncidentState_name[int32(st)]; !known || st == correlatorv1.IncidentState_INCIDENT_STATE_UNSPECIFIED {
			return nil, grpcx.Error(codes.InvalidArgument, "", fmt.Sprintf("state %d is not an incident state", st), nil)
		}
		if f.states == nil {
			f.states = map[correlatorv1.IncidentState]bool{}
		}
		f.states[st] = true
	}
	for _, sev := range req.GetSeverities() {
		if !platformv1alpha1.Severity(sev).IsValid() {
			return nil, grpcx.Error(codes.InvalidArgument, "", fmt.Sprintf("severity %q is not critical, high, medium or low", truncate(sev, 64)), nil)
		}
		if f.severities == nil {
			f.severities = map[string]bool{}
		}
		f.severities[sev] = true
	}
	return f, nil
}

func (f *listFilter) matches(issue *platformv1alpha1.Issue) bool {
	res := issue.Spec.Resource
	switch {
	case f.states != nil && !f.states[incidentState(issue)]:
		return false
	case f.severities != nil && !f.severities[string(issue.Spec.Severity)]:
		return false
	case f.kind != "" && f.kind != res.Kind, f.name != "" && f.name != res.Name:
		return false
	case f.namespace != "" && res.Namespace != "" && res.Namespace != f.namespace:
		return false
	case f.uid != "" && f.uid != res.UID:
		return false
	}
	return true
}

// newestFirst is the order of the list: newest first, then by namespace and
// name, so that the order is total and a position in it is a page token.
func newestFirst(a, b pagePosition) int {
	return cmp.Or(cmp.Compare(b.CreatedUnix, a.CreatedUnix), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

func positionOf(issue *platformv1alpha1.Issue) pagePosition {
	return pagePosition{CreatedUnix: issue.CreationTimestamp.Unix(), Namespace: issue.Namespace, Name: issue.Name}
}

// ListIncidents lists incidents, newest first, one page at a time.
func (s *Server) ListIncidents(ctx context.Context, req *correlatorv1.ListIncidentsRequest) (*correlatorv1.ListIncidentsResponse, error) {
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, grpcx.Error(codes.InvalidArgument, "", "page_size cannot be negative", nil)
	case size == 0:
		size = DefaultPageSize
	case size > MaxPageSize:
		size = MaxPageSize
	}
	filter, err := newListFilter(req)
	if err != nil {
		return nil, err
	}
	digest := filterDigest(req)
	var after *pagePosition
	if tok := req.GetPageToken(); tok != "" {
		pos, err := decodePageToken(s.pageKey, digest, tok)
		if err != nil {
			return nil, grpcx.Error(codes.InvalidArgument, grpcx.ReasonInvalidPageToken, err.Error(), nil)
		}
		after = &pos
	}
	list := &platformv1alpha1.IssueList{}
	if err := s.cache.List(ctx, list, client.InNamespace(filter.namespace)); err != nil {
		return nil, apiError(err, "list Issues")
	}
	kept := make([]*platformv1alpha1.Issue, 0, len(list.Items))
	for i := range list.Items {
		issue := &list.Items[i]
		if !filter.matches(issue) {
			continue
		}
		if after != nil && newestFirst(positionOf(issue), *after) <= 0 {
			continue
		}
		kept = append(kept, issue)
	}
	slices.SortFunc(kept, func(a, b *platformv1alpha1.Issue) int { return newestFirst(positionOf(a), positionOf(b)) })
	out := &correlatorv1.ListIncidentsResponse{}
	if len(kept) > size {
		out.NextPageToken = encodePageToken(s.pageKey, digest, positionOf(kept[size-1]))
		kept = kept[:size]
	}
	out.Incidents = make([]*correlatorv1.Incident, 0, len(kept))
	for _, issue := range kept {
		out.Incidents = append(out.Incidents, IncidentFromIssue(issue))
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// The plan states during which an Issue cannot be resolved by hand.
var planInProgress = []platformv1alpha1.PlanState{platformv1alpha1.PlanExecuting, platformv1alpha1.PlanVerifying}
