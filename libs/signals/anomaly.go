package signals

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Anomaly builds the Anomaly for the signal. Cluster-scoped resources (Nodes)
// have their Anomalies in fallbackNamespace.
func (s Signal) Anomaly(name, fallbackNamespace string, generation int) *platformv1alpha1.Anomaly {
	namespace := s.Resource.Namespace
	if namespace == "" {
		namespace = fallbackNamespace
	}
	return &platformv1alpha1.Anomaly{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: namespace,
			Labels: map[string]string{
				// A label value holds at most 63 characters.
				platformv1alpha1.LabelDedupKey:     s.DedupKey()[:63],
				platformv1alpha1.LabelSignalType:   string(s.Type),
				platformv1alpha1.LabelResourceKind: s.Resource.Kind,
				platformv1alpha1.LabelResourceName: dnsLabelPart(s.Resource.Name, 63),
				platformv1alpha1.LabelGeneration:   strconv.Itoa(generation),
			},
		},
		Spec: platformv1alpha1.AnomalySpec{
			SignalType: s.Type,
			Source:     s.Source,
			Severity:   s.Severity,
			Resource: platformv1alpha1.ResourceReference{
				Kind:      s.Resource.Kind,
				Name:      s.Resource.Name,
				Namespace: s.Resource.Namespace,
				UID:       s.Resource.UID,
			},
			Description: CleanText(s.Description),
			DetectedAt:  metav1.NewTime(s.DetectedAt),
			Value:       CleanText(s.Value),
			Threshold:   CleanText(s.Threshold),
			Evidence:    cleanEvidence(s.Evidence),
		},
	}
}

// cleanEvidence bounds the evidence to what the Anomaly schema takes.
func cleanEvidence(in []platformv1alpha1.AnomalyEvidence) []platformv1alpha1.AnomalyEvidence {
	if len(in) == 0 {
		return nil
	}
	out := make([]platformv1alpha1.AnomalyEvidence, 0, min(len(in), platformv1alpha1.MaxEvidence))
	for _, e := range in {
		if len(out) == platformv1alpha1.MaxEvidence {
			break
		}
		out = append(out, platformv1alpha1.AnomalyEvidence{
			SignalType: e.SignalType,
			Value:      CleanText(Truncate(e.Value, maxValue)),
			Message:    CleanText(Truncate(e.Message, platformv1alpha1.MaxEvidenceMessageLength)),
		})
	}
	return out
}
