package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

// Gemini's Secret variables and defaults. The module proxy serves no Gen
// AI Go SDK here, so GOOGLEAI speaks the generateContent REST API itself.
const (
	geminiKeyVar       = "GOOGLEAI_API_KEY"
	geminiAltKeyVar    = "GEMINI_API_KEY"
	geminiModelVar     = "GOOGLEAI_MODEL"
	geminiBaseURLVar   = "GOOGLEAI_BASE_URL"
	geminiDefaultURL   = "https://generativelanguage.googleapis.com"
	geminiDefaultModel = "gemini-2.5-flash"
)

type geminiProvider struct {
	key, base string
	client    *http.Client
	settings  Settings
	model     string
}

func newGemini(keys Keys, s Settings) (llm.Provider, error) {
	key := firstKey(keys, geminiKeyVar, geminiAltKeyVar)
	if key == "" {
		return nil, notConfigured(platformv1alpha1.ProviderGoogleAI, geminiKeyVar)
	}
	base := strings.TrimSuffix(firstNonEmpty(s.BaseURL, keys(geminiBaseURLVar), geminiDefaultURL), "/")
	return &geminiProvider{key: key, base: base, client: s.httpClient(), settings: s, model: keys(geminiModelVar)}, nil
}

func (p *geminiProvider) Name() platformv1alpha1.Provider { return platformv1alpha1.ProviderGoogleAI }

type geminiPart struct {
	Text string `json:"text"`
}

type geminiContent struct {
	Role  string       `json:"role,omitempty"`
	Parts []geminiPart `json:"parts"`
}

type geminiRequest struct {
	SystemInstruction geminiContent   `json:"systemInstruction"`
	Contents          []geminiContent `json:"contents"`
	GenerationConfig  struct {
		MaxOutputTokens    int            `json:"maxOutputTokens"`
		Temperature        *float64       `json:"temperature,omitempty"`
		ResponseMimeType   string         `json:"responseMimeType"`
		ResponseJSONSchema map[string]any `json:"responseJsonSchema"`
	} `json:"generationConfig"`
}

func (p *geminiProvider) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	m := model(req, p.settings, p.model, geminiDefaultModel)
	body := geminiRequest{
		SystemInstruction: geminiContent{Parts: []geminiPart{{Text: req.System}}},
		Contents:          []geminiContent{{Role: "user", Parts: []geminiPart{{Text: userPrompt(req)}}}},
	}
	_, schema := schemaOf(req.Task)
	body.GenerationConfig.MaxOutputTokens = p.settings.maxTokens(req)
	body.GenerationConfig.Temperature = p.settings.temperature(req)
	body.GenerationConfig.ResponseMimeType = "application/json"
	body.GenerationConfig.ResponseJSONSchema = schema
	data, err := json.Marshal(body)
	if err != nil {
		return llm.Response{}, fmt.Errorf("GOOGLEAI: encode the request: %w", err)
	}
	endpoint := p.base + "/v1beta/models/" + url.PathEscape(m) + ":generateContent"
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(data))
	if err != nil {
		return llm.Response{}, fmt.Errorf("GOOGLEAI: build the request: %w", err)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	// The key goes in a header, never in the URL, so no error or log that
	// quotes the URL can carry it.
	httpReq.Header.Set("x-goog-api-key", p.key)
	resp, err := p.client.Do(httpReq)
	if err != nil {
		return llm.Response{}, transportError(ctx, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return llm.Response{}, transportError(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		return llm.Response{}, statusError(resp.StatusCode, resp.Header, geminiErrorStatus(raw))
	}
	out, err := parseGeminiResponse(raw)
	if out.Model == "" {
		out.Model = m
	}
	return out, err
}

// parseGeminiResponse reads a generateContent answer: the text of the
// first candidate and the token counts. Anything else is ignored; a body
// that is not such an answer is a server error.
func parseGeminiResponse(raw []byte) (llm.Response, error) {
	var body struct {
		Candidates []struct {
			Content      geminiContent `json:"content"`
			FinishReason string        `json:"finishReason"`
		} `json:"candidates"`
		UsageMetadata struct {
			PromptTokenCount     int `json:"promptTokenCount"`
			CandidatesTokenCount int `json:"candidatesTokenCount"`
		} `json:"usageMetadata"`
		ModelVersion   string `json:"modelVersion"`
		PromptFeedback struct {
			BlockReason string `json:"blockReason"`
		} `json:"promptFeedback"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return llm.Response{}, &llm.CallError{Kind: llm.KindServer, Status: http.StatusOK, Detail: "the answer is not a generateContent response"}
	}
	out := llm.Response{Model: shorten(body.ModelVersion, 256), InputTokens: max(body.UsageMetadata.PromptTokenCount, 0), OutputTokens: max(body.UsageMetadata.CandidatesTokenCount, 0)}
	if len(body.Candidates) == 0 {
		detail := "no candidates"
		if body.PromptFeedback.BlockReason != "" {
			detail = "prompt blocked: " + shorten(body.PromptFeedback.BlockReason, 64)
		}
		return out, &llm.CallError{Kind: llm.KindEmpty, Detail: detail}
	}
	var text strings.Builder
	for _, part := range body.Candidates[0].Content.Parts {
		text.WriteString(part.Text)
	}
	out.Text = text.String()
	if out.Text == "" {
		return out, &llm.CallError{Kind: llm.KindEmpty, Detail: "empty candidate, finish reason " + shorten(body.Candidates[0].FinishReason, 64)}
	}
	return out, nil
}

// geminiErrorStatus is the status word of an error body (RESOURCE_EXHAUSTED).
func geminiErrorStatus(raw []byte) string {
	var body struct {
		Error struct {
			Status string `json:"status"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return ""
	}
	return shorten(body.Error.Status, 64)
}
