package v1alpha1

// Lengths of the Anomaly's free text, as its schema has them (the
// MaxLength markers on AnomalySpec). Every source cuts outside text to
// these before it builds a signal, so the API server never refuses a
// signal for its length.
const (
	// MaxDescriptionLength bounds spec.description, and the description
	// of Issues, steps and actions.
	MaxDescriptionLength = 4096
	// MaxMeasurementLength bounds spec.value and spec.threshold.
	MaxMeasurementLength = 64
	// MaxEvidence bounds spec.evidence, and MaxEvidenceMessageLength the
	// message of each entry.
	MaxEvidence              = 8
	MaxEvidenceMessageLength = 1024
)
