package k8sctx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// revisionAnnotation is the Deployment controller's revision number on a
// ReplicaSet.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// Builder gathers the Context of a resource. It never fails because a
// part is missing: what cannot be read is said in Context.Notes.
type Builder struct {
	// Reader reads workloads, ReplicaSets, ControllerRevisions, Jobs,
	// HPAs, Nodes and PVCs. Give it the API server's reader: a cache can
	// lag the fault the context is built for by seconds in a storm.
	Reader client.Reader
	// Live reads Pods and Events by selector straight from the API
	// server, so that no cache holds every Pod or Event of the cluster.
	// Reader is used when it is nil.
	Live client.Reader
	// Logs reads pods/log; no log tails when nil.
	Logs kubernetes.Interface
	// IncidentStart, when set, is when the incident began; a revision
	// replaced by a rollout before it counts as healthy.
	IncidentStart time.Time
}

// Build returns the context of ref. Only a failure to read the resource
// itself is an error; NotFound is a context with Found false.
func (b *Builder) Build(ctx context.Context, ref Ref) (*Context, error) {
	c := &Context{Resource: ref}
	var err error
	switch ref.Kind {
	case KindDeployment:
		err = b.deployment(ctx, c)
	case KindStatefulSet:
		err = b.statefulSet(ctx, c)
	case KindDaemonSet:
		err = b.daemonSet(ctx, c)
	case KindJob:
		err = b.job(ctx, c)
	case KindCronJob:
		err = b.cronJob(ctx, c)
	case KindPod:
		err = b.pod(ctx, c)
	case KindNode:
		err = b.node(ctx, c)
	case KindHorizontalPodAutoscaler:
		err = b.hpa(ctx, c)
	case KindPersistentVolumeClaim:
		err = b.pvc(ctx, c)
	default:
		c.Found = true
		c.note("the context builder does not read %s objects", ref.Kind)
		b.events(ctx, c, []Ref{ref})
	}
	if apierrors.IsNotFound(err) {
		c.Found = false
		c.note("%s %s/%s does not exist", ref.Kind, ref.Namespace, ref.Name)
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("build context of %s %s/%s: %w", ref.Kind, ref.Namespace, ref.Name, err)
	}
	return c, nil
}

// observed says whether a workload's controller has observed its spec,
// and notes it when not: until then its status describes the spec before.
func (c *Context) observed(kind string, generation, observedGeneration int64) bool {
	if observedGeneration >= generation {
		return true
	}
	c.note("the %s controller has not yet observed generation %d (the status is of generation %d)", kind, generation, observedGeneration)
	return false
}

func (c *Context) note(format string, args ...any) {
	c.Notes = append(c.Notes, fmt.Sprintf(format, args...))
}

func (b *Builder) live() client.Reader {
	if b.Live != nil {
		return b.Live
	}
	return b.Reader
}

func (b *Builder) deployment(ctx context.Context, c *Context) error {
	d := &appsv1.Deployment{}
	if err := b.Reader.Get(ctx, key(c.Resource), d); err != nil {
		return err
	}
	c.Found = true
	desired := ptrOr(d.Spec.Replicas, 1)
	c.Workload = &Workload{
		Generation: d.Generation, ObservedGeneration: d.Status.ObservedGeneration,
		Desired: desired, Ready: d.Status.ReadyReplicas, Updated: d.Status.UpdatedReplicas,
		Available: d.Status.AvailableReplicas, Unavailable: d.Status.UnavailableReplicas,
		Containers: containers(d.Spec.Template.Spec.Containers),
	}
	for _, cond := range d.Status.Conditions {
		c.Workload.Conditions = append(c.Workload.Conditions, Condition{string(cond.Type), string(cond.Status), cond.Reason, cond.Message})
	}
	// Until the controller has observed the spec, the status and the
	// revision annotation describe the spec before it: a rollout a second
	// old reads as healthy on its previous revision.
	observed := c.observed("Deployment", d.Generation, d.Status.ObservedGeneration)
	c.Healthy = observed && d.Status.ReadyReplicas >= desired && d.Status.UpdatedReplicas >= desired && d.Status.UnavailableReplicas == 0

	rsList := &appsv1.ReplicaSetList{}
	if err := b.Reader.List(ctx, rsList, selectedIn(d.Namespace, d.Spec.Selector)...); err != nil {
		c.note("ReplicaSets could not be read: %s", reason(err))
	}
	c.Workload.CurrentRevision = currentDeploymentRevision(d, rsList.Items, observed)
	var revs []Revision
	hashes := map[string]int64{} // pod-template-hash → revision
	owners := map[types.UID]bool{}
	for i := range rsList.Items {
		rs := &rsList.Items[i]
		if !ownedBy(rs.OwnerReferences, d.UID) {
			continue
		}
		owners[rs.UID] = true
		n, _ := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
		hashes[rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]] = n
		revs = append(revs, Revision{
			Number: n, Name: rs.Name, Created: rs.CreationTimestamp.Time,
			Current: n != 0 && n == c.Workload.CurrentRevision, Ready: rs.Status.ReadyReplicas, Desired: ptrOr(rs.Spec.Replicas, 0),
			Containers: containers(rs.Spec.Template.Spec.Containers),
		})
	}
	pods, err := b.pods(ctx, c, d.Spec.Selector, owners)
	if err != nil {
		return err
	}
	for i := range pods {
		if n, ok := hashes[pods[i].Revision]; ok {
			pods[i].Revision = strconv.FormatInt(n, 10)
		}
	}
	b.finishRevisions(c, revs, pods)
	b.finishPods(ctx, c, pods)
	return nil
}

