package detect

import (
	"fmt"
	"math"
	"strconv"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// reasonTooManyReplicas is the HPA controller's ScalingLimited reason when
// it wants more replicas than maxReplicas allows.
const reasonTooManyReplicas = "TooManyReplicas"

// EvaluateHPA reports hpa_maxed when status.currentReplicas has reached
// spec.maxReplicas and the HPA is above target, meaning either
//
//   - its ScalingLimited condition is True with reason TooManyReplicas (the
//     controller's own verdict: it wants more replicas than allowed); or
//   - a metric in status.currentMetrics exceeds its target in spec.metrics
//     by more than HPATolerance of the target, the band within which the
//     controller would not scale up anyway. Targets compare like with
//     like: averageUtilization (Resource, ContainerResource), averageValue
//     (any source) and value (Object, External). A status metric is paired
//     with the spec metric at the same index when they name the same
//     metric, else with the first spec metric of the same type and name
//     (Object metrics also match on the described object); label selectors
//     are not compared.
//
// An HPA at maxReplicas whose metrics are within target has the capacity
// it needs and is not reported; neither is one being deleted. now is not
// used: the status carries no grace to time; it keeps the signatures alike.
func EvaluateHPA(h *autoscalingv2.HorizontalPodAutoscaler, now time.Time, cfg Config) Result {
	var r Result
	if h == nil || h.DeletionTimestamp != nil {
		return r
	}
	maxReplicas, current := h.Spec.MaxReplicas, h.Status.CurrentReplicas
	if maxReplicas <= 0 || current < maxReplicas {
		return r
	}
	why := metricAboveTarget(h, cfg.HPATolerance)
	if why == "" {
		for _, c := range h.Status.Conditions {
			if c.Type == autoscalingv2.ScalingLimited && c.Status == corev1.ConditionTrue && c.Reason == reasonTooManyReplicas {
				why = "it wants more replicas than that" + quote("", c.Message)
			}
		}
	}
	if why == "" {
		return r
	}
	r.add(platformv1alpha1.SignalHPAMaxed, "", strconv.Itoa(int(current)), strconv.Itoa(int(maxReplicas)),
		"HPAMaxed on %s: at maxReplicas %d and %s", h.Name, maxReplicas, why)
	return r
}

// metricAboveTarget describes the first metric above its target, or
// returns "".
func metricAboveTarget(h *autoscalingv2.HorizontalPodAutoscaler, tolerance float64) string {
	current := h.Status.CurrentMetrics
	for i, spec := range h.Spec.Metrics {
		j := i
		if j >= len(current) || !sameMetric(spec, current[j]) {
			j = -1
			for k := range current {
				if sameMetric(spec, current[k]) {
					j = k
					break
				}
			}
		}
		if j < 0 {
			continue
		}
		name, target, value := reading(spec, current[j])
		if got, want, ok := exceeds(target, value, tolerance); ok {
			return fmt.Sprintf("%s is %s (target %s)", name, got, want)
		}
	}
	return ""
}

// sameMetric reports whether a status metric reports on a spec metric.
func sameMetric(s autoscalingv2.MetricSpec, st autoscalingv2.MetricStatus) bool {
	if s.Type != st.Type {
		return false
	}
	switch s.Type {
	case autoscalingv2.ResourceMetricSourceType:
		return s.Resource != nil && st.Resource != nil && s.Resource.Name == st.Resource.Name
	case autoscalingv2.ContainerResourceMetricSourceType:
		return s.ContainerResource != nil && st.ContainerResource != nil &&
			s.ContainerResource.Name == st.ContainerResource.Name && s.ContainerResource.Container == st.ContainerResource.Container
	case autoscalingv2.PodsMetricSourceType:
		return s.Pods != nil && st.Pods != nil && s.Pods.Metric.Name == st.Pods.Metric.Name
	case autoscalingv2.ObjectMetricSourceType:
		return s.Object != nil && st.Object != nil && s.Object.Metric.Name == st.Object.Metric.Name &&
			s.Object.DescribedObject.Kind == st.Object.DescribedObject.Kind &&
			s.Object.DescribedObject.Name == st.Object.DescribedObject.Name
	case autoscalingv2.ExternalMetricSourceType:
		return s.External != nil && st.External != nil && s.External.Metric.Name == st.External.Metric.Name
	}
	return false
}

// reading names a paired metric for people and returns its target and
// current value; sameMetric has checked that the pointers are set.
func reading(s autoscalingv2.MetricSpec, st autoscalingv2.MetricStatus) (string, autoscalingv2.MetricTarget, autoscalingv2.MetricValueStatus) {
	switch s.Type {
	case autoscalingv2.ResourceMetricSourceType:
		return string(s.Resource.Name), s.Resource.Target, st.Resource.Current
	case autoscalingv2.ContainerResourceMetricSourceType:
		return string(s.ContainerResource.Name) + " of container " + s.ContainerResource.Container, s.ContainerResource.Target, st.ContainerResource.Current
	case autoscalingv2.PodsMetricSourceType:
		return "pods metric " + s.Pods.Metric.Name, s.Pods.Target, st.Pods.Current
	case autoscalingv2.ObjectMetricSourceType:
		o := s.Object.DescribedObject
		return "metric " + s.Object.Metric.Name + " of " + o.Kind + "/" + o.Name, s.Object.Target, st.Object.Current
	default:
		return "external metric " + s.External.Metric.Name, s.External.Target, st.External.Current
	}
}

// exceeds compares the current value with the target of the target's own
// type and reports both as written when the current one is above the
// target by more than tolerance of it.
func exceeds(t autoscalingv2.MetricTarget, c autoscalingv2.MetricValueStatus, tolerance float64) (got, want string, ok bool) {
	above := func(cur, tgt float64) bool { return cur > tgt+tolerance*math.Abs(tgt) }
	switch t.Type {
	case autoscalingv2.UtilizationMetricType:
		if t.AverageUtilization != nil && c.AverageUtilization != nil &&
			above(float64(*c.AverageUtilization), float64(*t.AverageUtilization)) {
			return fmt.Sprintf("%d%% utilization", *c.AverageUtilization), fmt.Sprintf("%d%%", *t.AverageUtilization), true
		}
	case autoscalingv2.AverageValueMetricType:
		if t.AverageValue != nil && c.AverageValue != nil &&
			above(c.AverageValue.AsApproximateFloat64(), t.AverageValue.AsApproximateFloat64()) {
			return "an average of " + c.AverageValue.String(), "average " + t.AverageValue.String(), true
		}
	case autoscalingv2.ValueMetricType:
		if t.Value != nil && c.Value != nil && above(c.Value.AsApproximateFloat64(), t.Value.AsApproximateFloat64()) {
			return c.Value.String(), t.Value.String(), true
		}
	}
	return "", "", false
}
