package alertmanager

import (
	"fmt"
	"strings"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/signals"
)

// SignalTypeLabel on an alert names its signal type outright and beats
// every rule.
const SignalTypeLabel = "signal_type"

// Limits of the Anomaly schema, which signals.Signal.Validate enforces.
const (
	maxDescriptionBytes = platformv1alpha1.MaxDescriptionLength
	maxValueBytes       = platformv1alpha1.MaxMeasurementLength
)

// ResolvedAlert records an alert that Alertmanager reports as resolved.
// It never becomes a signal: an Issue ends through verification, not
// because an alert stopped firing. SignalType and Resource are set when the
// alert's labels give them.
type ResolvedAlert struct {
	Alertname   string
	Fingerprint string
	SignalType  platformv1alpha1.SignalType
	Resource    platformv1alpha1.ResourceReference
	StartsAt    time.Time
	EndsAt      time.Time
}

// Skipped is a firing alert that could not become a signal, and why.
type Skipped struct {
	// Index is the alert's position in the payload.
	Index       int
	Alertname   string
	Fingerprint string
	Reason      string
}

// resourceLabel is a label that names an object, and that object's kind.
type resourceLabel struct {
	label string
	kind  string
}

// resourceLabels are tried in order. Prometheus' "job" label is the scrape
// job, not a Kubernetes Job, so only kube-state-metrics' job_name counts.
var resourceLabels = []resourceLabel{
	{"deployment", "Deployment"},
	{"statefulset", "StatefulSet"},
	{"daemonset", "DaemonSet"},
	{"cronjob", "CronJob"},
	{"job_name", "Job"},
	{"pod", "Pod"},
	{"node", "Node"},
	{"persistentvolumeclaim", "PersistentVolumeClaim"},
	{"horizontalpodautoscaler", "HorizontalPodAutoscaler"},
}

// preferredLabel names the label to look at first for a signal type whose
// subject is not a workload. A node alert scraped through a pod keeps that
// pod's label, which must not win over the node the alert is about.
var preferredLabel = map[platformv1alpha1.SignalType]resourceLabel{
	platformv1alpha1.SignalNodeNotReady:       {"node", "Node"},
	platformv1alpha1.SignalDiskPressure:       {"node", "Node"},
	platformv1alpha1.SignalPIDPressure:        {"node", "Node"},
	platformv1alpha1.SignalNetworkUnavailable: {"node", "Node"},
	platformv1alpha1.SignalPodCapacityHigh:    {"node", "Node"},
	platformv1alpha1.SignalHPAMaxed:           {"horizontalpodautoscaler", "HorizontalPodAutoscaler"},
	platformv1alpha1.SignalPVCPending:         {"persistentvolumeclaim", "PersistentVolumeClaim"},
	platformv1alpha1.SignalJobFailed:          {"job_name", "Job"},
	platformv1alpha1.SignalCronJobMissed:      {"cronjob", "CronJob"},
}

// Map sorts the payload's alerts into signals (firing alerts that map),
// resolved alerts, and firing alerts skipped with a reason. One bad alert
// never spoils the others.
func (m *Mapper) Map(p *Payload) (firing []signals.Signal, resolved []ResolvedAlert, skipped []Skipped) {
	for i, a := range p.Alerts {
		if a.Status == StatusResolved {
			resolved = append(resolved, m.resolvedAlert(a))
			continue
		}
		s, err := m.signal(a)
		if err != nil {
			skipped = append(skipped, Skipped{Index: i, Alertname: a.Name(), Fingerprint: a.Fingerprint, Reason: err.Error()})
			continue
		}
		firing = append(firing, s)
	}
	return firing, resolved, skipped
}

func (m *Mapper) resolvedAlert(a Alert) ResolvedAlert {
	r := ResolvedAlert{Alertname: a.Name(), Fingerprint: a.Fingerprint, StartsAt: a.StartsAt, EndsAt: a.EndsAt}
	if t, err := m.SignalType(a); err == nil {
		r.SignalType = t
		r.Resource, _ = ResourceFromLabels(a.Labels, t)
	}
	return r
}

