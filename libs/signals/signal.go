// Package signals is the platform's model of one detected problem before it
// becomes an Anomaly: what it is, which workload it is about, and the keys
// that make its detection exactly-once.
package signals

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Signal is one detected problem.
type Signal struct {
	Type     platformv1alpha1.SignalType
	Source   platformv1alpha1.Source
	Severity platformv1alpha1.SignalSeverity
	// Resource is the object the signal is about, after attribution to
	// its top owner (a Pod's signal names its Deployment). Its UID tells a
	// recreated object from its predecessor; it is empty when the source
	// does not know it (Alertmanager labels).
	Resource    platformv1alpha1.ResourceReference
	Description string
	DetectedAt  time.Time
	// Value and Threshold are what was measured and the limit it crossed,
	// where known.
	Value     string
	Threshold string
	// Labels carry source details (alertname, container) for people; they
	// are not part of the dedup key.
	Labels map[string]string
	// Evidence are symptoms a detector folded into this signal, their
	// cause; they are not part of the dedup key. Anomaly keeps the first
	// MaxEvidence.
	Evidence []platformv1alpha1.AnomalyEvidence
}

// Limits on free text, matching the Anomaly schema.
const (
	maxDescription = platformv1alpha1.MaxDescriptionLength
	maxValue       = platformv1alpha1.MaxMeasurementLength
)

// kindPattern is the shape of a kind name, as the Anomaly schema has it.
var kindPattern = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,62}$`)

// clusterScopedKinds need no namespace.
var clusterScopedKinds = map[string]bool{"Node": true, "PersistentVolume": true}

// Validate reports every reason the signal cannot become an Anomaly.
func (s Signal) Validate() error {
	var errs []error
	if !s.Type.IsValid() {
		errs = append(errs, fmt.Errorf("unknown signal type %q", s.Type))
	}
	if !s.Source.IsValid() {
		errs = append(errs, fmt.Errorf("unknown source %q", s.Source))
	}
	if !s.Severity.IsValid() {
		errs = append(errs, fmt.Errorf("unknown severity %q", s.Severity))
	}
	if s.Resource.Kind == "" || s.Resource.Name == "" {
		errs = append(errs, errors.New("resource kind and name are required"))
	}
	if s.Resource.Kind != "" && !kindPattern.MatchString(s.Resource.Kind) {
		errs = append(errs, fmt.Errorf("resource kind %q is not a Kubernetes kind (like Deployment)", s.Resource.Kind))
	}
	if s.Resource.Name != "" && len(validation.IsDNS1123Subdomain(s.Resource.Name)) > 0 {
		errs = append(errs, fmt.Errorf("resource name %q is not a valid object name", s.Resource.Name))
	}
	if s.Resource.Kind != "" && !clusterScopedKinds[s.Resource.Kind] && s.Resource.Namespace == "" {
		errs = append(errs, fmt.Errorf("resource namespace is required for kind %s", s.Resource.Kind))
	}
	if s.Resource.Namespace != "" && len(validation.IsDNS1123Label(s.Resource.Namespace)) > 0 {
		errs = append(errs, fmt.Errorf("resource namespace %q is not a valid namespace", s.Resource.Namespace))
	}
	if s.DetectedAt.IsZero() {
		errs = append(errs, errors.New("detectedAt is required"))
	}
	if len(s.Description) > maxDescription {
		errs = append(errs, fmt.Errorf("description is longer than %d bytes", maxDescription))
	}
	if len(s.Value) > maxValue || len(s.Threshold) > maxValue {
		errs = append(errs, fmt.Errorf("value and threshold are limited to %d bytes", maxValue))
	}
	return errors.Join(errs...)
}

// DedupKey is the SHA-256 of signal type, kind, namespace, name and UID, in
// hex. The same problem on the same object always has the same key; a
// recreated object (new UID) has a new one.
func (s Signal) DedupKey() string {
	h := sha256.New()
	for _, part := range []string{string(s.Type), s.Resource.Kind, s.Resource.Namespace, s.Resource.Name, string(s.Resource.UID)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AnomalyName is the deterministic name of the Anomaly for this signal in
// the given generation. Generation 0 is the first incident of the problem;
// the next generation is used once the Issue of the previous one has ended,
// so a retry after a crash collides (AlreadyExists) while a recurrence does
// not.
//
// The name is at most 63 characters, a DNS label: the longest name any
// tool or label value takes for an object without complaint.
func (s Signal) AnomalyName(generation int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", s.DedupKey(), generation)))
	prefix := dnsLabelPart(strings.ReplaceAll(string(s.Type), "_", "-")+"-"+s.Resource.Name, maxNamePrefix)
	return prefix + "-" + hex.EncodeToString(sum[:])[:nameHashLength]
}

// An Anomaly's name is a readable prefix and a hash, within a DNS label.
const (
	nameHashLength = 12
	maxNamePrefix  = validation.DNS1123LabelMaxLength - 1 - nameHashLength
)

// dnsLabelPart lowercases s, replaces what a DNS label cannot hold with '-',
// and cuts it to max characters.
func dnsLabelPart(s string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if b.Len() >= max {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}
