package grpcserver

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	chatcliv1 "github.com/chatcli/aiops/proto/chatcli/v1"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/chatcli"
)

// DefaultAlertWindow is how far back GetAlerts looks by default.
const DefaultAlertWindow = 30 * time.Minute

// MaxAlerts caps one GetAlerts answer; the newest alerts are kept.
const MaxAlerts = 500

// ChatCLICompatOptions tune a ChatCLICompatServer. The zero value uses the
// defaults.
type ChatCLICompatOptions struct {
	// Window is how recently an Anomaly must have been detected to be an
	// alert; zero means DefaultAlertWindow.
	Window time.Duration
	// Now returns the current time; nil means time.Now. Tests fix it.
	Now func() time.Time
}

// ChatCLICompatServer serves chatcli.v1 GetAlerts from the Anomalies, so
// that tools written to poll a ChatCLI server can poll the watcher-bridge.
// AnalyzeIssue and AgenticStep answer Unimplemented; the analyzer serves
// them.
type ChatCLICompatServer struct {
	chatcliv1.UnimplementedChatCLIServiceServer

	reader client.Reader
	window time.Duration
	now    func() time.Time
}

// NewChatCLICompatServer returns a server that lists Anomalies from reader,
// normally the manager's cache.
func NewChatCLICompatServer(reader client.Reader, opts ChatCLICompatOptions) (*ChatCLICompatServer, error) {
	if reader == nil {
		return nil, errors.New("ChatCLI compat gRPC server needs a reader for Anomalies")
	}
	if opts.Window <= 0 {
		opts.Window = DefaultAlertWindow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &ChatCLICompatServer{reader: reader, window: opts.Window, now: opts.Now}, nil
}

// GetAlerts returns the Anomalies detected within the window as ChatCLI
// watcher alerts, newest first and at most MaxAlerts. The request's
// namespace matches the alert's namespace, which is the resource's (so a
// Node's alerts match no namespace filter); deployment matches the name of
// a Deployment resource.
//
// Errors: Unavailable when the Anomalies cannot be listed.
func (c *ChatCLICompatServer) GetAlerts(ctx context.Context, req *chatcliv1.GetAlertsRequest) (*chatcliv1.GetAlertsResponse, error) {
	var list platformv1alpha1.AnomalyList
	// The items are only read, so the cache may hand out its own copies.
	opts := []client.ListOption{client.UnsafeDisableDeepCopy}
	if ns := req.GetNamespace(); ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := c.reader.List(ctx, &list, opts...); err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, status.Errorf(codes.Unavailable, "list Anomalies: %v", err)
	}
	return &chatcliv1.GetAlertsResponse{
		Alerts: selectAlerts(list.Items, req, c.now().Add(-c.window), MaxAlerts),
	}, nil
}

// selectAlerts keeps the anomalies that match req and were detected at or
// after since, sorts them newest first (then by namespace and name, for a
// stable order) and converts at most limit of them.
func selectAlerts(items []platformv1alpha1.Anomaly, req *chatcliv1.GetAlertsRequest, since time.Time, limit int) []*chatcliv1.WatcherAlert {
	var kept []*platformv1alpha1.Anomaly
	for i := range items {
		a := &items[i]
		res := a.Spec.Resource
		switch {
		case a.Spec.DetectedAt.Time.Before(since):
		case req.GetNamespace() != "" && res.Namespace != req.GetNamespace():
		case req.GetDeployment() != "" && (res.Kind != string(platformv1alpha1.KindDeployment) || res.Name != req.GetDeployment()):
		default:
			kept = append(kept, a)
		}
	}
	slices.SortFunc(kept, func(x, y *platformv1alpha1.Anomaly) int {
		return cmp.Or(
			y.Spec.DetectedAt.Compare(x.Spec.DetectedAt.Time),
			cmp.Compare(x.Namespace, y.Namespace),
			cmp.Compare(x.Name, y.Name),
		)
	})
	if len(kept) > limit {
		kept = kept[:limit]
	}
	alerts := make([]*chatcliv1.WatcherAlert, 0, len(kept))
	for _, a := range kept {
		alerts = append(alerts, alertFromAnomaly(a))
	}
	return alerts
}

// alertSeverity maps a signal severity onto the three words a ChatCLI
// watcher uses, so that clients written for it understand every alert:
// critical and high are CRITICAL, medium and warning are WARNING, low and
// info are INFO. The mapping loses the high/critical and low/info
// distinctions; the Anomaly keeps them. An unknown severity is upper-cased.
func alertSeverity(s platformv1alpha1.SignalSeverity) string {
	switch s {
	case platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityCritical), platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityHigh):
		return "CRITICAL"
	case platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityMedium), platformv1alpha1.SignalSeverityWarning:
		return "WARNING"
	case platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityLow), platformv1alpha1.SignalSeverityInfo:
		return "INFO"
	default:
		return strings.ToUpper(string(s))
	}
}

// alertFromAnomaly converts one Anomaly.
func alertFromAnomaly(a *platformv1alpha1.Anomaly) *chatcliv1.WatcherAlert {
	res := a.Spec.Resource
	alert := &chatcliv1.WatcherAlert{
		Type:          chatcli.AlertType(a.Spec.SignalType),
		Severity:      alertSeverity(a.Spec.Severity),
		Message:       a.Spec.Description,
		Object:        res.Kind + "/" + res.Name,
		Namespace:     res.Namespace,
		TimestampUnix: a.Spec.DetectedAt.Unix(),
	}
	if alert.Message == "" {
		alert.Message = alert.Type + " on " + alert.Object
	}
	if res.Kind == string(platformv1alpha1.KindDeployment) {
		alert.Deployment = res.Name
	}
	return alert
}
