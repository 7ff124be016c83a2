package providers

import (
	"context"
	"errors"
	"net/http"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

// compatible describes one service that speaks OpenAI's Chat Completions.
type compatible struct {
	keyVars      []string // the first one set is the key
	modelVar     string
	baseURLVar   string
	defaultURL   string
	defaultModel string
	// keyless services (a local Ollama) are configured by their base URL.
	keyless bool
	// jsonSchema: the service honours response_format json_schema.
	jsonSchema bool
}

// compatibles are the Secret variables and defaults of each service. The
// names are the seed's where it has them (COPILOT), else the vendors' own.
var compatibles = map[platformv1alpha1.Provider]compatible{
	platformv1alpha1.ProviderOpenAI: {
		keyVars: []string{"OPENAI_API_KEY"}, modelVar: "OPENAI_MODEL", baseURLVar: "OPENAI_BASE_URL",
		defaultURL: "https://api.openai.com/v1", defaultModel: "gpt-4o-mini", jsonSchema: true,
	},
	platformv1alpha1.ProviderOllama: {
		modelVar: "OLLAMA_MODEL", baseURLVar: "OLLAMA_BASE_URL", keyless: true,
		defaultModel: "llama3.1", jsonSchema: true,
	},
	platformv1alpha1.ProviderOpenRouter: {
		keyVars: []string{"OPENROUTER_API_KEY"}, modelVar: "OPENROUTER_MODEL", baseURLVar: "OPENROUTER_BASE_URL",
		defaultURL: "https://openrouter.ai/api/v1", defaultModel: "openai/gpt-4o-mini", jsonSchema: true,
	},
	platformv1alpha1.ProviderGitHubModels: {
		keyVars: []string{"GITHUB_MODELS_TOKEN"}, modelVar: "GITHUB_MODELS_MODEL", baseURLVar: "GITHUB_MODELS_BASE_URL",
		defaultURL: "https://models.github.ai/inference", defaultModel: "openai/gpt-4o-mini", jsonSchema: true,
	},
	platformv1alpha1.ProviderXAI: {
		keyVars: []string{"XAI_API_KEY"}, modelVar: "XAI_MODEL", baseURLVar: "XAI_BASE_URL",
		defaultURL: "https://api.x.ai/v1", defaultModel: "grok-3-mini", jsonSchema: true,
	},
	platformv1alpha1.ProviderCopilot: {
		keyVars: []string{"GITHUB_COPILOT_TOKEN"}, modelVar: "COPILOT_MODEL", baseURLVar: "COPILOT_API_BASE_URL",
		defaultURL: "https://api.githubcopilot.com", defaultModel: "gpt-4o",
	},
}

// openAIProvider is OPENAI and every service that speaks its Chat
// Completions API, through the official SDK with the service's base URL.
type openAIProvider struct {
	name     platformv1alpha1.Provider
	spec     compatible
	client   openai.Client
	settings Settings
	model    string
	// copilot exchanges the GitHub token for Copilot session tokens.
	copilot *copilotAuth
}

func newOpenAICompatible(name platformv1alpha1.Provider, keys Keys, s Settings) (llm.Provider, error) {
	spec := compatibles[name]
	key := firstKey(keys, spec.keyVars...)
	base := firstNonEmpty(s.BaseURL, keys(spec.baseURLVar), spec.defaultURL)
	switch {
	case spec.keyless && base == "":
		return nil, notConfigured(name, spec.baseURLVar)
	case !spec.keyless && key == "":
		return nil, notConfigured(name, spec.keyVars[0])
	}
	httpClient := s.httpClient()
	opts := []option.RequestOption{
		option.WithBaseURL(base), option.WithHTTPClient(httpClient), option.WithMaxRetries(0),
		option.WithAPIKey(key),
	}
	if name != platformv1alpha1.ProviderOpenAI {
		// The SDK adds OpenAI's organization and project from the
		// environment; they mean nothing to another service.
		opts = append(opts, option.WithHeaderDel("OpenAI-Organization"), option.WithHeaderDel("OpenAI-Project"))
	}
	p := &openAIProvider{name: name, spec: spec, settings: s, model: keys(spec.modelVar)}
	if name == platformv1alpha1.ProviderCopilot {
		p.copilot = newCopilotAuth(key, keys(copilotTokenURLVar), httpClient)
		opts = append(opts, copilotHeaders()...)
	}
	p.client = openai.NewClient(opts...)
	return p, nil
}

func (p *openAIProvider) Name() platformv1alpha1.Provider { return p.name }

func (p *openAIProvider) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	m := model(req, p.settings, p.model, p.spec.defaultModel)
	params := openai.ChatCompletionNewParams{
		Model: m,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(req.System),
			openai.UserMessage(userPrompt(req)),
		},
	}
	if p.name == platformv1alpha1.ProviderOpenAI {
		params.MaxCompletionTokens = openai.Int(int64(p.settings.maxTokens(req)))
	} else {
		params.MaxTokens = openai.Int(int64(p.settings.maxTokens(req)))
	}
	if t := p.settings.temperature(req); t != nil {
		params.Temperature = openai.Float(*t)
	}
	if p.spec.jsonSchema {
		name, schema := schemaOf(req.Task)
		params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: name, Schema: schema, Strict: openai.Bool(false)},
		}}
	}
	var opts []option.RequestOption
	if p.copilot != nil {
		token, err := p.copilot.token(ctx)
		if err != nil {
			return llm.Response{}, err
		}
		opts = append(opts, option.WithAPIKey(token))
	}
	completion, err := p.client.Chat.Completions.New(ctx, params, opts...)
	if err != nil {
		return llm.Response{}, openAIError(ctx, err)
	}
	resp := llm.Response{Model: completion.Model, InputTokens: int(completion.Usage.PromptTokens), OutputTokens: int(completion.Usage.CompletionTokens)}
	if resp.Model == "" {
		resp.Model = m
	}
	if len(completion.Choices) == 0 || completion.Choices[0].Message.Content == "" {
		detail := "no choices"
		if len(completion.Choices) > 0 && completion.Choices[0].Message.Refusal != "" {
			detail = "the model refused"
		}
		return resp, &llm.CallError{Kind: llm.KindEmpty, Detail: detail}
	}
	resp.Text = completion.Choices[0].Message.Content
	return resp, nil
}

func openAIError(ctx context.Context, err error) error {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		var h http.Header
		if apiErr.Response != nil {
			h = apiErr.Response.Header
		}
		return statusError(apiErr.StatusCode, h, apiErr.Type)
	}
	return transportError(ctx, err)
}
