package providers

import (
	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

func newGemini(keys Keys, s Settings) (llm.Provider, error) {
	return nil, notConfigured(platformv1alpha1.ProviderGoogleAI, "GOOGLEAI_API_KEY")
}
