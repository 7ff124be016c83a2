package instancekeys_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
	"github.com/chatcli/aiops/libs/llm/providers"
	"github.com/chatcli/aiops/libs/scrub"
	"github.com/chatcli/aiops/libs/testenv"
	"github.com/chatcli/aiops/services/analyzer/internal/instancekeys"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

// TestResolverReadsTheInstanceSecret: under the analyzer's generated RBAC,
// the resolver finds the namespace's Instance for the provider, reads its
// apiKeys Secret, and the provider calls with that key; a rotated Secret is
// picked up; a namespace without such an Instance is not configured.
func TestResolverReadsTheInstanceSecret(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"m","type":"message","role":"assistant","model":"claude-local","content":[{"type":"text","text":"{}"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}`)
	}))
	defer srv.Close()

	ns := env.NewNamespace(t, "shop", nil)
	empty := env.NewNamespace(t, "empty", nil)
	platform := env.NewNamespace(t, "platform", nil)
	id := env.AsService(t, "analyzer", platform, ns)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "llm-keys"},
		Data:       map[string][]byte{"ANTHROPIC_API_KEY": []byte("sk-ant-first"), "ANTHROPIC_BASE_URL": []byte(srv.URL)},
	}
	if err := env.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	for _, inst := range []*platformv1alpha1.Instance{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "a-openai"}, Spec: platformv1alpha1.InstanceSpec{Provider: platformv1alpha1.ProviderOpenAI}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b-claude"}, Spec: platformv1alpha1.InstanceSpec{Provider: platformv1alpha1.ProviderClaudeAI, APIKeys: &platformv1alpha1.LocalObjectReference{Name: "llm-keys"}}},
	} {
		if err := env.Client.Create(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}
	r := &instancekeys.Resolver{Instances: id.Client, Secrets: id.Client, Settings: providers.Settings{HTTPClient: srv.Client()}, Policy: llm.Policy{MaxAttempts: 1}}
	call := func() {
		t.Helper()
		p, err := r.Provider(ctx, ns, platformv1alpha1.ProviderClaudeAI)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Complete(ctx, llm.Request{Task: llm.TaskAnalyze, System: "s", Untrusted: scrub.Default().Scrub("data")}); err != nil {
			t.Fatal(err)
		}
	}
	call()
	secret.Data["ANTHROPIC_API_KEY"] = []byte("sk-ant-rotated")
	if err := env.Client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	call()
	mu.Lock()
	got := append([]string(nil), auth...)
	mu.Unlock()
	if len(got) != 2 || got[0] != "Bearer sk-ant-first" || got[1] != "Bearer sk-ant-rotated" {
		t.Fatalf("keys sent = %q", got)
	}
	for _, tc := range []struct {
		ns   string
		name platformv1alpha1.Provider
	}{{empty, platformv1alpha1.ProviderClaudeAI}, {ns, platformv1alpha1.ProviderOpenAI}, {ns, platformv1alpha1.ProviderBedrock}} {
		if _, err := r.Provider(ctx, tc.ns, tc.name); !errors.Is(err, llm.ErrNotConfigured) {
			t.Errorf("%s in %s: %v, want ErrNotConfigured", tc.name, tc.ns, err)
		}
	}
}

// TestTuningComesFromTheProvidersInstance: the first Instance (by name)
// naming the provider sets the max tokens and temperature, with or without
// an apiKeys Secret; another provider's Instance, or none, leaves the flags.
func TestTuningComesFromTheProvidersInstance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := env.NewNamespace(t, "tuned", nil)
	platform := env.NewNamespace(t, "platform", nil)
	id := env.AsService(t, "analyzer", platform, ns)
	temp := 0.3
	for _, inst := range []*platformv1alpha1.Instance{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "a-claude"}, Spec: platformv1alpha1.InstanceSpec{
			Provider: platformv1alpha1.ProviderClaudeAI, MaxTokens: ptr(int32(1500)), Temperature: &temp, ProviderTimeout: &metav1.Duration{Duration: 45 * time.Second},
		}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b-claude"}, Spec: platformv1alpha1.InstanceSpec{Provider: platformv1alpha1.ProviderClaudeAI, MaxTokens: ptr(int32(9))}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "c-openai"}, Spec: platformv1alpha1.InstanceSpec{Provider: platformv1alpha1.ProviderOpenAI}},
	} {
		if err := env.Client.Create(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}
	r := &instancekeys.Resolver{Instances: id.Client, Secrets: id.Client}
	tests := map[string]struct {
		ns        string
		provider  platformv1alpha1.Provider
		maxTokens int
		temp      *float64
		timeout   time.Duration
	}{
		"TheFirstInstanceOfTheProvider": {ns: ns, provider: platformv1alpha1.ProviderClaudeAI, maxTokens: 1500, temp: &temp, timeout: 45 * time.Second},
		"AnInstanceThatSetsNothing":     {ns: ns, provider: platformv1alpha1.ProviderOpenAI},
		"NoInstanceOfTheProvider":       {ns: ns, provider: platformv1alpha1.ProviderBedrock},
		"ANamespaceWithoutInstances":    {ns: platform, provider: platformv1alpha1.ProviderClaudeAI},
		"NoNamespace":                   {ns: "", provider: platformv1alpha1.ProviderClaudeAI},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := r.Tuning(ctx, tt.ns, tt.provider)
			if got.MaxTokens != tt.maxTokens || got.Timeout != tt.timeout || (got.Temperature == nil) != (tt.temp == nil) || got.Temperature != nil && *got.Temperature != *tt.temp {
				t.Errorf("Tuning = %+v, want %d, %v, %v", got, tt.maxTokens, tt.temp, tt.timeout)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
