// Package policy is the remediator's one action policy. Every action, from
// a Runbook, an AI suggestion, an agentic step or a gRPC caller, passes
// Decide before it is proposed, before it is approved and again before it
// runs.
package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/services/remediator/internal/audit"
)

// Rule names a policy rule. A refusal names the rule that refused; an
// approval requirement names the rule that asked for it.
type Rule string

// The rules, in the order Decide applies them.
const (
	RuleCustom          Rule = "custom-refused"
	RuleCatalogue       Rule = "catalogue"
	RuleNotImplemented  Rule = "not-implemented"
	RuleParams          Rule = "params"
	RuleTargetKind      Rule = "target-kind"
	RuleTargetExists    Rule = "target-exists"
	RuleTargetUID       Rule = "target-uid"
	RuleNamespace       Rule = "namespace"
	RuleMaxReplicas     Rule = "replicas-max"
	RuleScaleFactor     Rule = "replicas-factor"
	RuleScaleToZero     Rule = "scale-to-zero"
	RulePodDeletions    Rule = "pod-deletions"
	RuleResourceFactor  Rule = "resources-factor"
	RuleLimitRequest    Rule = "limit-below-request"
	RuleNamespaceBudget Rule = "budget-namespace"
	RuleClusterBudget   Rule = "budget-cluster"
	RuleApprovalClass   Rule = "approval-class"
	RuleApprovalNS      Rule = "approval-namespace"
	RuleApprovalZero    Rule = "approval-containment"
)

// ApprovalLabel on a namespace with the value "required" makes every plan
// there wait for a person's approval.
const ApprovalLabel = "chatcli.io/approval"

// Config holds the limits; see Defaults.
type Config struct {
	// PlatformNamespace is the remediator's own namespace, never a target
	// unless listed in AllowedNamespaces.
	PlatformNamespace string
	// AllowedNamespaces lifts the refusal of system namespaces
	// (kube-system, kube-public, kube-node-lease, the platform's).
	AllowedNamespaces []string
	// MaxReplicas is the most a scale may set.
	MaxReplicas int32
	// ScaleFactor bounds a scale to this many times the current replicas.
	ScaleFactor int32
	// ResourceFactor bounds a new request or limit to [current/f, current*f].
	ResourceFactor float64
	// ActionsPerNamespacePerHour is the blast-radius budget per namespace.
	ActionsPerNamespacePerHour int64
	// PlansPerHour is the budget of plans that start executing, cluster-wide.
	PlansPerHour int64
	// ApprovalClasses are the action classes that need a person's approval.
	ApprovalClasses []actions.Class
}

// Defaults are the limits when no flag says otherwise.
func Defaults() Config {
	return Config{
		MaxReplicas: 20, ScaleFactor: 2, ResourceFactor: 4,
		ActionsPerNamespacePerHour: 10, PlansPerHour: 20,
		ApprovalClasses: []actions.Class{actions.ClassDestructive},
	}
}

var systemNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// Verdict is the decision on one action.
type Verdict struct {
	Allowed bool
	// Rule refused the action, when not Allowed.
	Rule Rule
	// Reason is a sentence for people.
	Reason string
	// ApprovalRequired when an allowed action may run only after approval;
	// ApprovalRule says which rule asks.
	ApprovalRequired bool
	ApprovalRule     Rule
}

// Plan is what Decide knows of the plan an action belongs to.
type Plan struct {
	Name, Namespace, Issue string
	UID                    types.UID
	// Index of the action in the plan (or agentic history).
	Index int32
	// Actions are all the plan's actions, for the per-plan limits; in
	// agentic mode the steps taken and the one proposed.
	Actions []platformv1alpha1.RemediationAction
	// Constraints are the plan's safetyConstraints; those that name a
	// rule switch it on (see Constraints).
	Constraints []string
}

// Mode says whether Decide spends the budgets.
type Mode int

const (
	// Check reads the budgets: for proposals, validation and dry-runs.
	Check Mode = iota
	// Spend spends them, once per plan and action index: before an action
	// runs.
	Spend
)

// ErrUnavailable wraps failures to read what a decision needs (the API
// server, Redis): no decision, so nothing runs.
var ErrUnavailable = errors.New("policy inputs unavailable")

