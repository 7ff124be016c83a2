package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/signals"
	watcherv1 "github.com/chatcli/aiops/proto/chatcli/platform/watcher/v1"
)

// MaxIngestBatch is the most signals one IngestSignals call may carry. It
// bounds the work (and the Sink's API server writes) behind one request;
// callers with more split them into several batches.
const MaxIngestBatch = 1000

// placeholderTime stands in for a missing detected_at while the rest of a
// signal is validated; it is never stored.
var placeholderTime = time.Unix(1, 0)

// IngestSignals validates each signal on its own, hands the valid ones to
// the Sink in one batch and answers one result per signal in request order.
// A rejected signal's reason is a code, ": " and a short message:
// "InvalidArgument: " and every problem found, joined by "; ", for a
// signal that is malformed (one holding a string that is not UTF-8
// included), or the Sink's code (OutOfScope, NotFound, ...).
//
// Errors: InvalidArgument for an empty batch or one over MaxIngestBatch;
// Unavailable when the Sink could not finish (the API server unreachable),
// in which case the whole batch is safe to retry; Internal when the Sink
// breaks its contract.
func (w *WatcherServer) IngestSignals(ctx context.Context, req *watcherv1.IngestSignalsRequest) (*watcherv1.IngestSignalsResponse, error) {
	in := req.GetSignals()
	switch {
	case len(in) == 0:
		return nil, status.Error(codes.InvalidArgument, "signals is empty: send at least one signal")
	case len(in) > MaxIngestBatch:
		return nil, status.Errorf(codes.InvalidArgument,
			"batch holds %d signals, over the limit of %d per call: split it into smaller batches", len(in), MaxIngestBatch)
	}

	results := make([]*watcherv1.IngestResult, len(in))
	valid := make([]signals.Signal, 0, len(in))
	positions := make([]int, 0, len(in)) // positions[j] is the request index of valid[j]
	undecodable := undecodableSignals(ctx)
	for i, p := range in {
		if undecodable[i] {
			results[i] = rejectedResult(signals.Rejected(signals.RejectInvalid, "the signal is not a valid Signal message: a string in it is not UTF-8"))
			continue
		}
		s, err := signalFromProto(p)
		if err != nil {
			results[i] = rejectedResult(signals.Rejected(signals.RejectInvalid, err.Error()))
			continue
		}
		valid = append(valid, s)
		positions = append(positions, i)
	}
	if len(valid) == 0 {
		return &watcherv1.IngestSignalsResponse{Results: results}, nil
	}

	stored, err := w.sink.Ingest(ctx, valid)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, status.FromContextError(ctxErr).Err()
		}
		w.log.Error(err, "Failed to store signal batch", "signals", len(valid))
		// The cause names API server details; it is in the log.
		return nil, status.Error(codes.Unavailable, "the signals could not be stored; the batch is safe to retry")
	}
	if len(stored) != len(valid) {
		w.log.Error(nil, "Sink answered the wrong number of results", "signals", len(valid), "results", len(stored))
		return nil, status.Errorf(codes.Internal, "sink returned %d results for %d signals", len(stored), len(valid))
	}
	for j, r := range stored {
		res, err := resultToProto(r)
		if err != nil {
			w.log.Error(err, "Sink answered an unknown status")
			return nil, status.Error(codes.Internal, err.Error())
		}
		results[positions[j]] = res
	}
	return &watcherv1.IngestSignalsResponse{Results: results}, nil
}

// signalFromProto converts one wire signal and validates it. Missing
// required fields are reported by name ("source is required"); everything
// else is checked by signals.Signal.Validate, the one rule set every source
// shares. The returned error lists every problem found.
func signalFromProto(p *watcherv1.Signal) (signals.Signal, error) {
	s := signals.Signal{
		Type:        platformv1alpha1.SignalType(p.GetSignalType()),
		Source:      platformv1alpha1.Source(p.GetSource()),
		Severity:    platformv1alpha1.SignalSeverity(p.GetSeverity()),
		Description: p.GetDescription(),
		Value:       p.GetValue(),
		Threshold:   p.GetThreshold(),
		Labels:      maps.Clone(p.GetLabels()),
	}
	if r := p.GetResource(); r != nil {
		s.Resource = platformv1alpha1.ResourceReference{Kind: r.GetKind(), Namespace: r.GetNamespace(), Name: r.GetName(), UID: types.UID(r.GetUid())}
	}

	// probe is s with valid placeholders in the missing fields, so that
	// Validate does not report a missing field a second time as "unknown".
	probe := s
	var problems []string
	if s.Type == "" {
		problems = append(problems, "signal_type is required")
		probe.Type = platformv1alpha1.SignalTypes[0]
	}
	if s.Source == "" {
		problems = append(problems, "source is required")
		probe.Source = platformv1alpha1.Sources[0]
	}
	if s.Severity == "" {
		problems = append(problems, "severity is required")
		probe.Severity = platformv1alpha1.SignalSeverities[0]
	}
	ts := p.GetDetectedAt()
	if ts == nil || (ts.GetSeconds() == 0 && ts.GetNanos() == 0) {
		// The epoch is what an unset timestamp looks like in many clients;
		// the time of a signal is never defaulted.
		problems = append(problems, "detected_at is required")
		probe.DetectedAt = placeholderTime
	} else if err := ts.CheckValid(); err != nil {
		problems = append(problems, fmt.Sprintf("detected_at is not a valid timestamp: %v", err))
		probe.DetectedAt = placeholderTime
	} else {
		s.DetectedAt = ts.AsTime()
		probe.DetectedAt = s.DetectedAt
	}
	problems = append(problems, errorList(probe.Validate())...)
	if len(problems) > 0 {
		return signals.Signal{}, errors.New(strings.Join(problems, "; "))
	}
	return s, nil
}

// errorList splits an errors.Join result into its messages.
func errorList(err error) []string {
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range joined.Unwrap() {
		out = append(out, errorList(e)...)
	}
	return out
}

// resultToProto converts one Sink result.
func resultToProto(r signals.IngestResult) (*watcherv1.IngestResult, error) {
	out := &watcherv1.IngestResult{AnomalyName: r.AnomalyName, AnomalyNamespace: r.AnomalyNamespace}
	switch r.Status {
	case signals.IngestCreated:
		out.Status = watcherv1.IngestStatus_INGEST_STATUS_CREATED
	case signals.IngestDuplicate:
		out.Status = watcherv1.IngestStatus_INGEST_STATUS_DUPLICATE
	case signals.IngestRejected:
		return rejectedResult(r), nil
	default:
		return nil, fmt.Errorf("sink returned unknown ingest status %q", r.Status)
	}
	return out, nil
}

func rejectedResult(r signals.IngestResult) *watcherv1.IngestResult {
	return &watcherv1.IngestResult{Status: watcherv1.IngestStatus_INGEST_STATUS_REJECTED, Reason: r.RejectionText()}
}
