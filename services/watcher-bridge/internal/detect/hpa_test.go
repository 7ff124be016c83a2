package detect

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// testHPA scales between 2 and 10 replicas, has current replicas, and
// pairs each spec metric with a status metric.
func testHPA(current int32, metrics []autoscalingv2.MetricSpec, status []autoscalingv2.MetricStatus, conditions ...autoscalingv2.HorizontalPodAutoscalerCondition) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: meta("web", 24*time.Hour),
		Spec:       autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptrTo[int32](2), MaxReplicas: 10, Metrics: metrics},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: current, DesiredReplicas: current,
			CurrentMetrics: status, Conditions: conditions},
	}
}

func cpuTarget(pct int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &pct}}}
}

func cpuCurrent(pct int32) autoscalingv2.MetricStatus {
	return autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
		Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: &pct}}}
}

func qty(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

func TestEvaluateHPA(t *testing.T) {
	cfg := DefaultConfig()
	maxed := func(description string) Result {
		return Result{Findings: []Finding{finding(platformv1alpha1.SignalHPAMaxed, "", "10", "10", description)}}
	}
	limited := autoscalingv2.HorizontalPodAutoscalerCondition{Type: autoscalingv2.ScalingLimited, Status: corev1.ConditionTrue,
		Reason: "TooManyReplicas", Message: "the desired replica count is more than the maximum replica count"}
	queueSpec := autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "queue_depth"},
		Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: qty("30")}}}
	queueStatus := func(v string) autoscalingv2.MetricStatus {
		return autoscalingv2.MetricStatus{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{
			Metric: autoscalingv2.MetricIdentifier{Name: "queue_depth"}, Current: autoscalingv2.MetricValueStatus{AverageValue: qty(v)}}}
	}
	cases := map[string]struct {
		reason string
		args   *autoscalingv2.HorizontalPodAutoscaler
		want   Result
	}{
		"AtMaxAboveTarget": {
			reason: "at maxReplicas with CPU at 95% of a 70% target",
			args:   testHPA(10, []autoscalingv2.MetricSpec{cpuTarget(70)}, []autoscalingv2.MetricStatus{cpuCurrent(95)}),
			want:   maxed("HPAMaxed on web: at maxReplicas 10 and cpu is 95% utilization (target 70%)"),
		},
		"AtMaxBelowTarget": {
			reason: "at maxReplicas but within target: the HPA has what it needs",
			args:   testHPA(10, []autoscalingv2.MetricSpec{cpuTarget(70)}, []autoscalingv2.MetricStatus{cpuCurrent(60)}),
		},
		"AtMaxWithinTolerance": {
			reason: "75% against 70% is within the 10% tolerance, where the HPA would not scale either",
			args:   testHPA(10, []autoscalingv2.MetricSpec{cpuTarget(70)}, []autoscalingv2.MetricStatus{cpuCurrent(75)}),
		},
		"BelowMaxAboveTarget": {
			reason: "above target but with room to scale: the HPA is doing its job",
			args:   testHPA(6, []autoscalingv2.MetricSpec{cpuTarget(70)}, []autoscalingv2.MetricStatus{cpuCurrent(150)}),
		},
		"ScalingLimited": {
			reason: "the controller's own verdict, without metrics to compare",
			args:   testHPA(10, nil, nil, limited),
			want:   maxed("HPAMaxed on web: at maxReplicas 10 and it wants more replicas than that (the desired replica count is more than the maximum replica count)"),
		},
		"ScalingLimitedLow": {
			reason: "ScalingLimited for TooFewReplicas is not above target",
			args: testHPA(10, nil, nil, autoscalingv2.HorizontalPodAutoscalerCondition{
				Type: autoscalingv2.ScalingLimited, Status: corev1.ConditionTrue, Reason: "TooFewReplicas"}),
		},
		"ExternalAverageValue": {
			reason: "an external metric's average value above its target",
			args:   testHPA(10, []autoscalingv2.MetricSpec{cpuTarget(70), queueSpec}, []autoscalingv2.MetricStatus{cpuCurrent(40), queueStatus("50")}),
			want:   maxed("HPAMaxed on web: at maxReplicas 10 and external metric queue_depth is an average of 50 (target average 30)"),
		},
		"StatusInOtherOrder": {
			reason: "status metrics are paired by name when their order differs from the spec's",
			args:   testHPA(10, []autoscalingv2.MetricSpec{cpuTarget(70), queueSpec}, []autoscalingv2.MetricStatus{queueStatus("31"), cpuCurrent(99)}),
			want:   maxed("HPAMaxed on web: at maxReplicas 10 and cpu is 99% utilization (target 70%)"),
		},
		"PodsMetric": {
			reason: "a pods metric's average value",
			args: testHPA(10, []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: "requests_per_second"},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: qty("100")}}}},
				[]autoscalingv2.MetricStatus{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricStatus{
					Metric: autoscalingv2.MetricIdentifier{Name: "requests_per_second"}, Current: autoscalingv2.MetricValueStatus{AverageValue: qty("250")}}}}),
			want: maxed("HPAMaxed on web: at maxReplicas 10 and pods metric requests_per_second is an average of 250 (target average 100)"),
		},
		"ObjectMetricOtherObject": {
			reason: "an object metric about another object is not paired",
			args: testHPA(10, []autoscalingv2.MetricSpec{{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
				Metric:          autoscalingv2.MetricIdentifier{Name: "hits"},
				DescribedObject: autoscalingv2.CrossVersionObjectReference{Kind: "Ingress", Name: "main"},
				Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: qty("1k")}}}},
				[]autoscalingv2.MetricStatus{{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricStatus{
					Metric:          autoscalingv2.MetricIdentifier{Name: "hits"},
					DescribedObject: autoscalingv2.CrossVersionObjectReference{Kind: "Ingress", Name: "other"},
					Current:         autoscalingv2.MetricValueStatus{Value: qty("5k")}}}}),
		},
		"ObjectMetricValue": {
			reason: "an object metric's value above its target",
			args: testHPA(10, []autoscalingv2.MetricSpec{{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
				Metric:          autoscalingv2.MetricIdentifier{Name: "hits"},
				DescribedObject: autoscalingv2.CrossVersionObjectReference{Kind: "Ingress", Name: "main"},
				Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: qty("1k")}}}},
				[]autoscalingv2.MetricStatus{{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricStatus{
					Metric:          autoscalingv2.MetricIdentifier{Name: "hits"},
					DescribedObject: autoscalingv2.CrossVersionObjectReference{Kind: "Ingress", Name: "main"},
					Current:         autoscalingv2.MetricValueStatus{Value: qty("5k")}}}}),
			want: maxed("HPAMaxed on web: at maxReplicas 10 and metric hits of Ingress/main is 5k (target 1k)"),
		},
		"ContainerResourceMismatchedTargetType": {
			reason: "a utilization target is not compared with an average value",
			args: testHPA(10, []autoscalingv2.MetricSpec{{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
				Name: corev1.ResourceMemory, Container: "app",
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptrTo[int32](80)}}}},
				[]autoscalingv2.MetricStatus{{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricStatus{
					Name: corev1.ResourceMemory, Container: "app", Current: autoscalingv2.MetricValueStatus{AverageValue: qty("2Gi")}}}}),
		},
		"ContainerResourceUtilization": {
			reason: "a container resource's utilization",
			args: testHPA(10, []autoscalingv2.MetricSpec{{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
				Name: corev1.ResourceMemory, Container: "app",
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptrTo[int32](80)}}}},
				[]autoscalingv2.MetricStatus{{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricStatus{
					Name: corev1.ResourceMemory, Container: "app", Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptrTo[int32](97)}}}}),
			want: maxed("HPAMaxed on web: at maxReplicas 10 and memory of container app is 97% utilization (target 80%)"),
		},
		"Nil": {
			reason: "a nil HPA shows nothing",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := EvaluateHPA(tc.args, now, cfg)
			diffResult(t, tc.reason, tc.want, got)
			checkInvariants(t, got)
		})
	}
}