// Policy decides. Reader reads targets and namespaces live.
type Policy struct {
	Config Config
	Reader client.Reader
	Redis  *redisx.Client
	Audit  *audit.Logger
	Now    func() time.Time
}

func (p *Policy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Decide applies the rules in order to action on target for plan, and
// audits the decision with actor.
func (p *Policy) Decide(ctx context.Context, actor string, action platformv1alpha1.RemediationAction, target platformv1alpha1.ResourceReference, plan Plan, mode Mode) (Verdict, error) {
	v, err := p.decide(ctx, action, target, plan, mode)
	if err != nil {
		return Verdict{}, err
	}
	result := "allowed"
	switch {
	case !v.Allowed:
		result = "refused"
	case v.ApprovalRequired:
		result = "approval_required"
	}
	idx := plan.Index
	p.Audit.Record(audit.Event{
		Kind: audit.KindDecision, Actor: actor, Plan: plan.Namespace + "/" + plan.Name, Issue: plan.Issue,
		Target: target.String(), Action: string(action.Type), Index: &idx, Params: action.Params,
		Result: result, Rule: string(firstNonEmpty(v.Rule, v.ApprovalRule)), Detail: v.Reason,
	})
	return v, nil
}

func firstNonEmpty(a, b Rule) Rule {
	if a != "" {
		return a
	}
	return b
}

func refuse(rule Rule, format string, args ...any) Verdict {
	return Verdict{Rule: rule, Reason: fmt.Sprintf(format, args...)}
}

func (p *Policy) decide(ctx context.Context, action platformv1alpha1.RemediationAction, target platformv1alpha1.ResourceReference, plan Plan, mode Mode) (Verdict, error) {
	// 1. Catalogue and params.
	if action.Type == platformv1alpha1.ActionCustom {
		return refuse(RuleCustom, "Custom actions never run"), nil
	}
	spec, ok := actions.Lookup(action.Type)
	if !ok {
		return refuse(RuleCatalogue, "%q is not in the action catalogue", action.Type), nil
	}
	if err := actions.Parse(action.Type, action.Params); err != nil {
		return refuse(RuleParams, "%v", err), nil
	}
	if !spec.Implemented {
		return refuse(RuleNotImplemented, "%s is in the catalogue but not implemented", action.Type), nil
	}
	if v, refused := constraintRefusal(action, spec, plan.Constraints); refused {
		return v, nil
	}

	// 2. The target: its kind, existence, uid and namespace.
	if target.Kind != spec.TargetKind {
		return refuse(RuleTargetKind, "%s acts on a %s, not a %s", action.Type, spec.TargetKind, target.Kind), nil
	}
	if p.namespaceRefused(target.Namespace) {
		return refuse(RuleNamespace, "namespace %q is a system or platform namespace", target.Namespace), nil
	}
	obj, ok := actions.NewTarget(target.Kind)
	if !ok {
		return refuse(RuleTargetKind, "no executor acts on a %s", target.Kind), nil
	}
	if err := p.Reader.Get(ctx, client.ObjectKey{Namespace: target.Namespace, Name: target.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return refuse(RuleTargetExists, "%s does not exist", target), nil
		}
		return Verdict{}, fmt.Errorf("%w: get %s: %w", ErrUnavailable, target, err)
	}
	// The plan's own RetryJob gives its target a new uid (StandsFor).
	if !actions.StandsFor(obj, target, plan.UID) {
		return refuse(RuleTargetUID, "%s was recreated (uid %s, the incident's is %s)", target, obj.GetUID(), target.UID), nil
	}

	// 3. Bounds.
	if v, refused := p.bounds(action, obj, plan); refused {
		return v, nil
	}

	// 4. Budgets.
	if v, refused, err := p.budgets(ctx, target, plan, mode); err != nil || refused {
		return v, err
	}

	// 5. Approval.
	v := Verdict{Allowed: true}
	if slices.Contains(p.Config.ApprovalClasses, spec.Class) {
		v.ApprovalRequired, v.ApprovalRule, v.Reason = true, RuleApprovalClass, fmt.Sprintf("%s is %s", action.Type, spec.Class)
	}
	if action.Type == platformv1alpha1.ActionScaleDeployment && action.Params[actions.ParamReplicas] == "0" {
		v.ApprovalRequired, v.ApprovalRule, v.Reason = true, RuleApprovalZero, "a scale to 0 takes the workload down"
	}
	ns := &corev1.Namespace{}
	if err := p.Reader.Get(ctx, client.ObjectKey{Name: target.Namespace}, ns); err != nil {
		return Verdict{}, fmt.Errorf("%w: get namespace %s: %w", ErrUnavailable, target.Namespace, err)
	}
	if ns.Labels[ApprovalLabel] == "required" {
		v.ApprovalRequired, v.ApprovalRule, v.Reason = true, RuleApprovalNS, "namespace "+ns.Name+" requires approval"
	}
	return v, nil
}

func (p *Policy) namespaceRefused(ns string) bool {
	if slices.Contains(p.Config.AllowedNamespaces, ns) {
		return false
	}
	return slices.Contains(systemNamespaces, ns) || (p.Config.PlatformNamespace != "" && ns == p.Config.PlatformNamespace)
}

// bounds checks the limits of action on the live target obj, a
// Deployment or a Job as the action's kind says (the target-kind rule
// already held).
func (p *Policy) bounds(action platformv1alpha1.RemediationAction, obj client.Object, plan Plan) (Verdict, bool) {
	if j, ok := obj.(*batchv1.Job); ok {
		return p.jobBounds(action, j)
	}
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return Verdict{}, false
	}
	switch action.Type {
	case platformv1alpha1.ActionScaleDeployment:
		sp, _ := actions.ParseScale(action.Type, action.Params)
		current := int32(1)
		if d.Spec.Replicas != nil {
			current = *d.Spec.Replicas
		}
		switch {
		case sp.Replicas > p.Config.MaxReplicas:
			return refuse(RuleMaxReplicas, "%d replicas is above the maximum of %d", sp.Replicas, p.Config.MaxReplicas), true
		case sp.Replicas > max(current*p.Config.ScaleFactor, 1):
			return refuse(RuleScaleFactor, "%d replicas is more than %d times the current %d", sp.Replicas, p.Config.ScaleFactor, current), true
		case sp.Replicas == 0 && !sp.Containment:
			return refuse(RuleScaleToZero, "a scale to 0 is allowed only as declared containment (containment=true)"), true
		}
	case platformv1alpha1.ActionDeletePod:
		n := 0
		for _, a := range plan.Actions {
			if a.Type == platformv1alpha1.ActionDeletePod {
				n++
			}
		}
		if n > 1 {
			return refuse(RulePodDeletions, "the plan deletes %d pods; at most one per plan", n), true
		}
	case platformv1alpha1.ActionAdjustResources:
		rp, _ := actions.ParseResources(action.Type, action.Params)
		return p.resourceBounds(rp, &d.Spec.Template.Spec)
	}
	return Verdict{}, false
}

