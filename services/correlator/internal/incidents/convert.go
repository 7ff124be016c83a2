package incidents

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	commonv1 "github.com/chatcli/aiops/proto/chatcli/platform/common/v1"
	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
	postmortemv1 "github.com/chatcli/aiops/proto/chatcli/platform/postmortem/v1"
	remediatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/remediator/v1"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

// The conversions from the platform's objects to the API's views. They
// only read, and every optional field stays unset when the object lacks it.

var issueStates = map[platformv1alpha1.IssueState]correlatorv1.IncidentState{
	// An Issue the Issue reconciler has not seen yet has no state: it was
	// just detected.
	"":                                correlatorv1.IncidentState_INCIDENT_STATE_DETECTED,
	platformv1alpha1.IssueDetected:    correlatorv1.IncidentState_INCIDENT_STATE_DETECTED,
	platformv1alpha1.IssueAnalyzing:   correlatorv1.IncidentState_INCIDENT_STATE_ANALYZING,
	platformv1alpha1.IssueRemediating: correlatorv1.IncidentState_INCIDENT_STATE_REMEDIATING,
	platformv1alpha1.IssueResolved:    correlatorv1.IncidentState_INCIDENT_STATE_RESOLVED,
	platformv1alpha1.IssueEscalated:   correlatorv1.IncidentState_INCIDENT_STATE_ESCALATED,
}

// incidentState is the API state of issue; a state this version does not
// know is UNSPECIFIED.
func incidentState(issue *platformv1alpha1.Issue) correlatorv1.IncidentState {
	return issueStates[issue.Status.State]
}

func timestamp(t *metav1.Time) *timestamppb.Timestamp {
	if t == nil || t.IsZero() {
		return nil
	}
	return timestamppb.New(t.Time)
}

func resourceRef(r platformv1alpha1.ResourceReference) *commonv1.ResourceRef {
	return &commonv1.ResourceRef{Kind: r.Kind, Name: r.Name, Namespace: r.Namespace, Uid: string(r.UID)}
}

func timeline(entries []platformv1alpha1.TimelineEntry) []*commonv1.TimelineEntry {
	out := make([]*commonv1.TimelineEntry, 0, len(entries))
	for i := range entries {
		e := &entries[i]
		out = append(out, &commonv1.TimelineEntry{Timestamp: timestamp(&e.Timestamp), Type: e.Type, Detail: e.Detail})
	}
	return out
}

func refName(r *platformv1alpha1.LocalObjectReference) string {
	if r == nil {
		return ""
	}
	return r.Name
}

// IncidentFromIssue is the view of one Issue. acknowledged_by and
// acknowledged_at come from the request annotations, so they show as soon
// as AcknowledgeIssue has recorded them.
func IncidentFromIssue(issue *platformv1alpha1.Issue) *correlatorv1.Incident {
	st := &issue.Status
	out := &correlatorv1.Incident{
		Name:                   issue.Name,
		Namespace:              issue.Namespace,
		IncidentId:             st.IncidentID,
		State:                  incidentState(issue),
		Severity:               string(issue.Spec.Severity),
		SignalType:             string(issue.Spec.SignalType),
		Resource:               resourceRef(issue.Spec.Resource),
		RiskScore:              issue.Spec.RiskScore,
		RemediationAttempts:    st.RemediationAttempts,
		MaxRemediationAttempts: st.MaxRemediationAttempts,
		RelatedAnomalies:       append([]string(nil), st.RelatedAnomalies...),
		Timeline:               timeline(st.Timeline),
		DetectedAt:             timestamp(st.DetectedAt),
		ResolvedAt:             timestamp(st.ResolvedAt),
		Uid:                    string(issue.UID),
		EscalatedAt:            timestamp(st.EscalatedAt),
		Resolution:             st.Resolution,
		InsightName:            refName(st.InsightRef),
		PlanName:               refName(st.PlanRef),
		AcknowledgedBy:         issue.Annotations[platformv1alpha1.AnnotationAcknowledgedBy],
	}
	if out.IncidentId == "" {
		// The label is written before the status, by the same pass.
		out.IncidentId = issue.Labels[platformv1alpha1.LabelIncidentID]
	}
	if out.DetectedAt == nil {
		out.DetectedAt = timestamp(&issue.CreationTimestamp)
	}
	if at, err := time.Parse(time.RFC3339, issue.Annotations[platformv1alpha1.AnnotationAcknowledgedAt]); err == nil && out.AcknowledgedBy != "" {
		out.AcknowledgedAt = timestamppb.New(at)
	}
	return out
}

