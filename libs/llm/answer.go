package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Bounds of an answer. A model's answer is untrusted input: it is parsed
// only within these bounds, and anything else is refused.
const (
	MaxAnswerBytes          = 64 << 10
	MaxAnalysisLength       = 32768
	MaxTextLength           = 4096
	MaxRecommendations      = 32
	MaxSuggestedActions     = 16
	MaxActionFieldLength    = 256
	MaxListItems            = 32
	maxParamsPerActionParse = 64 // the action policy bounds them further
)

// ErrInvalidAnswer wraps every parse failure.
var ErrInvalidAnswer = errors.New("invalid answer")

// Action is a suggested action as the model wrote it, not yet validated.
type Action struct {
	Name        string            `json:"name"`
	Action      string            `json:"action"`
	Description string            `json:"description"`
	Params      map[string]string `json:"params"`
}

// Analysis is the answer to TaskAnalyze.
type Analysis struct {
	Analysis         string   `json:"analysis"`
	Confidence       *float64 `json:"confidence"`
	Recommendations  []string `json:"recommendations"`
	SuggestedActions []Action `json:"suggestedActions"`
}

// AgenticDecision is the answer to TaskAgenticStep.
type AgenticDecision struct {
	Reasoning           string   `json:"reasoning"`
	Resolved            bool     `json:"resolved"`
	NextAction          *Action  `json:"nextAction"`
	PostmortemSummary   string   `json:"postmortemSummary"`
	RootCause           string   `json:"rootCause"`
	Impact              string   `json:"impact"`
	LessonsLearned      []string `json:"lessonsLearned"`
	PreventionActions   []string `json:"preventionActions"`
	DivergesFromInsight bool     `json:"divergesFromInsight"`
	DivergenceReason    string   `json:"divergenceReason"`
}

// Summary is the answer to TaskSummarize.
type Summary struct {
	Summary           string   `json:"summary"`
	RootCause         string   `json:"rootCause"`
	Impact            string   `json:"impact"`
	LessonsLearned    []string `json:"lessonsLearned"`
	PreventionActions []string `json:"preventionActions"`
}

// ParseAnalysis parses and bounds an analysis.
func ParseAnalysis(raw string) (*Analysis, error) {
	a := &Analysis{}
	if err := decodeStrict(raw, a); err != nil {
		return nil, err
	}
	switch {
	case strings.TrimSpace(a.Analysis) == "":
		return nil, invalid("analysis is empty")
	case len(a.Analysis) > MaxAnalysisLength:
		return nil, invalid("analysis is longer than %d bytes", MaxAnalysisLength)
	case a.Confidence == nil:
		return nil, invalid("confidence is missing")
	case *a.Confidence < 0 || *a.Confidence > 1:
		return nil, invalid("confidence %v is outside [0, 1]", *a.Confidence)
	case len(a.SuggestedActions) > MaxSuggestedActions:
		return nil, invalid("%d suggested actions, at most %d", len(a.SuggestedActions), MaxSuggestedActions)
	}
	if err := checkList("recommendations", a.Recommendations, MaxRecommendations, MaxTextLength); err != nil {
		return nil, err
	}
	for i := range a.SuggestedActions {
		if err := checkAction(&a.SuggestedActions[i]); err != nil {
			return nil, fmt.Errorf("suggestedActions[%d]: %w", i, err)
		}
	}
	return a, nil
}

// ParseAgenticDecision parses and bounds an agentic step's decision.
func ParseAgenticDecision(raw string) (*AgenticDecision, error) {
	d := &AgenticDecision{}
	if err := decodeStrict(raw, d); err != nil {
		return nil, err
	}
	if strings.TrimSpace(d.Reasoning) == "" {
		return nil, invalid("reasoning is empty")
	}
	for name, s := range map[string]string{"reasoning": d.Reasoning, "postmortemSummary": d.PostmortemSummary, "rootCause": d.RootCause, "impact": d.Impact, "divergenceReason": d.DivergenceReason} {
		if len(s) > MaxAnalysisLength {
			return nil, invalid("%s is longer than %d bytes", name, MaxAnalysisLength)
		}
	}
	if d.Resolved && d.NextAction != nil {
		return nil, invalid("a resolved step has no next action")
	}
	if err := checkList("lessonsLearned", d.LessonsLearned, MaxListItems, MaxTextLength); err != nil {
		return nil, err
	}
	if err := checkList("preventionActions", d.PreventionActions, MaxListItems, MaxTextLength); err != nil {
		return nil, err
	}
	if d.NextAction != nil {
		if err := checkAction(d.NextAction); err != nil {
			return nil, fmt.Errorf("nextAction: %w", err)
		}
	}
	return d, nil
}

// ParseSummary parses and bounds a summary.
func ParseSummary(raw string) (*Summary, error) {
	s := &Summary{}
	if err := decodeStrict(raw, s); err != nil {
		return nil, err
	}
	if strings.TrimSpace(s.Summary) == "" {
		return nil, invalid("summary is empty")
	}
	for name, v := range map[string]string{"summary": s.Summary, "rootCause": s.RootCause, "impact": s.Impact} {
		if len(v) > MaxAnalysisLength {
			return nil, invalid("%s is longer than %d bytes", name, MaxAnalysisLength)
		}
	}
	if err := checkList("lessonsLearned", s.LessonsLearned, MaxListItems, MaxTextLength); err != nil {
		return nil, err
	}
	return s, checkList("preventionActions", s.PreventionActions, MaxListItems, MaxTextLength)
}

// decodeStrict reads exactly one JSON object with known fields only. The
// one leniency is a markdown code fence around it, which models add even
// when told not to.
func decodeStrict(raw string, v any) error {
	if len(raw) > MaxAnswerBytes {
		return invalid("answer of %d bytes exceeds %d", len(raw), MaxAnswerBytes)
	}
	if !utf8.ValidString(raw) {
		return invalid("answer is not valid UTF-8")
	}
	s := strings.TrimSpace(raw)
	if strings.HasPrefix(s, "```") {
		s = strings.TrimPrefix(s, "```json")
		s = strings.TrimPrefix(s, "```")
		s = strings.TrimSuffix(strings.TrimSpace(s), "```")
		s = strings.TrimSpace(s)
	}
	if !strings.HasPrefix(s, "{") {
		return invalid("answer is not a JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("answer is not the JSON asked for: %s", jsonError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("answer has text after its JSON object")
	}
	return nil
}

// jsonError shortens a decoding error, which can quote the input.
func jsonError(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

func checkAction(a *Action) error {
	switch {
	case strings.TrimSpace(a.Action) == "":
		return invalid("action is empty")
	case len(a.Action) > MaxActionFieldLength || len(a.Name) > MaxActionFieldLength:
		return invalid("action or name is longer than %d bytes", MaxActionFieldLength)
	case len(a.Description) > MaxTextLength:
		return invalid("description is longer than %d bytes", MaxTextLength)
	case len(a.Params) > maxParamsPerActionParse:
		return invalid("%d params", len(a.Params))
	}
	return nil
}

func checkList(name string, items []string, maxItems, maxLen int) error {
	if len(items) > maxItems {
		return invalid("%s has %d items, at most %d", name, len(items), maxItems)
	}
	for i, s := range items {
		if len(s) > maxLen {
			return invalid("%s[%d] is longer than %d bytes", name, i, maxLen)
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidAnswer, fmt.Sprintf(format, args...))
}

// Marshal renders an answer as the JSON a provider returns; BUILTIN uses
// it so that its answers go through the same parser as a model's.
func Marshal(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return b.String()
}
