package app

import (
	"context"
	"fmt"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/scrub"
)

// agenticObservation is what an agentic step sees of its target: the same
// Kubernetes context the analyzer builds for an analysis (workload, failing
// pods, events, revisions, log tails), rendered within maxBytes and
// scrubbed before it leaves the process.
func agenticObservation(b *k8sctx.Builder, s *scrub.Scrubber, maxBytes int) func(context.Context, platformv1alpha1.ResourceReference) (string, error) {
	return func(ctx context.Context, target platformv1alpha1.ResourceReference) (string, error) {
		kctx, err := b.Build(ctx, k8sctx.Ref{Kind: target.Kind, Namespace: target.Namespace, Name: target.Name})
		if err != nil {
			return "", fmt.Errorf("build the context of %s %s/%s: %w", target.Kind, target.Namespace, target.Name, err)
		}
		rendered, err := kctx.Render(maxBytes)
		if err != nil {
			return "", fmt.Errorf("render the context of %s %s/%s: %w", target.Kind, target.Namespace, target.Name, err)
		}
		return s.Scrub(string(rendered)).String(), nil
	}
}