// anomalyView is the Anomaly as WatcherService streams it. The resource uid
// is not kept on the Anomaly's view there either, but here it is, when the
// Anomaly has it.
func anomalyView(a *platformv1alpha1.Anomaly) *watcherv1.Anomaly {
	spec := &a.Spec
	return &watcherv1.Anomaly{
		Name:      a.Name,
		Namespace: a.Namespace,
		Signal: &watcherv1.Signal{
			SignalType:  string(spec.SignalType),
			Source:      string(spec.Source),
			Severity:    string(spec.Severity),
			Resource:    resourceRef(spec.Resource),
			Description: spec.Description,
			Value:       spec.Value,
			Threshold:   spec.Threshold,
			DetectedAt:  timestamp(&spec.DetectedAt),
		},
		DedupKey:  a.Labels[platformv1alpha1.LabelDedupKey],
		CreatedAt: timestamp(&a.CreationTimestamp),
	}
}

func insightView(in *platformv1alpha1.AIInsight) *correlatorv1.Insight {
	st := &in.Status
	out := &correlatorv1.Insight{
		Name:            in.Name,
		Namespace:       in.Namespace,
		Provider:        string(in.Spec.Provider),
		Model:           in.Spec.Model,
		Analysis:        st.Analysis,
		Recommendations: append([]string(nil), st.Recommendations...),
		Ready:           meta.IsStatusConditionTrue(st.Conditions, platformv1alpha1.AIInsightReadyCondition),
		GeneratedAt:     timestamp(st.GeneratedAt),
		CreatedAt:       timestamp(&in.CreationTimestamp),
	}
	// What answered, when it differs from what was asked (a fallback to
	// BUILTIN).
	if st.Provider != "" {
		out.Provider = string(st.Provider)
	}
	if st.Model != "" {
		out.Model = st.Model
	}
	if st.Confidence != nil {
		out.Confidence = float32(*st.Confidence)
	}
	for _, a := range st.SuggestedActions {
		out.SuggestedActions = append(out.SuggestedActions, &commonv1.Action{Type: string(a.Action), Params: copyParams(a.Params)})
	}
	return out
}

func copyParams(p platformv1alpha1.ActionParams) map[string]string {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]string, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

var planStates = map[platformv1alpha1.PlanState]remediatorv1.PlanState{
	platformv1alpha1.PlanPending:         remediatorv1.PlanState_PLAN_STATE_PENDING,
	platformv1alpha1.PlanWaitingApproval: remediatorv1.PlanState_PLAN_STATE_WAITING_APPROVAL,
	platformv1alpha1.PlanExecuting:       remediatorv1.PlanState_PLAN_STATE_EXECUTING,
	platformv1alpha1.PlanVerifying:       remediatorv1.PlanState_PLAN_STATE_VERIFYING,
	platformv1alpha1.PlanCompleted:       remediatorv1.PlanState_PLAN_STATE_COMPLETED,
	platformv1alpha1.PlanFailed:          remediatorv1.PlanState_PLAN_STATE_FAILED,
	platformv1alpha1.PlanRolledBack:      remediatorv1.PlanState_PLAN_STATE_ROLLED_BACK,
}

