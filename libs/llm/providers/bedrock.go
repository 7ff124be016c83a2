package providers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

// Bedrock's Secret variables (the seed's) and defaults. Credentials come
// from the Secret's static keys when present, else from the SDK's default
// chain (IRSA's web identity, the pod's environment, instance roles).
const (
	bedrockRegionVar   = "BEDROCK_REGION"
	bedrockModelVar    = "BEDROCK_MODEL"
	bedrockCABundleVar = "CHATCLI_BEDROCK_CA_BUNDLE"
	// bedrockEndpointVar overrides the regional endpoint (a VPC endpoint,
	// or a local server in tests).
	bedrockEndpointVar = "BEDROCK_ENDPOINT_URL"
	// Modern Claude models on Bedrock are called through an inference
	// profile id (global./us./eu./apac. prefix), not the base model id.
	bedrockDefaultModel = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
)

type bedrockProvider struct {
	client   *bedrockruntime.Client
	settings Settings
	model    string
}

func newBedrock(keys Keys, s Settings) (llm.Provider, error) {
	region := keys(bedrockRegionVar)
	if region == "" {
		return nil, notConfigured(platformv1alpha1.ProviderBedrock, bedrockRegionVar)
	}
	if bundle := keys(bedrockCABundleVar); bundle != "" {
		hc, err := caBundleClient(bundle, s.HTTPClient)
		if err != nil {
			return nil, fmt.Errorf("BEDROCK: %s: %w", bedrockCABundleVar, err)
		}
		s.HTTPClient = hc
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		// The chain retries, for every provider alike.
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if id, secret := keys("AWS_ACCESS_KEY_ID"), keys("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, keys("AWS_SESSION_TOKEN"))))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("BEDROCK: load the AWS configuration: %w", err)
	}
	endpoint := firstNonEmpty(s.BaseURL, keys(bedrockEndpointVar))
	// The Converse calls go through the bounded client (with the CA
	// bundle); the credential chain (STS for IRSA) keeps the SDK's own.
	httpClient := s.httpClient()
	client := bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.HTTPClient = httpClient
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return &bedrockProvider{client: client, settings: s, model: keys(bedrockModelVar)}, nil
}

// caBundleClient trusts the system roots plus a corporate proxy's CA.
func caBundleClient(path string, base *http.Client) (*http.Client, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the CA bundle: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("the CA bundle holds no PEM certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c := &http.Client{Transport: tr}
	if base != nil {
		c.Timeout = base.Timeout
	}
	return c, nil
}

func (p *bedrockProvider) Name() platformv1alpha1.Provider { return platformv1alpha1.ProviderBedrock }

func (p *bedrockProvider) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	m := model(req, p.settings, p.model, bedrockDefaultModel)
	name, schema := schemaOf(req.Task)
	inference := &types.InferenceConfiguration{MaxTokens: aws.Int32(int32(p.settings.maxTokens(req)))}
	if t := p.settings.temperature(req); t != nil {
		inference.Temperature = aws.Float32(float32(*t))
	}
	out, err := p.client.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String(m),
		System:  []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: req.System}},
		Messages: []types.Message{{
			Role:    types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: userPrompt(req)}},
		}},
		InferenceConfig: inference,
		ToolConfig: &types.ToolConfiguration{
			Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
				Name:        aws.String(answerTool),
				Description: aws.String("Submit the answer (" + name + ") in the schema of the instructions."),
				InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(schema)},
			}}},
			ToolChoice: &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String(answerTool)}},
		},
	})
	if err != nil {
		return llm.Response{}, bedrockError(ctx, err)
	}
	resp := llm.Response{Model: m}
	if u := out.Usage; u != nil {
		resp.InputTokens, resp.OutputTokens = int(aws.ToInt32(u.InputTokens)), int(aws.ToInt32(u.OutputTokens))
	}
	msg, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		return resp, &llm.CallError{Kind: llm.KindEmpty, Detail: "no message in the output"}
	}
	var text strings.Builder
	for _, block := range msg.Value.Content {
		switch b := block.(type) {
		case *types.ContentBlockMemberToolUse:
			if aws.ToString(b.Value.Name) != answerTool || b.Value.Input == nil {
				continue
			}
			// The document's own JSON keeps numbers as numbers.
			raw, err := b.Value.Input.MarshalSmithyDocument()
			if err != nil {
				return resp, &llm.CallError{Kind: llm.KindServer, Detail: "unreadable tool input"}
			}
			resp.Text = string(raw)
			return resp, nil
		case *types.ContentBlockMemberText:
			text.WriteString(b.Value)
		}
	}
	resp.Text = text.String()
	if resp.Text == "" {
		return resp, &llm.CallError{Kind: llm.KindEmpty, Detail: "no tool call and no text"}
	}
	return resp, nil
}

func bedrockError(ctx context.Context, err error) error {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		detail := ""
		var api smithy.APIError
		if errors.As(err, &api) {
			detail = api.ErrorCode()
		}
		ce := statusError(re.HTTPStatusCode(), re.Response.Header, detail)
		if detail == "ThrottlingException" {
			ce.Kind = llm.KindRateLimited
		}
		return ce
	}
	return transportError(ctx, err)
}
