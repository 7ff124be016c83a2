package postmortem

import (
	"context"
	"crypto/sha256"
	"fmt"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/report"
)

// MarkdownKey is the key of the Markdown copy in its ConfigMap.
const MarkdownKey = "postmortem.md"

// MarkdownConfigMapName is the ConfigMap beside a PostMortem that holds its
// Markdown copy.
func MarkdownConfigMapName(pm string) string { return pm + "-md" }

// exportMarkdown keeps a Markdown copy of the written report in a
// ConfigMap beside the PostMortem, owned by it, when MarkdownConfigMaps is
// set. It applies the ConfigMap (server-side apply, so no read and no
// ConfigMap cache is needed) only when the rendered document changed since
// this process last applied it; after a restart it applies once more, which
// changes nothing.
func (r *Reconciler) exportMarkdown(ctx context.Context, pm *platformv1alpha1.PostMortem) (ctrl.Result, error) {
	if !r.MarkdownConfigMaps || pm.Status.GeneratedAt == nil {
		return ctrl.Result{}, nil
	}
	doc := report.Render(pm)
	sum := sha256.Sum256([]byte(doc))
	if last, ok := r.exported.Load(pm.UID); ok && last.([32]byte) == sum {
		return ctrl.Result{}, nil
	}
	gvk := platformv1alpha1.GroupVersion.WithKind("PostMortem")
	cm := corev1ac.ConfigMap(MarkdownConfigMapName(pm.Name), pm.Namespace).
		WithLabels(map[string]string{platformv1alpha1.LabelIssue: pm.Spec.IssueRef.Name}).
		WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion(gvk.GroupVersion().String()).WithKind(gvk.Kind).
			WithName(pm.Name).WithUID(pm.UID).WithController(true).WithBlockOwnerDeletion(true)).
		WithData(map[string]string{MarkdownKey: doc})
	if err := r.Client.Apply(ctx, cm, client.FieldOwner("postmortem-writer"), client.ForceOwnership); err != nil {
		return ctrl.Result{}, fmt.Errorf("apply ConfigMap %s: %w", MarkdownConfigMapName(pm.Name), err)
	}
	r.exported.Store(pm.UID, sum)
	return ctrl.Result{}, nil
}
