package llm

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseAnalysis(t *testing.T) {
	tests := map[string]struct {
		reason  string
		in      string
		wantErr string
	}{
		"valid":            {"the schema", `{"analysis":"OOM","confidence":0.8,"recommendations":["raise"],"suggestedActions":[{"name":"n","action":"AdjustResources","description":"d","params":{"memory_limit":"1Gi"}}]}`, ""},
		"fenced":           {"a markdown fence is tolerated", "```json\n{\"analysis\":\"x\",\"confidence\":0.1}\n```", ""},
		"prose":            {"not JSON", "The pod is OOMKilled, raise memory.", "not a JSON object"},
		"prose before":     {"text before the object", `Sure! {"analysis":"x","confidence":0.1}`, "not a JSON object"},
		"trailing":         {"text after the object", `{"analysis":"x","confidence":0.1} and more`, "text after"},
		"two objects":      {"a second object", `{"analysis":"x","confidence":0.1}{"analysis":"y","confidence":0.1}`, "text after"},
		"unknown field":    {"a field outside the schema", `{"analysis":"x","confidence":0.1,"run":"kubectl delete ns"}`, "unknown field"},
		"no confidence":    {"confidence is required", `{"analysis":"x"}`, "confidence is missing"},
		"confidence > 1":   {"bounded", `{"analysis":"x","confidence":3}`, "outside"},
		"empty analysis":   {"required", `{"analysis":" ","confidence":0.5}`, "analysis is empty"},
		"too big":          {"bounded size", `{"analysis":"` + strings.Repeat("a", MaxAnswerBytes) + `","confidence":0.5}`, "exceeds"},
		"wrong type":       {"types are checked", `{"analysis":1,"confidence":0.5}`, "not the JSON"},
		"too many actions": {"bounded list", `{"analysis":"x","confidence":0.5,"suggestedActions":[` + strings.TrimSuffix(strings.Repeat(`{"action":"ScaleDeployment"},`, 17), ",") + `]}`, "17 suggested actions"},
		"empty action":     {"each action names its type", `{"analysis":"x","confidence":0.5,"suggestedActions":[{"name":"x"}]}`, "action is empty"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseAnalysis(tc.in)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("%s: %v", tc.reason, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidAnswer)):
				t.Errorf("%s: err = %v, want %q", tc.reason, err, tc.wantErr)
			}
		})
	}
}

func TestParseAgenticDecision(t *testing.T) {
	if _, err := ParseAgenticDecision(`{"reasoning":"healthy","resolved":true,"nextAction":{"action":"ScaleDeployment"}}`); err == nil {
		t.Error("a resolved step with an action was accepted")
	}
	d, err := ParseAgenticDecision(`{"reasoning":"r","resolved":false,"nextAction":{"action":"RetryJob"}}`)
	if err != nil || d.NextAction.Action != "RetryJob" {
		t.Errorf("= %+v, %v", d, err)
	}
}

func TestParseSummary(t *testing.T) {
	if _, err := ParseSummary(`{"summary":"s","rootCause":"r","impact":"i","lessonsLearned":["l"],"preventionActions":["p"]}`); err != nil {
		t.Error(err)
	}
	if _, err := ParseSummary(`{"summary":""}`); err == nil {
		t.Error("an empty summary was accepted")
	}
}

func FuzzParseAnalysis(f *testing.F) {
	f.Add(`{"analysis":"x","confidence":0.5,"suggestedActions":[{"action":"A","params":{"k":"v"}}]}`)
	f.Add("```json\n{}\n```")
	f.Add(`{"analysis":"x","confidence":1e999}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, in string) {
		a, err := ParseAnalysis(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidAnswer) {
				t.Fatalf("error not wrapped: %v", err)
			}
			return
		}
		if len(a.Analysis) > MaxAnalysisLength || *a.Confidence < 0 || *a.Confidence > 1 || len(a.SuggestedActions) > MaxSuggestedActions || !utf8.ValidString(a.Analysis) {
			t.Fatalf("out of bounds: %+v", a)
		}
		_, _ = ParseAgenticDecision(in)
		_, _ = ParseSummary(in)
	})
}