// planSource is the tier a plan came from: a Runbook (manual or
// generated), the agentic loop, else the insight's suggested actions.
func planSource(p *platformv1alpha1.RemediationPlan) remediatorv1.PlanSource {
	switch {
	case p.Spec.RunbookRef != nil:
		return remediatorv1.PlanSource_PLAN_SOURCE_RUNBOOK
	case p.Spec.AgenticMode:
		return remediatorv1.PlanSource_PLAN_SOURCE_AGENTIC
	default:
		return remediatorv1.PlanSource_PLAN_SOURCE_AI_ACTIONS
	}
}

func planView(p *platformv1alpha1.RemediationPlan) *remediatorv1.Plan {
	out := &remediatorv1.Plan{
		Name:             p.Name,
		Namespace:        p.Namespace,
		Issue:            &commonv1.ObjectRef{Namespace: p.Namespace, Name: p.Spec.IssueRef.Name},
		Attempt:          p.Spec.Attempt,
		Source:           planSource(p),
		Strategy:         p.Spec.Strategy,
		RunbookName:      refName(p.Spec.RunbookRef),
		State:            planStates[p.Status.State],
		ApprovalRequired: p.Spec.Approval != nil && p.Spec.Approval.Required,
		Result:           p.Status.Result,
		CreatedAt:        timestamp(&p.CreationTimestamp),
		CompletedAt:      timestamp(p.Status.CompletedAt),
		Uid:              string(p.UID),
		Generation:       p.Generation,
	}
	for _, a := range p.Spec.Actions {
		out.Actions = append(out.Actions, &commonv1.Action{Type: string(a.Type), Params: copyParams(a.Params)})
	}
	for _, r := range p.Status.ActionResults {
		out.ActionResults = append(out.ActionResults, &commonv1.ExecutedAction{
			Action:    &commonv1.Action{Type: string(r.Type), Params: copyParams(r.Params)},
			Result:    string(r.Result),
			Message:   r.Message,
			Timestamp: timestamp(r.Timestamp),
		})
	}
	return out
}

var postMortemStates = map[platformv1alpha1.PostMortemState]postmortemv1.PostMortemState{
	platformv1alpha1.PostMortemOpen:     postmortemv1.PostMortemState_POST_MORTEM_STATE_OPEN,
	platformv1alpha1.PostMortemInReview: postmortemv1.PostMortemState_POST_MORTEM_STATE_IN_REVIEW,
	platformv1alpha1.PostMortemClosed:   postmortemv1.PostMortemState_POST_MORTEM_STATE_CLOSED,
}

func postMortemView(pm *platformv1alpha1.PostMortem) *postmortemv1.PostMortem {
	st := &pm.Status
	out := &postmortemv1.PostMortem{
		Name:              pm.Name,
		Namespace:         pm.Namespace,
		Issue:             &commonv1.ObjectRef{Namespace: pm.Namespace, Name: pm.Spec.IssueRef.Name},
		IncidentId:        pm.Spec.IncidentID,
		Resource:          resourceRef(pm.Spec.Resource),
		Severity:          string(pm.Spec.Severity),
		State:             postMortemStates[st.State],
		Summary:           st.Summary,
		RootCause:         st.RootCause,
		Impact:            st.Impact,
		Timeline:          timeline(st.Timeline),
		LessonsLearned:    append([]string(nil), st.LessonsLearned...),
		PreventionActions: append([]string(nil), st.PreventionActions...),
		GeneratedAt:       timestamp(st.GeneratedAt),
	}
	if st.Duration != nil {
		out.Duration = st.Duration.Duration.String()
	}
	for _, a := range st.ActionsExecuted {
		out.ActionsExecuted = append(out.ActionsExecuted, &commonv1.ExecutedAction{
			Action:    &commonv1.Action{Type: string(a.Action), Params: copyParams(a.Params)},
			Result:    string(a.Result),
			Timestamp: timestamp(a.Timestamp),
		})
	}
	return out
}
