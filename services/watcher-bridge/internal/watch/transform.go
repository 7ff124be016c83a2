package watch

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// slimMeta keeps the metadata detection reads: identity, owners, deletion
// and creation time. Labels, annotations and managed fields are most of an
// object's size and no detector needs them.
func slimMeta(m *metav1.ObjectMeta) {
	m.Labels = nil
	m.Annotations = nil
	m.ManagedFields = nil
	m.Finalizers = nil
}

// slim reduces an informer object to what its detector reads, so that the
// cache of 10,000 pods stays small. It runs before objects enter the cache.
func slim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return newPodRecord(o), nil
	case *appsv1.Deployment:
		slimMeta(&o.ObjectMeta)
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.StatefulSet:
		slimMeta(&o.ObjectMeta)
		o.Spec.Template = corev1.PodTemplateSpec{}
		o.Spec.VolumeClaimTemplates = nil
	case *appsv1.DaemonSet:
		slimMeta(&o.ObjectMeta)
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.ReplicaSet:
		// Only read to walk from a pod to its Deployment.
		slimMeta(&o.ObjectMeta)
		o.Spec = appsv1.ReplicaSetSpec{}
		o.Status = appsv1.ReplicaSetStatus{}
	case *batchv1.Job:
		slimMeta(&o.ObjectMeta)
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *batchv1.CronJob:
		slimMeta(&o.ObjectMeta)
		o.Spec.JobTemplate = batchv1.JobTemplateSpec{}
	case *corev1.PersistentVolumeClaim:
		selected := o.Annotations[annSelectedNode]
		slimMeta(&o.ObjectMeta)
		if selected != "" {
			o.Annotations = map[string]string{annSelectedNode: selected}
		}
	case *autoscalingv2.HorizontalPodAutoscaler:
		slimMeta(&o.ObjectMeta)
	case *networkingv1.Ingress:
		// Its spec, the routes, is what is judged; its status is the
		// load balancer's address.
		slimMeta(&o.ObjectMeta)
		o.Spec.TLS = nil
		o.Status = networkingv1.IngressStatus{}
	case *corev1.Service:
		// Only whether it exists and whether it is an ExternalName.
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, UID: o.UID, ResourceVersion: o.ResourceVersion},
			Spec:       corev1.ServiceSpec{Type: o.Spec.Type},
		}, nil
	case *discoveryv1.EndpointSlice:
		return newEndpointSliceRecord(o), nil
	case *corev1.Node:
		slimMeta(&o.ObjectMeta)
		o.Status.Images = nil
		o.Status.VolumesAttached, o.Status.VolumesInUse = nil, nil
		o.Status.NodeInfo = corev1.NodeSystemInfo{}
	}
	return obj, nil
}
