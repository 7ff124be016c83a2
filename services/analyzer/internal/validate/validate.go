// Package validate keeps garbage and danger out of AIInsights: every
// action an analysis suggests passes an ActionChecker before it is stored
// in status.suggestedActions; a refused one goes to status.rejectedActions
// with the reason. The remediator's policy still decides later whether an
// action runs; this is the first gate, not the last.
package validate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/llm"
)

// ActionChecker decides whether a suggested action may be stored for an
// incident on target. The lead wires the shared action policy behind it;
// Default is the analyzer's own conservative one.
type ActionChecker interface {
	Check(ctx context.Context, target platformv1alpha1.ResourceReference, a platformv1alpha1.SuggestedAction) error
}

// Refused are actions the analyzer never stores: they act beyond the
// incident's resource (ApplyManifest, PatchNetworkPolicy), run arbitrary
// commands (ExecDiagnostic), touch secrets (RotateSecret), evict or
// force-delete (DrainNode and the force and recreate variants), or replace
// a whole template with model-written text (ReplaceCronJobTemplate).
var Refused = []platformv1alpha1.ActionType{
	platformv1alpha1.ActionCustom, platformv1alpha1.ActionApplyManifest, platformv1alpha1.ActionExecDiagnostic,
	platformv1alpha1.ActionRotateSecret, platformv1alpha1.ActionDrainNode, platformv1alpha1.ActionPatchNetworkPolicy,
	platformv1alpha1.ActionForceDeleteStatefulSetPod, platformv1alpha1.ActionForceDeleteJobPods,
	platformv1alpha1.ActionRecreateStatefulSetPVC, platformv1alpha1.ActionCordonAndDeleteDaemonSetPod,
	platformv1alpha1.ActionReplaceCronJobTemplate,
}

// ProtectedNamespaces are never a target.
var ProtectedNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// maxReplicas bounds a replica count an analysis may suggest, and
// maxHPAReplicas an HPA's bounds.
const (
	maxReplicas    = 100
	maxHPAReplicas = 1000
)

var paramName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Default is the analyzer's conservative checker.
type Default struct {
	// PlatformNamespace is the platform's own namespace, never a target.
	PlatformNamespace string
}

