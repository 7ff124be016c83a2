package actions

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/k8sctx"
)

// Annotations of Deployments and ReplicaSets the executor reads and writes.
const (
	// AnnotationRevision is the Deployment controller's revision number.
	AnnotationRevision = "deployment.kubernetes.io/revision"
	// AnnotationRestartedAt is kubectl rollout restart's template annotation.
	AnnotationRestartedAt = "kubectl.kubernetes.io/restartedAt"
	// AnnotationRestartKey on the pod template names the action run that
	// restarted it, so that a repeated restart does not roll twice.
	AnnotationRestartKey = "platform.chatcli.io/restart-key"
)

// DeploymentExecutor runs the Deployment actions.
type DeploymentExecutor struct {
	Client client.Client
	// Now stamps restarts; time.Now when nil.
	Now func() time.Time
}

var _ Executor = (*DeploymentExecutor)(nil)

// deploymentSnapshot is what the Deployment actions change.
type deploymentSnapshot struct {
	Replicas  *int32                  `json:"replicas,omitempty"`
	Template  *corev1.PodTemplateSpec `json:"template,omitempty"`
	ConfigMap *configMapSnapshot      `json:"configMap,omitempty"`
	// Pod is the pod DeletePod chose, with its uid.
	Pod *podChoice `json:"pod,omitempty"`
}

type configMapSnapshot struct {
	Name    string `json:"name"`
	UID     string `json:"uid"`
	Key     string `json:"key"`
	Existed bool   `json:"existed"`
	Value   string `json:"value,omitempty"`
}

type podChoice struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

func (e *DeploymentExecutor) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Live returns the target Deployment, checking its uid.
func (e *DeploymentExecutor) Live(ctx context.Context, target platformv1alpha1.ResourceReference) (*appsv1.Deployment, error) {
	if target.Kind != "Deployment" {
		return nil, fmt.Errorf("target kind %s: the Deployment executor acts on Deployments", target.Kind)
	}
	d := &appsv1.Deployment{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: target.Namespace, Name: target.Name}, d); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%s: %w", target, ErrTargetMissing)
		}
		return nil, fmt.Errorf("get %s: %w", target, err)
	}
	if target.UID != "" && d.UID != target.UID {
		return nil, fmt.Errorf("%s: %w (%s, expected %s)", target, ErrTargetReplaced, d.UID, target.UID)
	}
	return d, nil
}

// Snapshot saves what req's action will change.
func (e *DeploymentExecutor) Snapshot(ctx context.Context, req Request) (string, error) {
	d, err := e.Live(ctx, req.Target)
	if err != nil {
		return "", err
	}
	var s deploymentSnapshot
	switch req.Action.Type {
	case platformv1alpha1.ActionScaleDeployment:
		s.Replicas = ptrTo(replicasOf(d))
	case platformv1alpha1.ActionRestartDeployment, platformv1alpha1.ActionRollbackDeployment, platformv1alpha1.ActionAdjustResources:
		s.Template = d.Spec.Template.DeepCopy()
	case platformv1alpha1.ActionPatchConfig:
		p, err := ParsePatchConfig(req.Action.Params)
		if err != nil {
			return "", err
		}
		cm, err := e.referencedConfigMap(ctx, d, p.ConfigMap)
		if err != nil {
			return "", err
		}
		v, ok := cm.Data[p.Key]
		s.ConfigMap = &configMapSnapshot{Name: cm.Name, UID: string(cm.UID), Key: p.Key, Existed: ok, Value: v}
	case platformv1alpha1.ActionDeletePod:
		name, err := ParseDeletePod(req.Action.Params)
		if err != nil {
			return "", err
		}
		pod, err := e.choosePod(ctx, d, name)
		if err != nil {
			return "", err
		}
		s.Pod = &podChoice{Name: pod.Name, UID: string(pod.UID)}
	default:
		return "", fmt.Errorf("%s: %w", req.Action.Type, ErrNotImplemented)
	}
	return encodeSnapshot(s)
}

