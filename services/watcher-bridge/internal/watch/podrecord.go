package watch

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podRecord is what pod detection reads of a pod, kept in the cache in
// place of the Pod: a corev1.Pod costs over 2 KiB even when emptied, and
// pods are by far the most numerous objects watched. Evaluation rebuilds
// a Pod from it.
type podRecord struct {
	metav1.ObjectMeta
	nodeName     string
	phase        corev1.PodPhase
	reason       string
	startTime    *metav1.Time
	ready        *corev1.PodCondition
	containers   []containerRecord
	initImages   []containerRecord
	statuses     []corev1.ContainerStatus
	initStatuses []corev1.ContainerStatus
}

// containerRecord is what pod findings quote of a container's spec: its
// image when the status lacks it, the memory limit an OOM is measured
// against, and the CPU limit usage is.
type containerRecord struct {
	name, image           string
	memoryLimit, cpuLimit *resource.Quantity
}

func newPodRecord(p *corev1.Pod) *podRecord {
	r := &podRecord{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			CreationTimestamp: p.CreationTimestamp, DeletionTimestamp: p.DeletionTimestamp,
			OwnerReferences: p.OwnerReferences,
		},
		nodeName:     p.Spec.NodeName,
		phase:        p.Status.Phase,
		reason:       p.Status.Reason,
		startTime:    p.Status.StartTime,
		containers:   containerRecords(p.Spec.Containers),
		initImages:   containerRecords(p.Spec.InitContainers),
		statuses:     slimStatuses(p.Status.ContainerStatuses),
		initStatuses: slimStatuses(p.Status.InitContainerStatuses),
	}
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			ready := p.Status.Conditions[i]
			r.ready = &ready
		}
	}
	return r
}

// pod rebuilds the Pod the detectors evaluate.
func (r *podRecord) pod() *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: r.ObjectMeta,
		Spec: corev1.PodSpec{
			NodeName:       r.nodeName,
			Containers:     r.containerSpecs(r.containers),
			InitContainers: r.containerSpecs(r.initImages),
		},
		Status: corev1.PodStatus{
			Phase: r.phase, Reason: r.reason, StartTime: r.startTime,
			ContainerStatuses: r.statuses, InitContainerStatuses: r.initStatuses,
		},
	}
	if r.ready != nil {
		p.Status.Conditions = []corev1.PodCondition{*r.ready}
	}
	return p
}

func (r *podRecord) containerSpecs(records []containerRecord) []corev1.Container {
	out := make([]corev1.Container, len(records))
	for i, c := range records {
		out[i] = corev1.Container{Name: c.name, Image: c.image}
		if c.memoryLimit != nil || c.cpuLimit != nil {
			out[i].Resources.Limits = corev1.ResourceList{}
		}
		if c.memoryLimit != nil {
			out[i].Resources.Limits[corev1.ResourceMemory] = *c.memoryLimit
		}
		if c.cpuLimit != nil {
			out[i].Resources.Limits[corev1.ResourceCPU] = *c.cpuLimit
		}
	}
	return out
}

func containerRecords(cs []corev1.Container) []containerRecord {
	if len(cs) == 0 {
		return nil
	}
	out := make([]containerRecord, len(cs))
	for i, c := range cs {
		out[i] = containerRecord{name: c.Name, image: c.Image}
		if limit, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			out[i].memoryLimit = &limit
		}
		if limit, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
			out[i].cpuLimit = &limit
		}
	}
	return out
}

func slimStatuses(in []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(in))
	for i, cs := range in {
		out[i] = corev1.ContainerStatus{
			Name: cs.Name, Ready: cs.Ready, RestartCount: cs.RestartCount, Image: cs.Image,
			State: cs.State, LastTerminationState: cs.LastTerminationState, Started: cs.Started,
		}
	}
	return out
}