func (b *Builder) statefulSet(ctx context.Context, c *Context) error {
	s := &appsv1.StatefulSet{}
	if err := b.Reader.Get(ctx, key(c.Resource), s); err != nil {
		return err
	}
	c.Found = true
	desired := ptrOr(s.Spec.Replicas, 1)
	c.Workload = &Workload{
		Generation: s.Generation, ObservedGeneration: s.Status.ObservedGeneration,
		Desired: desired, Ready: s.Status.ReadyReplicas, Updated: s.Status.UpdatedReplicas,
		Available: s.Status.AvailableReplicas, Unavailable: max(0, desired-s.Status.AvailableReplicas),
		Containers: containers(s.Spec.Template.Spec.Containers),
	}
	for _, cond := range s.Status.Conditions {
		c.Workload.Conditions = append(c.Workload.Conditions, Condition{string(cond.Type), string(cond.Status), cond.Reason, cond.Message})
	}
	observed := c.observed("StatefulSet", s.Generation, s.Status.ObservedGeneration)
	c.Healthy = observed && s.Status.ReadyReplicas >= desired && s.Status.CurrentReplicas >= desired
	pods, err := b.pods(ctx, c, s.Spec.Selector, map[types.UID]bool{s.UID: true})
	if err != nil {
		return err
	}
	current := s.Status.UpdateRevision
	if current == "" {
		current = s.Status.CurrentRevision
	}
	b.controllerRevisions(ctx, c, s.UID, s.Spec.Selector, current, pods)
	b.finishPods(ctx, c, pods)
	return nil
}

func (b *Builder) daemonSet(ctx context.Context, c *Context) error {
	ds := &appsv1.DaemonSet{}
	if err := b.Reader.Get(ctx, key(c.Resource), ds); err != nil {
		return err
	}
	c.Found = true
	c.Workload = &Workload{
		Generation: ds.Generation, ObservedGeneration: ds.Status.ObservedGeneration,
		Desired: ds.Status.DesiredNumberScheduled, Ready: ds.Status.NumberReady, Updated: ds.Status.UpdatedNumberScheduled,
		Available: ds.Status.NumberAvailable, Unavailable: ds.Status.NumberUnavailable,
		Containers: containers(ds.Spec.Template.Spec.Containers),
	}
	for _, cond := range ds.Status.Conditions {
		c.Workload.Conditions = append(c.Workload.Conditions, Condition{string(cond.Type), string(cond.Status), cond.Reason, cond.Message})
	}
	observed := c.observed("DaemonSet", ds.Generation, ds.Status.ObservedGeneration)
	c.Healthy = observed && ds.Status.NumberReady >= ds.Status.DesiredNumberScheduled && ds.Status.NumberUnavailable == 0
	pods, err := b.pods(ctx, c, ds.Spec.Selector, map[types.UID]bool{ds.UID: true})
	if err != nil {
		return err
	}
	// A DaemonSet names no current revision in its status: the newest
	// ControllerRevision is the one its template matches.
	b.controllerRevisions(ctx, c, ds.UID, ds.Spec.Selector, "", pods)
	b.finishPods(ctx, c, pods)
	return nil
}

