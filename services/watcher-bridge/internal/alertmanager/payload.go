// Package alertmanager receives Alertmanager's webhook notifications
// (payload version 4) and turns firing alerts into signals.
//
// The payload types are written from Alertmanager's documented webhook
// format. Parse is strict about what the platform relies on (version,
// statuses, timestamps, sizes) and lenient about extra fields, so that a
// newer Alertmanager that adds fields keeps working.
package alertmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// Version is the only webhook payload version this package understands.
const Version = "4"

// Limits on what one payload may hold. The request body limit bounds the
// total; these bound single items so that one alert cannot crowd out the
// rest or blow up a description.
const (
	MaxAlerts          = 1000
	MaxLabels          = 128
	MaxLabelNameBytes  = 256
	MaxLabelValueBytes = 4096
	// Annotations carry prose (runbook text, descriptions), so they may be
	// longer than label values.
	MaxAnnotationValueBytes = 16384
)

// Status is the state of an alert group or of one alert.
type Status string

// The alert statuses.
const (
	StatusFiring   Status = "firing"
	StatusResolved Status = "resolved"
)

// Payload is one webhook notification: a group of alerts that share the
// group labels.
type Payload struct {
	Version           string
	GroupKey          string
	TruncatedAlerts   int
	Status            Status
	Receiver          string
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	ExternalURL       string
	Alerts            []Alert
}

// Alert is one alert of the group.
type Alert struct {
	Status      Status
	Labels      map[string]string
	Annotations map[string]string
	StartsAt    time.Time
	// EndsAt is zero while Alertmanager does not know when the alert ends.
	EndsAt       time.Time
	GeneratorURL string
	Fingerprint  string
}

// Name is the alert's alertname label.
func (a Alert) Name() string { return a.Labels["alertname"] }

// wirePayload keeps the parts that need their own error paths raw, so that
// errors can name the alert index and the label key.
type wirePayload struct {
	Version           *string         `json:"version"`
	GroupKey          string          `json:"groupKey"`
	TruncatedAlerts   int             `json:"truncatedAlerts"`
	Status            string          `json:"status"`
	Receiver          string          `json:"receiver"`
	GroupLabels       json.RawMessage `json:"groupLabels"`
	CommonLabels      json.RawMessage `json:"commonLabels"`
	CommonAnnotations json.RawMessage `json:"commonAnnotations"`
	ExternalURL       string          `json:"externalURL"`
	Alerts            json.RawMessage `json:"alerts"`
}

type wireAlert struct {
	Status       string          `json:"status"`
	Labels       json.RawMessage `json:"labels"`
	Annotations  json.RawMessage `json:"annotations"`
	StartsAt     string          `json:"startsAt"`
	EndsAt       string          `json:"endsAt"`
	GeneratorURL string          `json:"generatorURL"`
	Fingerprint  string          `json:"fingerprint"`
}

// Parse decodes and checks a webhook body. Its errors are meant for the
// sender: they name the offending field, as in "alerts[3].labels: ...".
func Parse(body []byte) (*Payload, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("empty body; want an Alertmanager webhook payload")
	}
	var w wirePayload
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, describeJSONError("", err)
	}
	if w.Version == nil {
		return nil, errors.New("version: missing; want \"4\"")
	}
	if *w.Version != Version {
		return nil, fmt.Errorf("version: got %q, want %q", *w.Version, Version)
	}
	status, err := parseStatus("status", w.Status)
	if err != nil {
		return nil, err
	}
	if w.TruncatedAlerts < 0 {
		return nil, fmt.Errorf("truncatedAlerts: %d is negative", w.TruncatedAlerts)
	}
	p := &Payload{
		Version:         *w.Version,
		GroupKey:        w.GroupKey,
		TruncatedAlerts: w.TruncatedAlerts,
		Status:          status,
		Receiver:        w.Receiver,
		ExternalURL:     w.ExternalURL,
	}
	if p.GroupLabels, err = parseLabelSet("groupLabels", w.GroupLabels, MaxLabelValueBytes); err != nil {
		return nil, err
	}
	if p.CommonLabels, err = parseLabelSet("commonLabels", w.CommonLabels, MaxLabelValueBytes); err != nil {
		return nil, err
	}
	if p.CommonAnnotations, err = parseLabelSet("commonAnnotations", w.CommonAnnotations, MaxAnnotationValueBytes); err != nil {
		return nil, err
	}
	if p.Alerts, err = parseAlerts(w.Alerts); err != nil {
		return nil, err
	}
	return p, nil
}

