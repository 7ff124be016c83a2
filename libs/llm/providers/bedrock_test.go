package providers

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

func converseToolUse(input string) string {
	return `{"output":{"message":{"role":"assistant","content":[{"toolUse":{"toolUseId":"tooluse_1","name":"submit_answer","input":` + input +
		`}}]}},"stopReason":"tool_use","usage":{"inputTokens":1500,"outputTokens":90,"totalTokens":1590},"metrics":{"latencyMs":850}}`
}

// caBundle writes the local server's certificate as a PEM bundle.
func caBundle(t *testing.T, srv *wire) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "corp-ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, block, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBedrockConverse: the Converse call goes to /model/<inference
// profile>/converse, signed with SigV4 for the Secret's region and keys,
// over TLS that trusts only the CHATCLI_BEDROCK_CA_BUNDLE, with the system
// prompt in "system", the fenced data in the user turn, the token bound and
// the forced answer tool.
func TestBedrockConverse(t *testing.T) {
	srv := newWire(t, func(_ int, _ recorded, w http.ResponseWriter) {
		writeJSON(w, 200, converseToolUse(validAnalysis))
	})
	keys := map[string]string{
		"BEDROCK_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDLOCALTEST", "AWS_SECRET_ACCESS_KEY": "local-secret",
		"CHATCLI_BEDROCK_CA_BUNDLE": caBundle(t, srv), "BEDROCK_ENDPOINT_URL": srv.URL,
	}
	// No HTTP client from the test: the CA bundle alone must make the
	// local server trusted.
	p, err := New(platformv1alpha1.ProviderBedrock, func(k string) string { return keys[k] }, Settings{MaxTokens: 777})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Complete(context.Background(), testRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := llm.ParseAnalysis(resp.Text); err != nil || resp.InputTokens != 1500 || resp.OutputTokens != 90 || resp.Model != bedrockDefaultModel {
		t.Fatalf("response %+v, parse: %v", resp, err)
	}
	got := srv.all()[0]
	if got.Path != "/model/"+bedrockDefaultModel+"/converse" {
		t.Errorf("path = %s", got.Path)
	}
	auth := got.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST/") || !strings.Contains(auth, "/eu-west-1/bedrock/aws4_request") || !strings.Contains(auth, "Signature=") {
		t.Errorf("not SigV4 for eu-west-1: %q", auth)
	}
	b := got.Body
	if ic := b["inferenceConfig"].(map[string]any); ic["maxTokens"] != float64(777) {
		t.Errorf("inferenceConfig = %v", ic)
	}
	system := b["system"].([]any)[0].(map[string]any)["text"].(string)
	msgs := b["messages"].([]any)
	user := msgs[0].(map[string]any)["content"].([]any)[0].(map[string]any)["text"].(string)
	checkScrubbedAndFenced(t, got.Raw, system, user)
	tc := b["toolConfig"].(map[string]any)
	if tc["toolChoice"].(map[string]any)["tool"].(map[string]any)["name"] != answerTool {
		t.Errorf("toolChoice = %v", tc["toolChoice"])
	}
	spec := tc["tools"].([]any)[0].(map[string]any)["toolSpec"].(map[string]any)
	if spec["inputSchema"].(map[string]any)["json"].(map[string]any)["properties"] == nil {
		t.Errorf("toolSpec = %v", spec)
	}
}

// TestBedrockDefaultChain: with only the region in the Secret, the SDK's
// default chain supplies the credentials (here from the environment, as
// IRSA's role would).
func TestBedrockDefaultChain(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMCHAIN")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "chain-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	srv := newWire(t, func(_ int, _ recorded, w http.ResponseWriter) { writeJSON(w, 200, converseToolUse(validAnalysis)) })
	keys := map[string]string{"BEDROCK_REGION": "us-east-1", "BEDROCK_MODEL": "us.anthropic.claude-3-5-haiku-20241022-v1:0"}
	s := srv.settings()
	p, err := New(platformv1alpha1.ProviderBedrock, func(k string) string { return keys[k] }, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Complete(context.Background(), testRequest(t)); err != nil {
		t.Fatal(err)
	}
	got := srv.all()[0]
	if !strings.HasPrefix(got.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDFROMCHAIN/") {
		t.Errorf("Authorization = %q", got.Header.Get("Authorization"))
	}
	if got.Path != "/model/us.anthropic.claude-3-5-haiku-20241022-v1:0/converse" {
		t.Errorf("path = %s", got.Path)
	}
}

func TestBedrockErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		errType string
		header  map[string]string
		kind    llm.ErrorKind
	}{
		{name: "throttled", status: 429, errType: "ThrottlingException", header: map[string]string{"Retry-After": "3"}, kind: llm.KindRateLimited},
		{name: "service unavailable", status: 503, errType: "ServiceUnavailableException", kind: llm.KindServer},
		{name: "access denied", status: 403, errType: "AccessDeniedException", kind: llm.KindAuth},
		{name: "validation", status: 400, errType: "ValidationException", kind: llm.KindBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newWire(t, func(_ int, _ recorded, w http.ResponseWriter) {
				w.Header().Set("X-Amzn-Errortype", tt.errType)
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				writeJSON(w, tt.status, `{"message":"local failure"}`)
			})
			keys := map[string]string{"BEDROCK_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"}
			p, err := New(platformv1alpha1.ProviderBedrock, func(k string) string { return keys[k] }, srv.settings())
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Complete(context.Background(), testRequest(t))
			var ce *llm.CallError
			if !errors.As(err, &ce) || ce.Kind != tt.kind || ce.Status != tt.status || ce.Detail != tt.errType {
				t.Fatalf("err = %#v, want %s", err, tt.kind)
			}
			if tt.header["Retry-After"] == "3" && ce.RetryAfter.Seconds() != 3 {
				t.Errorf("retry-after = %v", ce.RetryAfter)
			}
			if n := len(srv.all()); n != 1 {
				t.Errorf("%d calls; the SDK's retries must be off", n)
			}
		})
	}
}

func TestBedrockBadCABundle(t *testing.T) {
	keys := map[string]string{"BEDROCK_REGION": "us-east-1", "CHATCLI_BEDROCK_CA_BUNDLE": filepath.Join(t.TempDir(), "missing.pem")}
	_, err := New(platformv1alpha1.ProviderBedrock, func(k string) string { return keys[k] }, Settings{})
	if err == nil || errors.Is(err, llm.ErrNotConfigured) {
		t.Fatalf("err = %v, want a configuration error", err)
	}
}
