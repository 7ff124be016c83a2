package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

type latencies struct{ p50, p90, p99, max time.Duration }

// measureLatency times faults on some of many watched Deployments, from the
// moment the status write is sent to the moment the Anomaly reaches a
// watcher of Anomalies, as the correlator would see it.
func measureLatency(ctx context.Context, r *rig, o options) (latencies, error) {
	const ns = "bench-latency"
	if err := r.watchedNamespace(ctx, ns); err != nil {
		return latencies{}, err
	}
	seen := newSightings()
	stop, err := watchAnomalies(ctx, r, ns, seen)
	if err != nil {
		return latencies{}, err
	}
	defer stop()

	deployments := make([]*appsv1.Deployment, o.workloads)
	err = parallel(16, o.workloads, func(i int) error {
		d, err := r.kube.AppsV1().Deployments(ns).Create(ctx, deployment(fmt.Sprintf("svc-%05d", i)), metav1.CreateOptions{})
		deployments[i] = d
		return err
	})
	if err != nil {
		return latencies{}, fmt.Errorf("create Deployments: %w", err)
	}
	// A first fault after all creates proves the detector has caught up
	// with the initial adds.
	if err := failRollout(ctx, r, deployments[0]); err != nil {
		return latencies{}, err
	}
	if _, err := seen.wait(ctx, deployments[0].Name, time.Minute); err != nil {
		return latencies{}, fmt.Errorf("warm-up fault: %w", err)
	}

	step := max(1, (o.workloads-1)/o.samples)
	sent := map[string]time.Time{}
	for i := 1; i <= o.samples && i*step < o.workloads; i++ {
		d := deployments[i*step]
		sent[d.Name] = time.Now()
		if err := failRollout(ctx, r, d); err != nil {
			return latencies{}, err
		}
		// Spread the faults so each is timed on its own, not queued behind
		// a burst.
		time.Sleep(20 * time.Millisecond)
	}
	var all []time.Duration
	for name, at := range sent {
		visible, err := seen.wait(ctx, name, time.Minute)
		if err != nil {
			return latencies{}, err
		}
		all = append(all, visible.Sub(at))
	}
	slices.Sort(all)
	pick := func(q float64) time.Duration { return all[min(len(all)-1, int(q*float64(len(all))))] }
	return latencies{p50: pick(0.50), p90: pick(0.90), p99: pick(0.99), max: all[len(all)-1]}, nil
}

func deployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + name + ":1.0"}}},
			},
		},
	}
}

// failRollout writes the status the deployment controller writes when a
// rollout passes its progress deadline.
func failRollout(ctx context.Context, r *rig, d *appsv1.Deployment) error {
	now := metav1.Now()
	d = d.DeepCopy()
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: 2, UpdatedReplicas: 2, UnavailableReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable", LastUpdateTime: now, LastTransitionTime: now},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", LastUpdateTime: now, LastTransitionTime: now},
		},
	}
	_, err := r.kube.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	return err
}

// sightings records when each resource's first Anomaly arrived.
type sightings struct {
	mu   sync.Mutex
	at   map[string]time.Time
	cond *sync.Cond
}

func newSightings() *sightings {
	s := &sightings{at: map[string]time.Time{}}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *sightings) record(resource string) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.at[resource]; !ok {
		s.at[resource] = now
		s.cond.Broadcast()
	}
}

func (s *sightings) wait(ctx context.Context, resource string, timeout time.Duration) (time.Time, error) {
	var at time.Time
	err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		t, ok := s.at[resource]
		at = t
		return ok, nil
	})
	if err != nil {
		return at, fmt.Errorf("no Anomaly for %s: %w", resource, err)
	}
	return at, nil
}

// watchAnomalies records each Anomaly of a namespace as it arrives.
func watchAnomalies(ctx context.Context, r *rig, ns string, seen *sightings) (func(), error) {
	c, err := client.NewWithWatch(r.env.Config, client.Options{Scheme: r.env.Scheme})
	if err != nil {
		return nil, err
	}
	w, err := c.Watch(ctx, &platformv1alpha1.AnomalyList{}, client.InNamespace(ns))
	if err != nil {
		return nil, err
	}
	go func() {
		for ev := range w.ResultChan() {
			if a, ok := ev.Object.(*platformv1alpha1.Anomaly); ok {
				seen.record(a.Spec.Resource.Name)
			}
		}
	}()
	return w.Stop, nil
}

// parallel runs fn for 0..n-1 on workers goroutines and returns the first
// error.
func parallel(workers, n int, fn func(int) error) error {
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