func parseAlerts(raw json.RawMessage) ([]Alert, error) {
	if isNull(raw) {
		return nil, errors.New("alerts: missing; want a list of alerts")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, describeJSONError("alerts", err)
	}
	if len(items) > MaxAlerts {
		return nil, fmt.Errorf("alerts: %d alerts, more than the limit of %d", len(items), MaxAlerts)
	}
	alerts := make([]Alert, 0, len(items))
	for i, item := range items {
		a, err := parseAlert(fmt.Sprintf("alerts[%d]", i), item)
		if err != nil {
			return nil, err
		}
		alerts = append(alerts, a)
	}
	return alerts, nil
}

func parseAlert(path string, raw json.RawMessage) (Alert, error) {
	if isNull(raw) {
		return Alert{}, fmt.Errorf("%s: want an object, got null", path)
	}
	var w wireAlert
	if err := json.Unmarshal(raw, &w); err != nil {
		return Alert{}, describeJSONError(path, err)
	}
	status, err := parseStatus(path+".status", w.Status)
	if err != nil {
		return Alert{}, err
	}
	a := Alert{Status: status, GeneratorURL: w.GeneratorURL, Fingerprint: w.Fingerprint}
	if a.Labels, err = parseLabelSet(path+".labels", w.Labels, MaxLabelValueBytes); err != nil {
		return Alert{}, err
	}
	if a.Annotations, err = parseLabelSet(path+".annotations", w.Annotations, MaxAnnotationValueBytes); err != nil {
		return Alert{}, err
	}
	if a.StartsAt, err = parseTime(path+".startsAt", w.StartsAt); err != nil {
		return Alert{}, err
	}
	if a.StartsAt.IsZero() {
		return Alert{}, fmt.Errorf("%s.startsAt: missing", path)
	}
	if a.EndsAt, err = parseTime(path+".endsAt", w.EndsAt); err != nil {
		return Alert{}, err
	}
	return a, nil
}

func parseStatus(path, s string) (Status, error) {
	switch Status(s) {
	case StatusFiring, StatusResolved:
		return Status(s), nil
	case "":
		return "", fmt.Errorf("%s: missing; want %q or %q", path, StatusFiring, StatusResolved)
	default:
		return "", fmt.Errorf("%s: got %q, want %q or %q", path, s, StatusFiring, StatusResolved)
	}
}

// earliest is the oldest timestamp accepted. Earlier ones are clock or
// templating mistakes, and the year-1 zero time is Alertmanager's way of
// saying "unknown", handled before this check.
var earliest = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// parseTime reads an RFC 3339 timestamp. Empty and the zero time mean
// "not set" and give the zero time.
func parseTime(path, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 timestamp", path, s)
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	if t.Before(earliest) {
		return time.Time{}, fmt.Errorf("%s: %s is before 1970", path, s)
	}
	return t.UTC(), nil
}

// parseLabelSet decodes a string map (labels or annotations) and checks its
// sizes. A missing or null set is an empty one.
func parseLabelSet(path string, raw json.RawMessage, maxValue int) (map[string]string, error) {
	if isNull(raw) {
		return map[string]string{}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, describeJSONError(path, err)
	}
	if len(fields) > MaxLabels {
		return nil, fmt.Errorf("%s: %d entries, more than the limit of %d", path, len(fields), MaxLabels)
	}
	set := make(map[string]string, len(fields))
	for name, v := range fields {
		if name == "" {
			return nil, fmt.Errorf("%s: empty name", path)
		}
		if len(name) > MaxLabelNameBytes {
			return nil, fmt.Errorf("%s: name %.32q... is %d bytes, more than the limit of %d", path, name, len(name), MaxLabelNameBytes)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, describeJSONError(fmt.Sprintf("%s[%q]", path, name), err)
		}
		if len(s) > maxValue {
			return nil, fmt.Errorf("%s[%q]: value is %d bytes, more than the limit of %d", path, name, len(s), maxValue)
		}
		set[name] = s
	}
	return set, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// describeJSONError rewrites encoding/json's errors, which speak of Go
// types, into messages about the JSON the sender wrote.
func describeJSONError(path string, err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		at := path
		switch {
		case at == "" && typeErr.Field == "":
			at = "payload"
		case at == "":
			at = typeErr.Field
		case typeErr.Field != "":
			at += "." + typeErr.Field
		}
		return fmt.Errorf("%s: want %s, got %s", at, jsonKind(typeErr.Type), typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Errorf("malformed JSON at byte %d: %w", syntaxErr.Offset, err)
	}
	if path == "" {
		path = "payload"
	}
	return fmt.Errorf("%s: %w", path, err)
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return t.Kind().String()
	}
}