// jobBounds holds a Job's parallelism to the replicas bound (it is how
// many pods run at once) and its new resources to the resource bounds.
func (p *Policy) jobBounds(action platformv1alpha1.RemediationAction, j *batchv1.Job) (Verdict, bool) {
	if action.Type == platformv1alpha1.ActionAdjustJobResources {
		rp, _ := actions.ParseResources(action.Type, action.Params)
		return p.resourceBounds(rp, &j.Spec.Template.Spec)
	}
	if action.Type != platformv1alpha1.ActionAdjustJobParallelism {
		return Verdict{}, false
	}
	_, n, _ := actions.ParseJobSetting(action.Type, action.Params)
	current := int64(1)
	if j.Spec.Parallelism != nil {
		current = int64(*j.Spec.Parallelism)
	}
	switch {
	case n > int64(p.Config.MaxReplicas):
		return refuse(RuleMaxReplicas, "parallelism %d is above the maximum of %d", n, p.Config.MaxReplicas), true
	case n > max(current*int64(p.Config.ScaleFactor), 1):
		return refuse(RuleScaleFactor, "parallelism %d is more than %d times the current %d", n, p.Config.ScaleFactor, current), true
	}
	return Verdict{}, false
}

// resourceBounds keeps a new request or limit within ResourceFactor of the
// current value of the same resource (the limit, for a request without
// one, and the other way round), and every limit at least its request.
func (p *Policy) resourceBounds(rp actions.ResourceParams, podSpec *corev1.PodSpec) (Verdict, bool) {
	spec := podSpec.DeepCopy()
	i := 0
	if rp.Container != "" {
		i = slices.IndexFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == rp.Container })
	}
	if i < 0 || len(spec.Containers) == 0 {
		return refuse(RuleParams, "no container %q", rp.Container), true
	}
	c := spec.Containers[i]
	for _, q := range []struct {
		name     string
		res      corev1.ResourceName
		want     *resource.Quantity
		own, alt corev1.ResourceList
	}{
		{"memory_request", corev1.ResourceMemory, rp.MemoryRequest, c.Resources.Requests, c.Resources.Limits},
		{"memory_limit", corev1.ResourceMemory, rp.MemoryLimit, c.Resources.Limits, c.Resources.Requests},
		{"cpu_request", corev1.ResourceCPU, rp.CPURequest, c.Resources.Requests, c.Resources.Limits},
		{"cpu_limit", corev1.ResourceCPU, rp.CPULimit, c.Resources.Limits, c.Resources.Requests},
	} {
		if q.want == nil {
			continue
		}
		cur, ok := q.own[q.res]
		if !ok {
			cur, ok = q.alt[q.res]
		}
		if !ok {
			return refuse(RuleResourceFactor, "%s: the container has no current %s to bound the change by", q.name, q.res), true
		}
		f := p.Config.ResourceFactor
		want, now := q.want.AsApproximateFloat64(), cur.AsApproximateFloat64()
		if want > now*f || want < now/f {
			return refuse(RuleResourceFactor, "%s %s is not within %g times the current %s", q.name, q.want.String(), f, cur.String()), true
		}
	}
	if _, err := actions.AdjustContainer(spec, rp); err != nil {
		return refuse(RuleLimitRequest, "%v", err), true
	}
	return Verdict{}, false
}

