package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

type memory struct {
	pods int
	// plain runs with the Go runtime's defaults; limited with the memory
	// limit the service derives from a container limit of containerLimit.
	plain, limited residency
}

// containerLimit is the memory limit the measured configuration assumes;
// the service gives 85% of it to the Go runtime (libs/app).
const containerLimit = 150 << 20

// measureMemory fills watched namespaces with running pods, as the kubelet
// reports them, then measures two fresh watcher-bridge processes once their
// caches hold every pod and they have settled: one with the Go runtime's
// defaults, one with the memory limit a 150 MiB container would give it.
func measureMemory(ctx context.Context, r *rig, o options) (memory, error) {
	const perNamespace = 1000
	namespaces := (o.pods + perNamespace - 1) / perNamespace
	for i := range namespaces {
		if err := r.watchedNamespace(ctx, fmt.Sprintf("bench-pods-%02d", i)); err != nil {
			return memory{}, err
		}
	}
	err := parallel(16, o.pods, func(i int) error {
		ns := fmt.Sprintf("bench-pods-%02d", i/perNamespace)
		pod, err := r.kube.CoreV1().Pods(ns).Create(ctx, runningPod(fmt.Sprintf("worker-%05d", i)), metav1.CreateOptions{})
		if err != nil {
			return err
		}
		pod.Status = runningStatus()
		_, err = r.kube.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return memory{}, fmt.Errorf("create pods: %w", err)
	}
	m := memory{pods: o.pods}
	for _, run := range []struct {
		into *residency
		env  []string
	}{
		{into: &m.plain},
		{into: &m.limited, env: []string{fmt.Sprintf("GOMEMLIMIT=%dB", int64(containerLimit*0.85))}},
	} {
		r.stopWatcher()
		if err := r.startWatcher(ctx, run.env); err != nil {
			return m, err
		}
		if *run.into, err = settledResidency(ctx, r, o.pods); err != nil {
			return m, err
		}
	}
	return m, nil
}

// settledResidency waits until the watcher-bridge caches every pod and its
// memory stops growing, then reads it.
func settledResidency(ctx context.Context, r *rig, pods int) (residency, error) {
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 5*time.Minute, true, func(context.Context) (bool, error) {
		n, err := r.metric(`chatcli_watcher_bridge_watched_objects{kind="Pod"}`)
		return err == nil && int(n) >= pods, nil
	})
	if err != nil {
		return residency{}, fmt.Errorf("the watcher-bridge never cached %d pods: %w", pods, err)
	}
	var last int64
	for stable := 0; stable < 3; {
		time.Sleep(time.Second)
		res, err := r.rss()
		if err != nil {
			return residency{}, err
		}
		if last > 0 && res.total <= last+(1<<20) {
			stable++
		} else {
			stable = 0
		}
		last = res.total
	}
	return r.rss()
}

func runningPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "worker", "pod-template-hash": "7d9c5b8f4"},
			Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}},
		Spec: corev1.PodSpec{
			NodeName: "node-1",
			Containers: []corev1.Container{{
				Name: "app", Image: "registry.example/worker:1.4.2",
				Args: []string{"--listen=:8080", "--metrics=:9090", "--log-level=info"},
				Env:  []corev1.EnvVar{{Name: "MODE", Value: "production"}, {Name: "REGION", Value: "eu-west-1"}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}},
			}},
		},
	}
}

func runningStatus() corev1.PodStatus {
	now := metav1.Now()
	return corev1.PodStatus{
		Phase:  corev1.PodRunning,
		PodIP:  "10.0.0.10",
		HostIP: "192.168.0.1",
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Ready: true, Image: "registry.example/worker:1.4.2", ImageID: "registry.example/worker@sha256:0123456789abcdef",
			ContainerID: "containerd://0123456789abcdef", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}},
		StartTime: &now,
	}
}
