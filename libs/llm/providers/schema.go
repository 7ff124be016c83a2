package providers

import "github.com/chatcli/aiops/libs/llm"

// The JSON schemas of the answers, sent as structured output (OpenAI's
// response_format, Gemini's responseSchema) or as the input schema of the
// one tool a Claude model must call. They describe exactly the fields the
// strict parsers in libs/llm accept; the parsers still check everything,
// since a provider may ignore a schema.

func str() map[string]any { return map[string]any{"type": "string"} }

func strList() map[string]any { return map[string]any{"type": "array", "items": str()} }

func actionSchema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"name": str(), "action": str(), "description": str(),
			"params": map[string]any{"type": "object", "additionalProperties": str()},
		},
		"required": []string{"name", "action", "description", "params"},
	}
}

func analysisSchema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"analysis":         str(),
			"confidence":       map[string]any{"type": "number", "minimum": 0, "maximum": 1},
			"recommendations":  strList(),
			"suggestedActions": map[string]any{"type": "array", "items": actionSchema()},
		},
		"required": []string{"analysis", "confidence", "recommendations", "suggestedActions"},
	}
}

func agenticSchema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"reasoning": str(), "resolved": map[string]any{"type": "boolean"},
			"nextAction":        actionSchema(),
			"postmortemSummary": str(), "rootCause": str(), "impact": str(),
			"lessonsLearned": strList(), "preventionActions": strList(),
			"divergesFromInsight": map[string]any{"type": "boolean"}, "divergenceReason": str(),
		},
		"required": []string{"reasoning", "resolved"},
	}
}

func summarySchema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"summary": str(), "rootCause": str(), "impact": str(),
			"lessonsLearned": strList(), "preventionActions": strList(),
		},
		"required": []string{"summary"},
	}
}

// schemaOf returns the answer's schema and a name for it.
func schemaOf(t llm.Task) (string, map[string]any) {
	switch t {
	case llm.TaskAgenticStep:
		return "agentic_decision", agenticSchema()
	case llm.TaskSummarize:
		return "incident_summary", summarySchema()
	}
	return "incident_analysis", analysisSchema()
}
