package providers

import (
	"context"
	"errors"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

// Anthropic's defaults and Secret variables.
const (
	anthropicKeyVar       = "ANTHROPIC_API_KEY"
	anthropicModelVar     = "ANTHROPIC_MODEL"
	anthropicBaseURLVar   = "ANTHROPIC_BASE_URL"
	anthropicDefaultURL   = "https://api.anthropic.com"
	anthropicDefaultModel = "claude-sonnet-4-5"
	// answerTool is the one tool a Claude model is made to call: its input
	// is the answer, so the schema holds without a parse of free text.
	answerTool = "submit_answer"
)

// anthropicProvider is CLAUDEAI: the Messages API through the official SDK.
type anthropicProvider struct {
	client   anthropic.Client
	settings Settings
	model    string
}

func newAnthropic(keys Keys, s Settings) (llm.Provider, error) {
	key := keys(anthropicKeyVar)
	if key == "" {
		return nil, notConfigured(platformv1alpha1.ProviderClaudeAI, anthropicKeyVar)
	}
	base := firstNonEmpty(s.BaseURL, keys(anthropicBaseURLVar), anthropicDefaultURL)
	client := anthropic.NewClient(
		// The key comes from the Secret only, never from the analyzer's
		// environment behind our back.
		option.WithoutEnvironmentDefaults(),
		option.WithAPIKey(key), option.WithBaseURL(base),
		option.WithHTTPClient(s.httpClient()), option.WithMaxRetries(0),
	)
	return &anthropicProvider{client: client, settings: s, model: keys(anthropicModelVar)}, nil
}

func (p *anthropicProvider) Name() platformv1alpha1.Provider {
	return platformv1alpha1.ProviderClaudeAI
}

func (p *anthropicProvider) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	m := model(req, p.settings, p.model, anthropicDefaultModel)
	name, schema := schemaOf(req.Task)
	params := anthropic.MessageNewParams{
		Model:     m,
		MaxTokens: int64(p.settings.maxTokens(req)),
		System:    []anthropic.TextBlockParam{{Text: req.System}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(userPrompt(req)))},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name:        answerTool,
			Description: anthropic.String("Submit the answer (" + name + ") in the schema of the instructions."),
			InputSchema: anthropic.ToolInputSchemaParam{Properties: schema["properties"], Required: schema["required"].([]string)},
		}}},
		ToolChoice: anthropic.ToolChoiceParamOfTool(answerTool),
	}
	var opts []option.RequestOption
	if t := p.settings.temperature(req); t != nil {
		opts = append(opts, option.WithJSONSet("temperature", *t))
	}
	msg, err := p.client.Messages.New(ctx, params, opts...)
	if err != nil {
		var apiErr *anthropic.Error
		if errors.As(err, &apiErr) {
			var h = apiErr.Response
			if h != nil {
				return llm.Response{}, statusError(apiErr.StatusCode, h.Header, string(apiErr.Type()))
			}
			return llm.Response{}, statusError(apiErr.StatusCode, nil, string(apiErr.Type()))
		}
		return llm.Response{}, transportError(ctx, err)
	}
	resp := llm.Response{Model: msg.Model, InputTokens: int(msg.Usage.InputTokens), OutputTokens: int(msg.Usage.OutputTokens)}
	var text strings.Builder
	for _, block := range msg.Content {
		switch block.Type {
		case "tool_use":
			if block.Name == answerTool {
				resp.Text = string(block.Input)
				return resp, nil
			}
		case "text":
			text.WriteString(block.Text)
		}
	}
	// A model that answered in text anyway still goes to the strict parser.
	resp.Text = text.String()
	if resp.Text == "" {
		return resp, &llm.CallError{Kind: llm.KindEmpty, Detail: "no tool call and no text"}
	}
	return resp, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