// selectedIn lists what selector selects in namespace; a selector that does
// not parse lists the whole namespace, filtered by owner after.
func selectedIn(namespace string, selector *metav1.LabelSelector) []client.ListOption {
	opts := []client.ListOption{client.InNamespace(namespace)}
	if sel, err := metav1.LabelSelectorAsSelector(selector); err == nil {
		opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
	}
	return opts
}

// controllerRevisions reads the revisions of a StatefulSet or DaemonSet.
// current is the name of the current revision; empty means the newest.
func (b *Builder) controllerRevisions(ctx context.Context, c *Context, owner types.UID, selector *metav1.LabelSelector, current string, pods []Pod) {
	list := &appsv1.ControllerRevisionList{}
	if err := b.Reader.List(ctx, list, selectedIn(c.Resource.Namespace, selector)...); err != nil {
		c.note("ControllerRevisions could not be read: %s", reason(err))
		return
	}
	var revs []Revision
	byName := map[string]int64{}
	var newest int64
	for i := range list.Items {
		cr := &list.Items[i]
		if !ownedBy(cr.OwnerReferences, owner) {
			continue
		}
		var data struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		rev := Revision{Number: cr.Revision, Name: cr.Name, Created: cr.CreationTimestamp.Time}
		if err := json.Unmarshal(cr.Data.Raw, &data); err == nil {
			rev.Containers = containers(data.Spec.Template.Spec.Containers)
		}
		byName[cr.Name] = cr.Revision
		newest = max(newest, cr.Revision)
		revs = append(revs, rev)
	}
	var currentNumber int64
	if current != "" {
		currentNumber = byName[current]
	} else {
		currentNumber = newest
	}
	for i := range revs {
		revs[i].Current = revs[i].Number == currentNumber
	}
	if c.Workload != nil {
		c.Workload.CurrentRevision = currentNumber
	}
	// Pods carry the hash of their revision, which is the suffix of the
	// ControllerRevision's name.
	for i := range pods {
		for name, n := range byName {
			if pods[i].Revision != "" && strings.HasSuffix(name, "-"+pods[i].Revision) {
				pods[i].Revision = strconv.FormatInt(n, 10)
				break
			}
		}
	}
	// A ControllerRevision has no replica counts: they are the pods'.
	for i := range revs {
		for _, p := range pods {
			if p.Revision == strconv.FormatInt(revs[i].Number, 10) {
				revs[i].Desired++
				if p.Ready {
					revs[i].Ready++
				}
			}
		}
	}
	b.finishRevisions(c, revs, pods)
}

func diffResources(container, what string, old, cur map[string]string) []string {
	var out []string
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range cur {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		if old[k] != cur[k] {
			out = append(out, fmt.Sprintf("container %s %s.%s %s -> %s", container, what, k, orNone(old[k]), orNone(cur[k])))
		}
	}
	return out
}

func (b *Builder) job(ctx context.Context, c *Context) error {
	j := &batchv1.Job{}
	if err := b.Reader.Get(ctx, key(c.Resource), j); err != nil {
		return err
	}
	c.Found = true
	c.Workload = jobWorkload(j)
	c.Healthy = jobHealthy(j)
	pods, err := b.pods(ctx, c, j.Spec.Selector, map[types.UID]bool{j.UID: true})
	if err != nil {
		return err
	}
	b.finishPods(ctx, c, pods)
	return nil
}

func jobWorkload(j *batchv1.Job) *Workload {
	w := &Workload{
		Generation: j.Generation, Desired: ptrOr(j.Spec.Completions, 1),
		Active: j.Status.Active, Succeeded: j.Status.Succeeded, Failed: j.Status.Failed,
		Ready: ptrOr(j.Status.Ready, 0), Suspended: ptrOr(j.Spec.Suspend, false),
		Containers: containers(j.Spec.Template.Spec.Containers),
	}
	for _, cond := range j.Status.Conditions {
		w.Conditions = append(w.Conditions, Condition{string(cond.Type), string(cond.Status), cond.Reason, cond.Message})
	}
	return w
}

func jobHealthy(j *batchv1.Job) bool {
	for _, cond := range j.Status.Conditions {
		if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
			return true
		}
		if cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue {
			return false
		}
	}
	return j.Status.Active > 0
}

