package v1alpha1

// Labels the watcher-bridge puts on every Anomaly it creates, so that the
// correlator, the watcher-bridge's other replicas and people can select
// Anomalies without parsing their names. Label values hold at most 63
// characters.
const (
	// LabelDedupKey holds the first 63 hex digits of the signal's dedup
	// key (the SHA-256 of signal type, kind, namespace, name and uid). All
	// generations of one problem on one object share it.
	LabelDedupKey = "platform.chatcli.io/dedup-key"

	// LabelGeneration holds the generation of the Anomaly, in decimal:
	// 0 for the first incident of a problem, and one more for each
	// recurrence after the Issue of the previous generation was resolved.
	// The generation is part of the Anomaly's deterministic name; see
	// Anomaly for the recurrence contract.
	LabelGeneration = "platform.chatcli.io/dedup-generation"

	// LabelSignalType holds spec.signalType.
	LabelSignalType = "platform.chatcli.io/signal-type"

	// LabelResourceKind holds spec.resource.kind.
	LabelResourceKind = "platform.chatcli.io/resource-kind"

	// LabelResourceName holds spec.resource.name, lowercased and cut to 63
	// characters of a DNS label.
	LabelResourceName = "platform.chatcli.io/resource-name"
)

// LabelRunbookGenerated marks a Runbook the remediator generated (from AI
// suggested actions, or promoted from a successful plan), with the value
// "true". The name is the seed's. Such a Runbook also has spec.origin
// Generated; a manual Runbook takes precedence over it.
const LabelRunbookGenerated = "platform.chatcli.io/auto-generated"

// LabelInstance on a Secret names the Instance (in the same namespace) that
// may use it. The watcher-bridge reads an Instance's TLS CA and token only
// from Secrets the Instance owns (an ownerReference to its uid) or that
// carry this label with its name: otherwise anyone who may create an
// Instance could make the watcher-bridge read any Secret of the namespace
// and send it to an endpoint of their choosing.
const LabelInstance = "platform.chatcli.io/instance"

// Labels and annotations the correlator keeps on Issues and Anomalies.
const (
	// LabelResourceKey on an Issue holds 40 hex digits of the SHA-256 of
	// its resource's kind, namespace and name, so that every incident of
	// one resource is one label selector away.
	LabelResourceKey = "platform.chatcli.io/resource-key"

	// LabelIncidentGeneration on an Issue counts the incidents of its
	// resource from 0; with the resource it makes the Issue's
	// deterministic name.
	LabelIncidentGeneration = "platform.chatcli.io/incident-generation"

	// LabelIncidentID on an Issue holds its INC-YYYYMMDD-NNN id, so that an
	// id the daily sequence hands out again (after Redis lost its data) is
	// found taken.
	LabelIncidentID = "platform.chatcli.io/incident-id"

	// LabelIssue on an Anomaly names the Issue it was correlated into, so
	// the Issue's reconciler can list its Anomalies.
	LabelIssue = "platform.chatcli.io/issue"

	// AnnotationSignalTypes on an Issue lists the distinct signal types of
	// its Anomalies, comma-separated and sorted: the set its risk score is
	// the sum of, so that replaying an Anomaly adds nothing.
	AnnotationSignalTypes = "platform.chatcli.io/signal-types"
)

// Annotations that record a person's request on an Issue. The
// correlator's API handlers (on any replica) write them, and only them;
// the leader's Issue reconciler acts on them and writes the status. Each
// request is recorded once: the first (person, time, reason) is kept.
const (
	// AnnotationAcknowledgedBy, AnnotationAcknowledgedAt (RFC 3339) and
	// AnnotationAcknowledgeReason: a person has taken up the incident. The
	// state does not change; the timeline gets an "acknowledged" entry.
	AnnotationAcknowledgedBy    = "platform.chatcli.io/acknowledged-by"
	AnnotationAcknowledgedAt    = "platform.chatcli.io/acknowledged-at"
	AnnotationAcknowledgeReason = "platform.chatcli.io/acknowledge-reason"

	// AnnotationResolveRequestedBy, AnnotationResolveRequestedAt and
	// AnnotationResolveReason: resolve the incident by hand; the reason
	// becomes the resolution.
	AnnotationResolveRequestedBy = "platform.chatcli.io/resolve-requested-by"
	AnnotationResolveRequestedAt = "platform.chatcli.io/resolve-requested-at"
	AnnotationResolveReason      = "platform.chatcli.io/resolve-reason"

	// AnnotationEscalateRequestedBy, AnnotationEscalateRequestedAt and
	// AnnotationEscalateReason: escalate the incident now.
	AnnotationEscalateRequestedBy = "platform.chatcli.io/escalate-requested-by"
	AnnotationEscalateRequestedAt = "platform.chatcli.io/escalate-requested-at"
	AnnotationEscalateReason      = "platform.chatcli.io/escalate-reason"
)

// FinalizerIssueAnomalies holds a deleted Issue until its Anomalies have
// moved to another Issue (or been let go), so that none is left naming an
// Issue that is gone and a new Issue never takes the deleted one's name.
// The correlator creates every Issue with it and removes it.
const FinalizerIssueAnomalies = "platform.chatcli.io/anomalies"

// LabelPlanSource on a RemediationPlan says which tier of the remediator
// made it: PlanSourceRunbook, PlanSourceAIActions or PlanSourceAgentic.
const LabelPlanSource = "platform.chatcli.io/plan-source"

// The values of LabelPlanSource.
const (
	PlanSourceRunbook   = "runbook"
	PlanSourceAIActions = "ai-actions"
	PlanSourceAgentic   = "agentic"
)

// AnnotationRunbook on a RemediationPlan names the Runbook of the platform
// namespace it came from, as namespace/name (spec.runbookRef names Runbooks
// of the plan's own namespace only).
const AnnotationRunbook = "platform.chatcli.io/runbook"

// AnnotationForceDelete set to "true" on a RemediationPlan lets a person
// delete it before it ends. The remediator's admission webhook refuses the
// deletion of a plan that is not Completed, Failed or RolledBack, because
// the plan may hold its target mid-change; this annotation is the
// deliberate, recorded way past that refusal in an emergency.
const AnnotationForceDelete = "platform.chatcli.io/force-delete"
