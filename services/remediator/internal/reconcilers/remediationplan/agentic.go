package remediationplan

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// agentic runs one observe-decide-act step per pass.
func (r *Reconciler) agentic(ctx context.Context, p *platformv1alpha1.RemediationPlan) (ctrl.Result, error) {
	return r.finish(ctx, p, platformv1alpha1.PlanFailed, "agentic plans are not executed yet")
}