// Apply runs req's action.
func (e *DeploymentExecutor) Apply(ctx context.Context, req Request, snapshot string) (Outcome, error) {
	var s deploymentSnapshot
	if err := decodeSnapshot(snapshot, &s); err != nil {
		return Outcome{}, err
	}
	switch req.Action.Type {
	case platformv1alpha1.ActionScaleDeployment:
		p, err := ParseScale(req.Action.Type, req.Action.Params)
		if err != nil {
			return Outcome{}, err
		}
		return e.update(ctx, req, func(d *appsv1.Deployment) (string, error) {
			d.Spec.Replicas = ptrTo(p.Replicas)
			return fmt.Sprintf("scaled to %d replicas", p.Replicas), nil
		})
	case platformv1alpha1.ActionRestartDeployment:
		return e.update(ctx, req, func(d *appsv1.Deployment) (string, error) {
			if d.Spec.Template.Annotations[AnnotationRestartKey] == req.Key {
				return "already restarted by this action", nil
			}
			if d.Spec.Template.Annotations == nil {
				d.Spec.Template.Annotations = map[string]string{}
			}
			d.Spec.Template.Annotations[AnnotationRestartKey] = req.Key
			d.Spec.Template.Annotations[AnnotationRestartedAt] = e.now().UTC().Format(time.RFC3339)
			return "restarted the pods", nil
		})
	case platformv1alpha1.ActionRollbackDeployment:
		rev, err := ParseRollback(req.Action.Params)
		if err != nil {
			return Outcome{}, err
		}
		return e.rollback(ctx, req, rev)
	case platformv1alpha1.ActionAdjustResources:
		p, err := ParseResources(req.Action.Type, req.Action.Params)
		if err != nil {
			return Outcome{}, err
		}
		return e.update(ctx, req, func(d *appsv1.Deployment) (string, error) {
			return AdjustContainer(&d.Spec.Template.Spec, p)
		})
	case platformv1alpha1.ActionPatchConfig:
		p, err := ParsePatchConfig(req.Action.Params)
		if err != nil {
			return Outcome{}, err
		}
		if s.ConfigMap == nil {
			return Outcome{}, fmt.Errorf("PatchConfig: the snapshot names no ConfigMap")
		}
		return e.setConfig(ctx, req, *s.ConfigMap, &p.Value)
	case platformv1alpha1.ActionDeletePod:
		if s.Pod == nil {
			return Outcome{}, fmt.Errorf("DeletePod: the snapshot names no pod")
		}
		return e.evict(ctx, req, *s.Pod)
	}
	return Outcome{}, fmt.Errorf("%s: %w", req.Action.Type, ErrNotImplemented)
}

// Restore undoes req's action from its snapshot.
func (e *DeploymentExecutor) Restore(ctx context.Context, req Request, snapshot string) (Outcome, error) {
	var s deploymentSnapshot
	if err := decodeSnapshot(snapshot, &s); err != nil {
		return Outcome{}, err
	}
	switch {
	case s.Replicas != nil:
		return e.update(ctx, req, func(d *appsv1.Deployment) (string, error) {
			d.Spec.Replicas = ptrTo(*s.Replicas)
			return fmt.Sprintf("restored %d replicas", *s.Replicas), nil
		})
	case s.Template != nil:
		return e.update(ctx, req, func(d *appsv1.Deployment) (string, error) {
			d.Spec.Template = *s.Template.DeepCopy()
			return "restored the pod template", nil
		})
	case s.ConfigMap != nil:
		var value *string
		if s.ConfigMap.Existed {
			value = &s.ConfigMap.Value
		}
		return e.setConfig(ctx, req, *s.ConfigMap, value)
	case s.Pod != nil:
		// The ReplicaSet replaced the pod; there is nothing to put back.
		return Outcome{Message: "nothing to restore: the ReplicaSet replaced pod " + s.Pod.Name}, nil
	}
	return Outcome{}, fmt.Errorf("the snapshot holds nothing to restore")
}

// update changes the live Deployment under the fence, retrying on
// conflicts: every write is an Update at the resourceVersion whose fence
// and uid were checked.
func (e *DeploymentExecutor) update(ctx context.Context, req Request, change func(*appsv1.Deployment) (string, error)) (Outcome, error) {
	var out Outcome
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := e.Live(ctx, req.Target)
		if err != nil {
			return err
		}
		before := d.DeepCopy()
		msg, err := change(d)
		if err != nil {
			return err
		}
		out = Outcome{Message: msg}
		if equality.Semantic.DeepEqual(before.Spec, d.Spec) {
			out.Message = msg + " (no change needed)"
			return nil
		}
		if d.Annotations, err = checkFence(d.Annotations, req.Fence); err != nil {
			return err
		}
		if err := e.Client.Update(ctx, d, dryRun(req)...); err != nil {
			return err
		}
		out.Changed = []string{"Deployment/" + d.Namespace + "/" + d.Name}
		out.Before, out.After = specYAML(before), specYAML(d)
		return nil
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("%s on %s: %w", req.Action.Type, req.Target, err)
	}
	return out, nil
}