// Budget scopes, also listed in docs/architecture.md.
func namespaceBudget(ns string, limit int64) redisx.Budget {
	return redisx.Budget{Scope: "remediation:actions:ns:" + ns, Limit: limit, Window: time.Hour}
}

func clusterBudget(limit int64) redisx.Budget {
	return redisx.Budget{Scope: "remediation:plans", Limit: limit, Window: time.Hour}
}

func (p *Policy) budgets(ctx context.Context, target platformv1alpha1.ResourceReference, plan Plan, mode Mode) (Verdict, bool, error) {
	if p.Redis == nil {
		return Verdict{}, false, fmt.Errorf("%w: no Redis for the budgets", ErrUnavailable)
	}
	now := p.now()
	nsB, clB := namespaceBudget(target.Namespace, p.Config.ActionsPerNamespacePerHour), clusterBudget(p.Config.PlansPerHour)
	var nsR, clR redisx.BudgetResult
	var err error
	if mode == Spend {
		if plan.UID == "" {
			return Verdict{}, false, errors.New("a spend needs the plan's uid")
		}
		if clR, err = p.Redis.SpendBudgetOnce(ctx, clB, string(plan.UID), now); err == nil && clR.Allowed {
			nsR, err = p.Redis.SpendBudgetOnce(ctx, nsB, fmt.Sprintf("%s/%d", plan.UID, plan.Index), now)
		}
	} else {
		if clR, err = p.Redis.BudgetUsage(ctx, clB, now); err == nil {
			nsR, err = p.Redis.BudgetUsage(ctx, nsB, now)
		}
	}
	if err != nil {
		return Verdict{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !clR.Allowed {
		return refuse(RuleClusterBudget, "%d plans already started this hour, the limit is %d", clR.Used, clB.Limit), true, nil
	}
	if !nsR.Allowed {
		return refuse(RuleNamespaceBudget, "%d actions already ran in %s this hour, the limit is %d", nsR.Used, target.Namespace, nsB.Limit), true, nil
	}
	return Verdict{}, false, nil
}
