package signals

import "context"

// IngestStatus is what became of one signal handed to a Sink.
type IngestStatus string

// The ingest outcomes, the same three as WatcherService.IngestSignals.
const (
	IngestCreated   IngestStatus = "created"
	IngestDuplicate IngestStatus = "duplicate"
	IngestRejected  IngestStatus = "rejected"
)

// IngestResult is the outcome for one signal.
type IngestResult struct {
	Status IngestStatus
	// AnomalyName and AnomalyNamespace name the Anomaly created, or the one
	// the signal duplicates.
	AnomalyName      string
	AnomalyNamespace string
	// Code and Reason say why a signal was rejected: a code a caller can
	// act on and a short message. Neither holds API server error text,
	// which names the service account and what exists; that goes to the
	// log.
	Code   RejectCode
	Reason string
}

// RejectCode says in one word why a signal was rejected.
type RejectCode string

// The reasons a Sink rejects a signal.
const (
	// RejectInvalid: the signal itself is malformed.
	RejectInvalid RejectCode = "InvalidArgument"
	// RejectKindNotAllowed: an Anomaly may not be about an object of the kind.
	RejectKindNotAllowed RejectCode = "KindNotAllowed"
	// RejectOutOfScope: no Instance target or selected namespace covers it.
	RejectOutOfScope RejectCode = "OutOfScope"
	// RejectNotFound: the object, or an owner it is attributed through,
	// does not exist (or is being deleted).
	RejectNotFound RejectCode = "NotFound"
	// RejectBudgetExhausted: the source has created as many Anomalies in
	// the namespace as its budget allows for now.
	RejectBudgetExhausted RejectCode = "BudgetExhausted"
	// RejectRefused: the API server refused the Anomaly for good.
	RejectRefused RejectCode = "Refused"
)

// Rejected is the result of a rejected signal.
func Rejected(code RejectCode, reason string) IngestResult {
	return IngestResult{Status: IngestRejected, Code: code, Reason: reason}
}

// RejectionText is the code and the message of a rejection, for replies.
func (r IngestResult) RejectionText() string {
	if r.Code == "" {
		return r.Reason
	}
	return string(r.Code) + ": " + r.Reason
}

// Sink stores signals as Anomalies, exactly once per problem. Every source
// (native detection, Alertmanager, ChatCLI polling, IngestSignals) hands its
// signals to the same Sink.
//
// Signals may name a Pod; attributing it to its top owner is the Sink's
// job. Ingest returns one result per signal, in order: a signal that fails
// validation is rejected on its own and the rest go on. It returns an error
// only when it could not finish (the API server unreachable); callers then
// retry the whole batch, which is safe because dedup keys and deterministic
// Anomaly names make Ingest idempotent.
type Sink interface {
	Ingest(ctx context.Context, batch []Signal) ([]IngestResult, error)
}