// signal builds and validates the signal for one firing alert.
func (m *Mapper) signal(a Alert) (signals.Signal, error) {
	t, err := m.SignalType(a)
	if err != nil {
		return signals.Signal{}, err
	}
	res, ok := ResourceFromLabels(a.Labels, t)
	if !ok {
		return signals.Signal{}, fmt.Errorf("no label names the resource (want namespace and one of %s)", resourceLabelNames())
	}
	s := signals.Signal{
		Type:        t,
		Source:      platformv1alpha1.SourcePrometheus,
		Severity:    Severity(a.Labels["severity"]),
		Resource:    res,
		Description: description(a, res),
		DetectedAt:  a.StartsAt,
		Value:       detail(a, "value"),
		Threshold:   detail(a, "threshold"),
		Labels:      signalLabels(a),
	}
	if err := s.Validate(); err != nil {
		return signals.Signal{}, fmt.Errorf("invalid signal: %w", err)
	}
	return s, nil
}

// SignalType is the alert's signal_type label if it has one, else the type
// of the first rule that matches its alertname.
func (m *Mapper) SignalType(a Alert) (platformv1alpha1.SignalType, error) {
	if v, ok := a.Labels[SignalTypeLabel]; ok {
		t := platformv1alpha1.SignalType(strings.ToLower(strings.TrimSpace(v)))
		if !t.IsValid() {
			return "", fmt.Errorf("label %s=%q is not a known signal type", SignalTypeLabel, v)
		}
		return t, nil
	}
	name := a.Name()
	if name == "" {
		return "", fmt.Errorf("no alertname label and no %s label", SignalTypeLabel)
	}
	if t, ok := m.signalTypeFor(name); ok {
		return t, nil
	}
	return "", fmt.Errorf("no rule maps alertname %q and it has no %s label", name, SignalTypeLabel)
}

// ResourceFromLabels finds the object an alert is about. A pod label gives
// kind Pod; attribution to the pod's top owner is the caller's job. Nodes
// are cluster-scoped and get no namespace.
func ResourceFromLabels(labels map[string]string, t platformv1alpha1.SignalType) (platformv1alpha1.ResourceReference, bool) {
	candidates := resourceLabels
	if p, ok := preferredLabel[t]; ok {
		candidates = append([]resourceLabel{p}, resourceLabels...)
	}
	for _, c := range candidates {
		name := strings.TrimSpace(labels[c.label])
		if name == "" {
			continue
		}
		r := platformv1alpha1.ResourceReference{Kind: c.kind, Name: name}
		if c.kind != "Node" {
			r.Namespace = strings.TrimSpace(labels["namespace"])
		}
		return r, true
	}
	return platformv1alpha1.ResourceReference{}, false
}

func resourceLabelNames() string {
	names := make([]string, len(resourceLabels))
	for i, r := range resourceLabels {
		names[i] = r.label
	}
	return strings.Join(names, ", ")
}

// Severity normalises a severity label to a platform signal severity.
// Unknown words become warning rather than dropping the alert.
func Severity(label string) platformv1alpha1.SignalSeverity {
	s := platformv1alpha1.SignalSeverity(strings.ToLower(strings.TrimSpace(label)))
	switch {
	case s.IsValid():
		return s
	case s == "error":
		return platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityHigh)
	case s == "page":
		return platformv1alpha1.SignalSeverity(platformv1alpha1.SeverityCritical)
	default:
		return platformv1alpha1.SignalSeverityWarning
	}
}

// description prefers the alert's own prose (summary, then description,
// both when both are set) and falls back to "<alertname> on <name>".
func description(a Alert, r platformv1alpha1.ResourceReference) string {
	summary := strings.TrimSpace(a.Annotations["summary"])
	desc := strings.TrimSpace(a.Annotations["description"])
	var text string
	switch {
	case summary != "" && desc != "" && summary != desc:
		text = strings.TrimRight(summary, ".") + ": " + desc
	case summary != "":
		text = summary
	case desc != "":
		text = desc
	default:
		name := a.Name()
		if name == "" {
			name = a.Labels[SignalTypeLabel]
		}
		text = name + " on " + r.Name
	}
	return signals.Truncate(text, maxDescriptionBytes)
}

// detail reads a measurement (value or threshold) from the labels, then the
// annotations.
func detail(a Alert, key string) string {
	v := strings.TrimSpace(a.Labels[key])
	if v == "" {
		v = strings.TrimSpace(a.Annotations[key])
	}
	return signals.Truncate(v, maxValueBytes)
}

// signalLabels keeps what lets a person find the alert again.
func signalLabels(a Alert) map[string]string {
	l := map[string]string{}
	for key, v := range map[string]string{
		"alertname":   a.Name(),
		"fingerprint": a.Fingerprint,
		"container":   a.Labels["container"],
	} {
		if v != "" {
			l[key] = signals.Truncate(v, MaxLabelValueBytes)
		}
	}
	return l
}
