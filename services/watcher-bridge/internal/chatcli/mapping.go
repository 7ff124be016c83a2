// Package chatcli turns the alerts of a ChatCLI server's watcher
// (chatcli.v1 GetAlerts) into platform signals.
package chatcli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/signals"
)

// Alert mirrors the chatcli.v1 WatcherAlert wire message field for field;
// the conversion from the generated type lives with the gRPC client.
type Alert struct {
	Type          string
	Severity      string
	Message       string
	Object        string
	Namespace     string
	Deployment    string
	TimestampUnix int64
}

// Limits of the Anomaly schema, which signals.Signal.Validate enforces.
const maxDescriptionBytes = platformv1alpha1.MaxDescriptionLength

// objectKinds maps the kind part of a "kind/name" object, as kubectl
// spells it (singular, plural or short), to the API kind.
var objectKinds = map[string]string{
	"pod": "Pod", "pods": "Pod", "po": "Pod",
	"deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
	"statefulset": "StatefulSet", "statefulsets": "StatefulSet", "sts": "StatefulSet",
	"daemonset": "DaemonSet", "daemonsets": "DaemonSet", "ds": "DaemonSet",
	"replicaset": "ReplicaSet", "replicasets": "ReplicaSet", "rs": "ReplicaSet",
	"job": "Job", "jobs": "Job",
	"cronjob": "CronJob", "cronjobs": "CronJob", "cj": "CronJob",
	"node": "Node", "nodes": "Node", "no": "Node",
}

// Timestamps outside [earliest, now+maxSkew] are taken as garbage (an
// unset field, milliseconds sent as seconds) and replaced by now.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const maxSkew = 5 * time.Minute

// MapAlert converts one ChatCLI watcher alert into a validated signal with
// source watcher. It fails for unknown alert types and for alerts that do
// not name a valid object.
func MapAlert(a Alert, now time.Time) (signals.Signal, error) {
	alertType := strings.TrimSpace(a.Type)
	k, ok := alertKinds[strings.ToLower(alertType)]
	if !ok {
		return signals.Signal{}, fmt.Errorf("unknown ChatCLI alert type %q", a.Type)
	}
	res, err := resource(a, k)
	if err != nil {
		return signals.Signal{}, fmt.Errorf("alert %s: %w", alertType, err)
	}
	s := signals.Signal{
		Type:        k.signal,
		Source:      platformv1alpha1.SourceWatcher,
		Severity:    severity(a.Severity),
		Resource:    res,
		Description: description(alertType, res.Name, a.Message),
		DetectedAt:  detectedAt(a.TimestampUnix, now),
		Labels:      map[string]string{"alertType": alertType},
	}
	if obj := strings.TrimSpace(a.Object); obj != "" {
		s.Labels["object"] = signals.Truncate(obj, 256)
	}
	if err := s.Validate(); err != nil {
		return signals.Signal{}, fmt.Errorf("alert %s: %w", alertType, err)
	}
	return s, nil
}

// resource picks the object: the node for node conditions, else the
// watched Deployment when the alert names one, else the alert's object.
func resource(a Alert, k alertKind) (platformv1alpha1.ResourceReference, error) {
	namespace := strings.TrimSpace(a.Namespace)
	if k.kind == "Node" {
		if strings.TrimSpace(a.Object) == "" {
			return platformv1alpha1.ResourceReference{}, errors.New("no object names the node")
		}
		kind, name, err := parseObject(a.Object, "Node")
		if err != nil {
			return platformv1alpha1.ResourceReference{}, err
		}
		if kind != "Node" {
			return platformv1alpha1.ResourceReference{}, fmt.Errorf("object %q is not a node", a.Object)
		}
		return platformv1alpha1.ResourceReference{Kind: "Node", Name: name}, nil
	}
	if d := strings.TrimSpace(a.Deployment); d != "" {
		return platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: namespace, Name: d}, nil
	}
	if strings.TrimSpace(a.Object) == "" {
		return platformv1alpha1.ResourceReference{}, errors.New("neither deployment nor object is set")
	}
	kind, name, err := parseObject(a.Object, k.kind)
	if err != nil {
		return platformv1alpha1.ResourceReference{}, err
	}
	r := platformv1alpha1.ResourceReference{Kind: kind, Name: name, Namespace: namespace}
	if kind == "Node" {
		r.Namespace = ""
	}
	return r, nil
}

// parseObject reads "kind/name" or a bare name of defaultKind.
func parseObject(object, defaultKind string) (kind, name string, err error) {
	object = strings.TrimSpace(object)
	prefix, rest, ok := strings.Cut(object, "/")
	if !ok {
		return defaultKind, object, nil
	}
	kind, known := objectKinds[strings.ToLower(prefix)]
	if !known {
		return "", "", fmt.Errorf("object %q has unknown kind %q", signals.Truncate(object, 256), signals.Truncate(prefix, 64))
	}
	if rest == "" {
		return "", "", fmt.Errorf("object %q has no name", signals.Truncate(object, 256))
	}
	return kind, rest, nil
}

// severity maps ChatCLI's severities (upper or lower case) to signal
// severities; anything unknown is a warning.
func severity(s string) platformv1alpha1.SignalSeverity {
	sev := platformv1alpha1.SignalSeverity(strings.ToLower(strings.TrimSpace(s)))
	if sev.IsValid() {
		return sev
	}
	return platformv1alpha1.SignalSeverityWarning
}

// description reads like "HighRestartCount on api-gateway: container app
// restarted 8 times".
func description(alertType, name, message string) string {
	d := alertType + " on " + name
	if m := strings.TrimSpace(message); m != "" {
		d += ": " + m
	}
	return signals.Truncate(d, maxDescriptionBytes)
}

func detectedAt(unix int64, now time.Time) time.Time {
	if unix <= 0 || unix > now.Add(maxSkew).Unix() {
		return now
	}
	t := time.Unix(unix, 0).UTC()
	if t.Before(earliest) {
		return now
	}
	return t
}
