package providers

import (
	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/llm"
)

func newBedrock(keys Keys, s Settings) (llm.Provider, error) {
	return nil, notConfigured(platformv1alpha1.ProviderBedrock, "BEDROCK_REGION")
}
