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
	// Reason says why a signal was rejected.
	Reason string
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