func dryRun(req Request) []client.UpdateOption {
	if req.DryRun {
		return []client.UpdateOption{client.DryRunAll}
	}
	return nil
}

func specYAML(d *appsv1.Deployment) string {
	b, err := yaml.Marshal(d.Spec)
	if err != nil {
		return ""
	}
	return string(b)
}

// rollback restores the pod template of the ReplicaSet rev names.
func (e *DeploymentExecutor) rollback(ctx context.Context, req Request, rev Revision) (Outcome, error) {
	d, err := e.Live(ctx, req.Target)
	if err != nil {
		return Outcome{}, err
	}
	rs, err := e.revisionReplicaSet(ctx, d, rev)
	if err != nil {
		return Outcome{}, fmt.Errorf("RollbackDeployment on %s: %w", req.Target, err)
	}
	template := rs.Spec.Template.DeepCopy()
	delete(template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	revision := rs.Annotations[AnnotationRevision]
	return e.update(ctx, req, func(d *appsv1.Deployment) (string, error) {
		// Keep the restart marks: they are not part of what failed, and
		// dropping them would only roll the pods once more.
		d.Spec.Template = *template.DeepCopy()
		return "rolled back to the pod template of revision " + revision + " (ReplicaSet " + rs.Name + ")", nil
	})
}

// ReplicaSets returns the ReplicaSets d controls, newest revision first.
// The API server filters them by d's selector (every ReplicaSet d
// controls carries its template's labels, which the selector matches), so
// a namespace of many Deployments is not read and decoded whole on every
// verification poll of every plan.
func (e *DeploymentExecutor) ReplicaSets(ctx context.Context, d *appsv1.Deployment) ([]appsv1.ReplicaSet, error) {
	opts := []client.ListOption{client.InNamespace(d.Namespace)}
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil && !sel.Empty() {
		opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
	}
	list := &appsv1.ReplicaSetList{}
	if err := e.Client.List(ctx, list, opts...); err != nil {
		return nil, fmt.Errorf("list ReplicaSets: %w", err)
	}
	var owned []appsv1.ReplicaSet
	for _, rs := range list.Items {
		if ref := metav1.GetControllerOf(&rs); ref != nil && ref.UID == d.UID {
			owned = append(owned, rs)
		}
	}
	sort.SliceStable(owned, func(i, j int) bool { return revisionOf(&owned[i]) > revisionOf(&owned[j]) })
	return owned, nil
}

func revisionOf(o metav1.Object) int64 {
	n, err := strconv.ParseInt(o.GetAnnotations()[AnnotationRevision], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// revisionReplicaSet picks the ReplicaSet to roll back to: previous is the
// newest revision below the current one; healthy is the newest older one
// that still has available pods, else the newest older one whose
// containers differ from the current ones (a template that differs only by
// a restart mark would bring back the same failure); N is revision N.
func (e *DeploymentExecutor) revisionReplicaSet(ctx context.Context, d *appsv1.Deployment, rev Revision) (*appsv1.ReplicaSet, error) {
	owned, err := e.ReplicaSets(ctx, d)
	if err != nil {
		return nil, err
	}
	current := revisionOf(d)
	if cur := k8sctx.CurrentReplicaSet(d, owned); cur != nil {
		current = revisionOf(cur)
	}
	var older []appsv1.ReplicaSet
	for _, rs := range owned {
		if r := revisionOf(&rs); r > 0 && r < current {
			older = append(older, rs)
		}
	}
	switch rev.Kind {
	case RevisionNumber:
		for i := range owned {
			if revisionOf(&owned[i]) == rev.Number {
				if rev.Number == current {
					return nil, fmt.Errorf("revision %d is the current one", rev.Number)
				}
				return &owned[i], nil
			}
		}
		return nil, fmt.Errorf("no ReplicaSet of revision %d", rev.Number)
	case RevisionHealthy:
		for i := range older {
			if older[i].Status.AvailableReplicas > 0 {
				return &older[i], nil
			}
		}
		for i := range older {
			if !equality.Semantic.DeepEqual(older[i].Spec.Template.Spec.Containers, d.Spec.Template.Spec.Containers) {
				return &older[i], nil
			}
		}
		return nil, fmt.Errorf("no older revision than %d with other containers", current)
	default:
		if len(older) == 0 {
			return nil, fmt.Errorf("no revision older than %d", current)
		}
		return &older[0], nil
	}
}

// AdjustContainer applies p to the container it names (or the only one)
// and checks that every limit is at least its request afterwards.
func AdjustContainer(spec *corev1.PodSpec, p ResourceParams) (string, error) {
	var i int
	switch {
	case p.Container != "":
		i = slices.IndexFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == p.Container })
		if i < 0 {
			return "", fmt.Errorf("no container %q", p.Container)
		}
	case len(spec.Containers) == 1:
		i = 0
	default:
		return "", fmt.Errorf("%d containers: the container param is required", len(spec.Containers))
	}
	c := &spec.Containers[i]
	set := func(list *corev1.ResourceList, name corev1.ResourceName, q *resourceQuantity) {
		if q == nil {
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = q.DeepCopy()
	}
	set(&c.Resources.Requests, corev1.ResourceMemory, p.MemoryRequest)
	set(&c.Resources.Limits, corev1.ResourceMemory, p.MemoryLimit)
	set(&c.Resources.Requests, corev1.ResourceCPU, p.CPURequest)
	set(&c.Resources.Limits, corev1.ResourceCPU, p.CPULimit)
	for _, name := range []corev1.ResourceName{corev1.ResourceMemory, corev1.ResourceCPU} {
		req, hasReq := c.Resources.Requests[name]
		lim, hasLim := c.Resources.Limits[name]
		if hasReq && hasLim && lim.Cmp(req) < 0 {
			return "", fmt.Errorf("container %s: %s limit %s would be below its request %s", c.Name, name, lim.String(), req.String())
		}
	}
	return "adjusted the resources of container " + c.Name, nil
}

// PodsOf returns the pods of d: those its selector matches that a
// ReplicaSet of d controls.
func (e *DeploymentExecutor) PodsOf(ctx context.Context, d *appsv1.Deployment) ([]corev1.Pod, []appsv1.ReplicaSet, error) {
	owned, err := e.ReplicaSets(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil, nil, fmt.Errorf("deployment %s has no usable selector", d.Name)
	}
	list := &corev1.PodList{}
	if err := e.Client.List(ctx, list, client.InNamespace(d.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, nil, fmt.Errorf("list pods: %w", err)
	}
	var pods []corev1.Pod
	for _, p := range list.Items {
		ref := metav1.GetControllerOf(&p)
		if ref == nil {
			continue
		}
		if slices.ContainsFunc(owned, func(rs appsv1.ReplicaSet) bool { return rs.UID == ref.UID }) {
			pods = append(pods, p)
		}
	}
	return pods, owned, nil
}

// Restarts is the sum of the restart counts of a pod's containers.
func Restarts(p *corev1.Pod) int32 {
	var n int32
	for _, s := range p.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n
}

// choosePod returns the named pod if it belongs to d, else d's pod with the
// most restarts (by name on a tie, so the choice is the same every time).
func (e *DeploymentExecutor) choosePod(ctx context.Context, d *appsv1.Deployment, name string) (*corev1.Pod, error) {
	pods, _, err := e.PodsOf(ctx, d)
	if err != nil {
		return nil, err
	}
	live := slices.DeleteFunc(pods, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil })
	if name != "" {
		i := slices.IndexFunc(live, func(p corev1.Pod) bool { return p.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("pod %s is not a live pod of Deployment %s", name, d.Name)
		}
		return &live[i], nil
	}
	if len(live) == 0 {
		return nil, fmt.Errorf("deployment %s has no live pod", d.Name)
	}
	sort.SliceStable(live, func(i, j int) bool {
		if ri, rj := Restarts(&live[i]), Restarts(&live[j]); ri != rj {
			return ri > rj
		}
		return live[i].Name < live[j].Name
	})
	return &live[0], nil
}

// evict evicts the chosen pod (honouring PodDisruptionBudgets), after
// writing the fence on the Deployment. A pod already gone is done.
func (e *DeploymentExecutor) evict(ctx context.Context, req Request, choice podChoice) (Outcome, error) {
	if err := e.touchFence(ctx, req); err != nil {
		return Outcome{}, err
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: req.Target.Namespace, Name: choice.Name}}
	uid := typesUID(choice.UID)
	ev := &policyv1.Eviction{DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}}
	if req.DryRun {
		ev.DeleteOptions.DryRun = []string{metav1.DryRunAll}
	}
	err := e.Client.SubResource("eviction").Create(ctx, pod, ev)
	switch {
	case apierrors.IsNotFound(err), apierrors.IsConflict(err) && isPreconditionUID(err):
		return Outcome{Message: "pod " + choice.Name + " is already gone"}, nil
	case err != nil:
		return Outcome{}, fmt.Errorf("evict pod %s: %w", choice.Name, err)
	}
	return Outcome{Message: "evicted pod " + choice.Name, Changed: []string{"Pod/" + req.Target.Namespace + "/" + choice.Name}}, nil
}

// touchFence records the fence on the Deployment for an action that
// writes another object, so that a stale holder is refused there too.
func (e *DeploymentExecutor) touchFence(ctx context.Context, req Request) error {
	if req.Fence == 0 || req.DryRun {
		return nil
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := e.Live(ctx, req.Target)
		if err != nil {
			return err
		}
		if d.Annotations, err = checkFence(d.Annotations, req.Fence); err != nil {
			return err
		}
		return e.Client.Update(ctx, d)
	})
}

