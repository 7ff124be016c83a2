package providers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/openai/openai-go/v3/option"

	"github.com/chatcli/aiops/libs/llm"
)

// GitHub Copilot speaks Chat Completions at COPILOT_API_BASE_URL, with a
// short-lived session token that the long-lived GitHub token of the
// Secret (GITHUB_COPILOT_TOKEN, from the device flow) is exchanged for,
// and editor headers without which it refuses the call.
const (
	copilotTokenURLVar     = "COPILOT_TOKEN_URL"
	copilotDefaultTokenURL = "https://api.github.com/copilot_internal/v2/token"
	// copilotSessionPrefix marks a token that is already a session token.
	copilotSessionPrefix = "tid="
	copilotRefreshMargin = time.Minute
)

func copilotHeaders() []option.RequestOption {
	return []option.RequestOption{
		option.WithHeader("Editor-Version", "chatcli-aiops/1.0"),
		option.WithHeader("Editor-Plugin-Version", "chatcli-aiops/1.0"),
		option.WithHeader("Copilot-Integration-Id", "vscode-chat"),
		option.WithHeader("User-Agent", "chatcli-aiops"),
	}
}

type copilotAuth struct {
	github   string
	tokenURL string
	client   *http.Client

	mu      sync.Mutex
	session string
	expires time.Time
}

func newCopilotAuth(githubToken, tokenURL string, client *http.Client) *copilotAuth {
	return &copilotAuth{github: githubToken, tokenURL: firstNonEmpty(tokenURL, copilotDefaultTokenURL), client: client}
}

// token returns a valid session token, exchanging the GitHub token when
// the cached one is about to expire.
func (a *copilotAuth) token(ctx context.Context) (string, error) {
	if strings.HasPrefix(a.github, copilotSessionPrefix) {
		return a.github, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.session != "" && time.Until(a.expires) > copilotRefreshMargin {
		return a.session, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.tokenURL, nil)
	if err != nil {
		return "", fmt.Errorf("copilot token request: %w", err)
	}
	req.Header.Set("Authorization", "token "+a.github)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Editor-Version", "chatcli-aiops/1.0")
	req.Header.Set("User-Agent", "chatcli-aiops")
	resp, err := a.client.Do(req)
	if err != nil {
		return "", transportError(ctx, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", transportError(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", statusError(resp.StatusCode, resp.Header, "copilot token exchange")
	}
	var out struct {
		Token     string `json:"token"`
		ExpiresAt int64  `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return "", &llm.CallError{Kind: llm.KindServer, Status: resp.StatusCode, Detail: "copilot token exchange: no token in the answer"}
	}
	a.session, a.expires = out.Token, time.Unix(out.ExpiresAt, 0)
	return a.session, nil
}