func (b *Builder) cronJob(ctx context.Context, c *Context) error {
	cj := &batchv1.CronJob{}
	if err := b.Reader.Get(ctx, key(c.Resource), cj); err != nil {
		return err
	}
	c.Found = true
	c.Workload = &Workload{
		Generation: cj.Generation, Schedule: cj.Spec.Schedule, Suspended: ptrOr(cj.Spec.Suspend, false),
		Active: int32(len(cj.Status.Active)), Containers: containers(cj.Spec.JobTemplate.Spec.Template.Spec.Containers),
	}
	if t := cj.Status.LastScheduleTime; t != nil {
		c.Workload.LastScheduleTime = &t.Time
	}
	if t := cj.Status.LastSuccessfulTime; t != nil {
		c.Workload.LastSuccessfulTime = &t.Time
	}
	c.Healthy = c.Workload.Suspended || c.Workload.LastSuccessfulTime != nil || c.Workload.Active > 0
	jobs := &batchv1.JobList{}
	if err := b.Reader.List(ctx, jobs, client.InNamespace(cj.Namespace)); err != nil {
		c.note("Jobs could not be read: %s", reason(err))
		b.events(ctx, c, []Ref{c.Resource})
		return nil
	}
	var newest *batchv1.Job
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if ownedBy(j.OwnerReferences, cj.UID) && (newest == nil || j.CreationTimestamp.After(newest.CreationTimestamp.Time)) {
			newest = j
		}
	}
	if newest == nil {
		b.events(ctx, c, []Ref{c.Resource})
		return nil
	}
	c.Workload.LastJob = &Ref{Kind: KindJob, Namespace: newest.Namespace, Name: newest.Name}
	pods, err := b.pods(ctx, c, newest.Spec.Selector, map[types.UID]bool{newest.UID: true})
	if err != nil {
		return err
	}
	b.finishPods(ctx, c, pods)
	return nil
}

func (b *Builder) pod(ctx context.Context, c *Context) error {
	p := &corev1.Pod{}
	if err := b.live().Get(ctx, key(c.Resource), p); err != nil {
		return err
	}
	c.Found = true
	pods := []Pod{podSummary(p)}
	c.Healthy = pods[0].Ready
	b.finishPods(ctx, c, pods)
	return nil
}

func (b *Builder) node(ctx context.Context, c *Context) error {
	n := &corev1.Node{}
	if err := b.Reader.Get(ctx, client.ObjectKey{Name: c.Resource.Name}, n); err != nil {
		return err
	}
	c.Found = true
	c.Node = &Node{Unschedulable: n.Spec.Unschedulable}
	c.Healthy = true
	for _, cond := range n.Status.Conditions {
		c.Node.Conditions = append(c.Node.Conditions, Condition{string(cond.Type), string(cond.Status), cond.Reason, cond.Message})
		if cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionTrue {
			c.Healthy = false
		}
	}
	pods := &corev1.PodList{}
	if err := b.live().List(ctx, pods, client.MatchingFields{"spec.nodeName": n.Name}); err == nil {
		c.Node.Pods = len(pods.Items)
	}
	b.events(ctx, c, []Ref{c.Resource})
	return nil
}

func (b *Builder) hpa(ctx context.Context, c *Context) error {
	h := &autoscalingv2.HorizontalPodAutoscaler{}
	if err := b.Reader.Get(ctx, key(c.Resource), h); err != nil {
		return err
	}
	c.Found = true
	c.HPA = &HPA{
		Target:      Ref{Kind: h.Spec.ScaleTargetRef.Kind, Namespace: h.Namespace, Name: h.Spec.ScaleTargetRef.Name},
		MinReplicas: ptrOr(h.Spec.MinReplicas, 1), MaxReplicas: h.Spec.MaxReplicas,
		CurrentReplicas: h.Status.CurrentReplicas, DesiredReplicas: h.Status.DesiredReplicas,
	}
	for _, cond := range h.Status.Conditions {
		c.HPA.Conditions = append(c.HPA.Conditions, Condition{string(cond.Type), string(cond.Status), cond.Reason, cond.Message})
	}
	c.Healthy = h.Status.DesiredReplicas < h.Spec.MaxReplicas
	b.events(ctx, c, []Ref{c.Resource})
	return nil
}