// referencedConfigMap returns the ConfigMap name if d's pod template uses
// it: PatchConfig never writes a ConfigMap the workload does not read.
func (e *DeploymentExecutor) referencedConfigMap(ctx context.Context, d *appsv1.Deployment, name string) (*corev1.ConfigMap, error) {
	if !slices.Contains(ConfigMapsOf(&d.Spec.Template.Spec), name) {
		return nil, fmt.Errorf("deployment %s does not use ConfigMap %s", d.Name, name)
	}
	cm := &corev1.ConfigMap{}
	if err := e.Client.Get(ctx, client.ObjectKey{Namespace: d.Namespace, Name: name}, cm); err != nil {
		return nil, fmt.Errorf("get ConfigMap %s: %w", name, err)
	}
	if cm.Immutable != nil && *cm.Immutable {
		return nil, fmt.Errorf("ConfigMap %s is immutable", name)
	}
	return cm, nil
}

// ConfigMapsOf lists the ConfigMaps a pod spec reads, sorted.
func ConfigMapsOf(spec *corev1.PodSpec) []string {
	var names []string
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil {
			names = append(names, v.ConfigMap.Name)
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					names = append(names, s.ConfigMap.Name)
				}
			}
		}
	}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		for _, f := range c.EnvFrom {
			if f.ConfigMapRef != nil {
				names = append(names, f.ConfigMapRef.Name)
			}
		}
		for _, env := range c.Env {
			if env.ValueFrom != nil && env.ValueFrom.ConfigMapKeyRef != nil {
				names = append(names, env.ValueFrom.ConfigMapKeyRef.Name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// setConfig sets (value non-nil) or removes the snapshot's key on its
// ConfigMap, which must still have the snapshot's uid.
func (e *DeploymentExecutor) setConfig(ctx context.Context, req Request, s configMapSnapshot, value *string) (Outcome, error) {
	if err := e.touchFence(ctx, req); err != nil {
		return Outcome{}, err
	}
	var out Outcome
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm := &corev1.ConfigMap{}
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: req.Target.Namespace, Name: s.Name}, cm); err != nil {
			return fmt.Errorf("get ConfigMap %s: %w", s.Name, err)
		}
		if string(cm.UID) != s.UID {
			return fmt.Errorf("ConfigMap %s was recreated", s.Name)
		}
		before, _ := yaml.Marshal(cm.Data)
		old, had := cm.Data[s.Key]
		switch {
		case value == nil && !had, value != nil && had && old == *value:
			out = Outcome{Message: "ConfigMap " + s.Name + " key " + s.Key + " already as wanted"}
			return nil
		case value == nil:
			delete(cm.Data, s.Key)
		default:
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data[s.Key] = *value
		}
		if err := e.Client.Update(ctx, cm, dryRun(req)...); err != nil {
			return err
		}
		after, _ := yaml.Marshal(cm.Data)
		out = Outcome{Message: "set key " + s.Key + " of ConfigMap " + s.Name, Changed: []string{"ConfigMap/" + cm.Namespace + "/" + cm.Name}, Before: string(before), After: string(after)}
		return nil
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("%s on %s: %w", req.Action.Type, req.Target, err)
	}
	return out, nil
}

func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func ptrTo[T any](v T) *T { return &v }

type resourceQuantity = resource.Quantity

func typesUID(s string) types.UID { return types.UID(s) }

// isPreconditionUID tells a UID precondition failure (the pod was
// replaced by one of the same name, so ours is gone) from other conflicts.
func isPreconditionUID(err error) bool {
	return strings.Contains(err.Error(), "Precondition failed: UID")
}
