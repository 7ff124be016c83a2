package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// ErrInProgress means the action started and must be applied again later
// to finish (RetryJob waits for the old Job to be gone); it is not a
// failure.
var ErrInProgress = errors.New("the action is under way")

// Target kinds the executors act on.
const (
	KindDeployment = "Deployment"
	KindJob        = "Job"
)

// KindExecutor runs the actions of one target kind, and reads the target
// the way the plan reconciler judges it.
type KindExecutor interface {
	Executor
	// APIVersion of the kind, for a plan's resolvedTarget.
	APIVersion() string
	// Live returns the object that is target now for the plan whose uid
	// is plan (empty outside a plan): ErrTargetMissing when there is none,
	// ErrTargetReplaced when it is another object (see StandsFor).
	Live(ctx context.Context, target platformv1alpha1.ResourceReference, plan types.UID) (client.Object, error)
	// Pods returns the pods of obj, an object Live returned.
	Pods(ctx context.Context, obj client.Object) ([]corev1.Pod, error)
}

// Executors dispatches actions and reads to the executor of the target's
// kind. A kind without one is refused with ErrNotImplemented (the policy
// refuses its actions before they get here: none is implemented).
type Executors struct {
	Deployment *DeploymentExecutor
	Job        *JobExecutor
}

// NewExecutors returns the executors of every implemented kind on c.
func NewExecutors(c client.Client) *Executors {
	return &Executors{Deployment: &DeploymentExecutor{Client: c}, Job: &JobExecutor{Client: c}}
}

var _ Executor = (*Executors)(nil)

// For returns the executor of kind.
func (e *Executors) For(kind string) (KindExecutor, error) {
	switch {
	case kind == KindDeployment && e.Deployment != nil:
		return deploymentKind{e.Deployment}, nil
	case kind == KindJob && e.Job != nil:
		return e.Job, nil
	}
	return nil, fmt.Errorf("target kind %q: %w", kind, ErrNotImplemented)
}

// Live returns target's live object for plan; see KindExecutor.Live.
func (e *Executors) Live(ctx context.Context, target platformv1alpha1.ResourceReference, plan types.UID) (client.Object, error) {
	k, err := e.For(target.Kind)
	if err != nil {
		return nil, err
	}
	return k.Live(ctx, target, plan)
}

// Snapshot runs the snapshot of req's target kind.
func (e *Executors) Snapshot(ctx context.Context, req Request) (string, error) {
	k, err := e.For(req.Target.Kind)
	if err != nil {
		return "", err
	}
	return k.Snapshot(ctx, req)
}

// Apply runs req's action with the executor of its target's kind.
func (e *Executors) Apply(ctx context.Context, req Request, snapshot string) (Outcome, error) {
	k, err := e.For(req.Target.Kind)
	if err != nil {
		return Outcome{}, err
	}
	return k.Apply(ctx, req, snapshot)
}

// Restore undoes req's action with the executor of its target's kind.
func (e *Executors) Restore(ctx context.Context, req Request, snapshot string) (Outcome, error) {
	k, err := e.For(req.Target.Kind)
	if err != nil {
		return Outcome{}, err
	}
	return k.Restore(ctx, req, snapshot)
}

// StandsFor says whether obj is the plan's target: the rule every uid
// check applies (the executors' Live, the policy's target-uid, ProposePlan).
//
// obj stands for target when its uid is target's. Besides, for a Job:
//
//   - Inside a plan (plan set): when a RetryJob (or AdjustJobResources) of
//     this very plan created it. Those delete the target and create it
//     anew under the same name, so the Job the plan's later steps act on
//     and its verification judges has another uid; it carries
//     AnnotationRetryKey "<plan uid>/<index>", which only this plan's
//     executor writes. resolvedTarget never changes.
//   - Outside a plan (plan empty: ProposePlan, a plan resolving its target
//     in Pending, ValidatePlan, DryRun): when it is a re-run of target,
//     carrying AnnotationRetryOf with target's uid, so a later attempt of
//     the incident acts on the Job an earlier attempt re-ran; the plan then
//     resolves to that Job's uid.
//
// Any other uid is a replacement nobody asked for (ErrTargetReplaced):
// nothing acts on an object the incident was not about.
func StandsFor(obj metav1.Object, target platformv1alpha1.ResourceReference, plan types.UID) bool {
	if target.UID == "" || obj.GetUID() == target.UID {
		return true
	}
	if target.Kind != KindJob {
		return false
	}
	if plan == "" {
		return obj.GetAnnotations()[AnnotationRetryOf] == string(target.UID)
	}
	key, ok := obj.GetAnnotations()[AnnotationRetryKey]
	return ok && strings.HasPrefix(key, string(plan)+"/")
}

// deploymentKind is the Deployment executor seen as a KindExecutor; its
// own methods keep their typed signatures.
type deploymentKind struct{ *DeploymentExecutor }

func (deploymentKind) APIVersion() string { return appsv1.SchemeGroupVersion.String() }

// Live ignores plan: no Deployment action replaces its target.
func (d deploymentKind) Live(ctx context.Context, target platformv1alpha1.ResourceReference, _ types.UID) (client.Object, error) {
	return d.DeploymentExecutor.Live(ctx, target)
}

func (d deploymentKind) Pods(ctx context.Context, obj client.Object) ([]corev1.Pod, error) {
	dep, ok := obj.(*appsv1.Deployment)
	if !ok {
		return nil, fmt.Errorf("%T is not a Deployment", obj)
	}
	pods, _, err := d.PodsOf(ctx, dep)
	return pods, err
}

// NewTarget returns an empty object of kind, for a read of the target;
// false for a kind no executor acts on.
func NewTarget(kind string) (client.Object, bool) {
	switch kind {
	case KindDeployment:
		return &appsv1.Deployment{}, true
	case KindJob:
		return &batchv1.Job{}, true
	}
	return nil, false
}