func (b *Builder) pvc(ctx context.Context, c *Context) error {
	p := &corev1.PersistentVolumeClaim{}
	if err := b.Reader.Get(ctx, key(c.Resource), p); err != nil {
		return err
	}
	c.Found = true
	c.PVC = &PVC{Phase: string(p.Status.Phase), StorageClass: ptrOr(p.Spec.StorageClassName, "")}
	if q, ok := p.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		c.PVC.Requested = q.String()
	}
	if q, ok := p.Status.Capacity[corev1.ResourceStorage]; ok {
		c.PVC.Capacity = q.String()
	}
	for _, m := range p.Spec.AccessModes {
		c.PVC.AccessModes = append(c.PVC.AccessModes, string(m))
	}
	for _, cond := range p.Status.Conditions {
		c.PVC.Conditions = append(c.PVC.Conditions, Condition{string(cond.Type), string(cond.Status), cond.Reason, cond.Message})
	}
	c.Healthy = p.Status.Phase == corev1.ClaimBound
	b.events(ctx, c, []Ref{c.Resource})
	return nil
}

// pods lists the pods a selector picks that one of owners controls,
// failing ones first.
func (b *Builder) pods(ctx context.Context, c *Context, selector *metav1.LabelSelector, owners map[types.UID]bool) ([]Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil || sel.Empty() {
		c.note("the workload's selector selects no pods")
		return nil, nil
	}
	list := &corev1.PodList{}
	if err := b.live().List(ctx, list, client.InNamespace(c.Resource.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		c.note("pods could not be read: %s", reason(err))
		return nil, nil
	}
	var out []Pod
	for i := range list.Items {
		p := &list.Items[i]
		if ref := controllerRef(p.OwnerReferences); ref == nil || !owners[ref.UID] {
			continue
		}
		out = append(out, podSummary(p))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Failing != out[j].Failing {
			return out[i].Failing
		}
		if out[i].Restarts != out[j].Restarts {
			return out[i].Restarts > out[j].Restarts
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// finishPods keeps MaxPods pods, then reads their events and logs.
func (b *Builder) finishPods(ctx context.Context, c *Context, pods []Pod) {
	if len(pods) > MaxPods {
		c.note("%d pods, %d shown", len(pods), MaxPods)
		pods = pods[:MaxPods]
	}
	c.Pods = pods
	refs := []Ref{c.Resource}
	for _, p := range pods {
		if c.Resource.Kind != KindPod {
			refs = append(refs, Ref{Kind: KindPod, Namespace: c.Resource.Namespace, Name: p.Name})
		}
	}
	b.events(ctx, c, refs)
	b.logs(ctx, c)
}

// podSummary says what a pod is doing, and whether it fails: a container
// waiting for a reason other than creation, terminated in error, or
// restarting; or a pod not ready, failed or pending.
func podSummary(p *corev1.Pod) Pod {
	out := Pod{Name: p.Name, Phase: string(p.Status.Phase), Node: p.Spec.NodeName}
	out.Revision = p.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if h := p.Labels[appsv1.ControllerRevisionHashLabelKey]; out.Revision == "" && h != "" {
		out.Revision = h
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
			out.Ready = true
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		st := ContainerStatus{Name: cs.Name, Ready: cs.Ready, Restarts: cs.RestartCount}
		switch {
		case cs.State.Waiting != nil:
			st.State, st.Reason, st.Message = "waiting", cs.State.Waiting.Reason, cs.State.Waiting.Message
			if st.Reason != "ContainerCreating" && st.Reason != "PodInitializing" {
				out.Failing = true
			}
		case cs.State.Terminated != nil:
			st.State, st.Reason, st.Message = "terminated", cs.State.Terminated.Reason, cs.State.Terminated.Message
			if cs.State.Terminated.ExitCode != 0 {
				out.Failing = true
			}
		case cs.State.Running != nil:
			st.State = "running"
		}
		if t := cs.LastTerminationState.Terminated; t != nil {
			st.LastTerminationReason = t.Reason
			code := t.ExitCode
			st.LastExitCode = &code
		}
		out.Restarts += cs.RestartCount
		out.Containers = append(out.Containers, st)
	}
	if p.Status.Phase == corev1.PodFailed {
		out.Failing = true
	}
	if out.Restarts > 0 && !out.Ready {
		out.Failing = true
	}
	return out
}

// events reads the last MaxEvents events of the objects, oldest first.
// The objects' lists run at once: each is a round trip to the API server.
func (b *Builder) events(ctx context.Context, c *Context, refs []Ref) {
	lists := make([][]Event, len(refs))
	notes := make([]string, len(refs))
	var wg sync.WaitGroup
	for i, r := range refs {
		wg.Go(func() { lists[i], notes[i] = b.eventsOf(ctx, r) })
	}
	wg.Wait()
	var all []Event
	for i := range refs {
		all = append(all, lists[i]...)
		if notes[i] != "" {
			c.Notes = append(c.Notes, notes[i])
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	if len(all) > MaxEvents {
		all = all[len(all)-MaxEvents:]
	}
	c.Events = all
}

func (b *Builder) eventsOf(ctx context.Context, r Ref) ([]Event, string) {
	list := &corev1.EventList{}
	ns := r.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault // a Node's events are in default
	}
	if err := b.live().List(ctx, list, client.InNamespace(ns), client.MatchingFieldsSelector{Selector: fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.kind", r.Kind),
		fields.OneTermEqualSelector("involvedObject.name", r.Name),
	)}); err != nil {
		return nil, fmt.Sprintf("events of %s %s could not be read: %s", r.Kind, r.Name, reason(err))
	}
	out := make([]Event, 0, len(list.Items))
	for i := range list.Items {
		e := &list.Items[i]
		t := e.LastTimestamp.Time
		if t.IsZero() {
			t = e.EventTime.Time
		}
		if t.IsZero() {
			t = e.CreationTimestamp.Time
		}
		out = append(out, Event{Time: t, Type: e.Type, Reason: e.Reason, Object: r.Kind + "/" + r.Name, Message: e.Message, Count: e.Count})
	}
	return out, ""
}

// logs reads the log tails of the failing containers, the previous
// container's too when it restarted, at most 2*MaxLogContainers of them,
// at once. A log that cannot be read (no kubelet serves it) is said in the
// tail, never an error.
func (b *Builder) logs(ctx context.Context, c *Context) {
	if b.Logs == nil {
		return
	}
	var tails []LogTail
	for _, p := range c.Pods {
		if !p.Failing {
			continue
		}
		for _, cs := range p.Containers {
			if cs.Ready && cs.Restarts == 0 {
				continue
			}
			for _, previous := range []bool{false, true} {
				if (previous && cs.Restarts == 0) || len(tails) >= 2*MaxLogContainers {
					continue
				}
				tails = append(tails, LogTail{Pod: p.Name, Container: cs.Name, Previous: previous})
			}
		}
	}
	var wg sync.WaitGroup
	for i := range tails {
		wg.Go(func() {
			tails[i] = b.logTail(ctx, c.Resource.Namespace, tails[i].Pod, tails[i].Container, tails[i].Previous)
		})
	}
	wg.Wait()
	c.Logs = tails
}

func (b *Builder) logTail(ctx context.Context, namespace, pod, container string, previous bool) LogTail {
	tail := LogTail{Pod: pod, Container: container, Previous: previous}
	lines, limit := int64(MaxLogLines), int64(MaxLogBytes)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	raw, err := b.Logs.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{
		Container: container, Previous: previous, TailLines: &lines, LimitBytes: &limit,
	}).DoRaw(ctx)
	if err != nil {
		tail.Error = "log unavailable: " + reason(err)
		return tail
	}
	s := string(raw)
	if len(s) > MaxLogBytes {
		s = s[len(s)-MaxLogBytes:]
	}
	tail.Lines = s
	return tail
}

// reason is a short, stable account of an API error, never a raw body.
func reason(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		if s := status.Status(); s.Reason != "" && s.Reason != metav1.StatusReasonUnknown {
			return string(s.Reason)
		} else if s.Code != 0 {
			return fmt.Sprintf("HTTP %d", s.Code)
		}
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

func containers(cs []corev1.Container) []Container {
	out := make([]Container, 0, len(cs))
	for _, c := range cs {
		ct := Container{Name: c.Name, Image: c.Image}
		for name, q := range c.Resources.Requests {
			if ct.Requests == nil {
				ct.Requests = map[string]string{}
			}
			ct.Requests[string(name)] = q.String()
		}
		for name, q := range c.Resources.Limits {
			if ct.Limits == nil {
				ct.Limits = map[string]string{}
			}
			ct.Limits[string(name)] = q.String()
		}
		out = append(out, ct)
	}
	return out
}

func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	return slices.ContainsFunc(refs, func(r metav1.OwnerReference) bool { return r.UID == uid })
}

func key(r Ref) client.ObjectKey { return client.ObjectKey{Namespace: r.Namespace, Name: r.Name} }

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