// Check implements ActionChecker.
func (d Default) Check(_ context.Context, target platformv1alpha1.ResourceReference, a platformv1alpha1.SuggestedAction) error {
	if !a.Action.IsExecutable() {
		return fmt.Errorf("%q is not an executable catalogue action", a.Action)
	}
	if slices.Contains(Refused, a.Action) {
		return fmt.Errorf("%s is never suggested automatically", a.Action)
	}
	if slices.Contains(ProtectedNamespaces, target.Namespace) || (d.PlatformNamespace != "" && target.Namespace == d.PlatformNamespace) {
		return fmt.Errorf("namespace %s is protected", target.Namespace)
	}
	if kinds := kindsOf(a.Action); len(kinds) > 0 && !slices.Contains(kinds, target.Kind) {
		return fmt.Errorf("%s acts on a %s, and the incident is about a %s", a.Action, kinds[0], target.Kind)
	}
	if err := checkParams(a.Params); err != nil {
		return err
	}
	for _, p := range []string{"namespace", "kind", "name"} {
		if v, ok := a.Params[p]; ok && v != refField(target, p) {
			return fmt.Errorf("param %s=%q names another object than the incident's", p, v)
		}
	}
	for _, p := range []string{"replicas", "minReplicas", "maxReplicas"} {
		if v, ok := a.Params[p]; ok {
			limit := maxReplicas
			if a.Action == platformv1alpha1.ActionAdjustHPA {
				limit = maxHPAReplicas
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > limit {
				return fmt.Errorf("%s %q is not between 1 and %d", p, v, limit)
			}
		}
	}
	return nil
}

func refField(r platformv1alpha1.ResourceReference, p string) string {
	switch p {
	case "namespace":
		return r.Namespace
	case "kind":
		return r.Kind
	}
	return r.Name
}

func checkParams(params platformv1alpha1.ActionParams) error {
	if len(params) > platformv1alpha1.MaxActionParams {
		return fmt.Errorf("%d params, at most %d", len(params), platformv1alpha1.MaxActionParams)
	}
	for k, v := range params {
		if len(k) > platformv1alpha1.MaxActionParamNameLength || !paramName.MatchString(k) {
			return fmt.Errorf("param name %q is not allowed", truncate(k, 64))
		}
		if len(v) > platformv1alpha1.MaxActionParamValueLength {
			return fmt.Errorf("param %s is longer than %d bytes", k, platformv1alpha1.MaxActionParamValueLength)
		}
	}
	return nil
}

// kindsOf is the kinds an action acts on; nil for actions on any kind
// (HelmRollback, ArgoSyncApp).
func kindsOf(a platformv1alpha1.ActionType) []string {
	i := slices.Index(platformv1alpha1.ExecutableActions, a)
	switch {
	case i < 0:
		return nil
	case i < 6:
		return []string{k8sctx.KindDeployment}
	case i < 16:
		return []string{k8sctx.KindStatefulSet}
	case i < 23:
		return []string{k8sctx.KindDaemonSet}
	case i < 32:
		return []string{k8sctx.KindJob}
	case i < 42:
		return []string{k8sctx.KindCronJob}
	}
	switch a {
	case platformv1alpha1.ActionAdjustHPA:
		return []string{k8sctx.KindHorizontalPodAutoscaler}
	case platformv1alpha1.ActionCordonNode, platformv1alpha1.ActionUncordonNode, platformv1alpha1.ActionDrainNode:
		return []string{k8sctx.KindNode}
	case platformv1alpha1.ActionResizePVC:
		return []string{k8sctx.KindPersistentVolumeClaim}
	case platformv1alpha1.ActionUpdateIngress:
		return []string{k8sctx.KindIngress}
	}
	return nil
}

// Result is the outcome of validating an analysis' actions.
type Result struct {
	Accepted []platformv1alpha1.SuggestedAction
	Rejected []platformv1alpha1.RejectedAction
}

// Actions validates raw actions from an answer. At most
// MaxSuggestedActions are accepted and MaxRejectedActions kept as
// rejected; everything stored is cut to the CRD's bounds.
func Actions(ctx context.Context, checker ActionChecker, target platformv1alpha1.ResourceReference, raw []llm.Action) Result {
	var res Result
	for _, r := range raw {
		a := platformv1alpha1.SuggestedAction{
			Name: truncate(r.Name, 256), Action: platformv1alpha1.ActionType(r.Action),
			Description: truncate(r.Description, platformv1alpha1.MaxDescriptionLength),
		}
		if len(r.Params) > 0 {
			a.Params = platformv1alpha1.ActionParams(r.Params)
		}
		err := checker.Check(ctx, target, a)
		if err == nil && len(res.Accepted) >= MaxSuggestedActions {
			err = errors.New("more actions than an insight holds")
		}
		if err == nil {
			res.Accepted = append(res.Accepted, a)
			continue
		}
		if len(res.Rejected) < MaxRejectedActions {
			res.Rejected = append(res.Rejected, platformv1alpha1.RejectedAction{
				Action: truncate(orDefault(r.Action, "(none)"), 256), Params: boundedParams(r.Params), Reason: truncate(err.Error(), 1024),
			})
		}
	}
	return res
}

// The status bounds of AIInsight.
const (
	MaxSuggestedActions = 16
	MaxRejectedActions  = 32
)

// boundedParams keeps the params of a refused action that the CRD's rules
// accept, so that storing the refusal never fails.
func boundedParams(in map[string]string) platformv1alpha1.ActionParams {
	out := platformv1alpha1.ActionParams{}
	for k, v := range in {
		if len(out) >= platformv1alpha1.MaxActionParams {
			break
		}
		if len(k) <= platformv1alpha1.MaxActionParamNameLength && paramName.MatchString(k) {
			out[k] = truncate(v, 1024)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// truncate cuts s to n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
