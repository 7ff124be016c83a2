package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// faultCost is what the watcher-bridge made of one kind of injected fault.
type faultCost struct {
	name   string
	faults int
	// anomalies and writes are totals over the faults: Anomalies in the
	// fault's namespace, and the watcher-bridge's own write requests to
	// the API server while the faults ran.
	anomalies, writes int
	bySignal          map[platformv1alpha1.SignalType]int
	evidence          int
}

func (c faultCost) perFault(n int) float64 { return float64(n) / float64(c.faults) }

func (c faultCost) signals() string {
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(c.bySignal)) {
		parts = append(parts, fmt.Sprintf("%s %d", t, c.bySignal[t]))
	}
	return strings.Join(parts, ", ")
}

// faultRounds is how many times the fake kubelet restarts each faulted
// container: enough restarts within the window for pod_restart (3).
const faultRounds = 4

// measureFaults breaks Deployments of two replicas the two ways the e2e
// scenarios do, writing the pod statuses a kubelet (or the e2e cluster's
// fake node) writes: a container OOM-killed in a loop, and a rollout to an
// image that exits at once. Each round restarts every container once more
// and leaves it waiting in CrashLoopBackOff, its last exit the fault's.
// It counts the Anomalies and the API writes the faults cost.
func measureFaults(ctx context.Context, r *rig, faults int) ([]faultCost, error) {
	var out []faultCost
	for _, f := range []struct {
		name   string
		reason string
		code   int32
	}{
		{"OOM-killed in a loop", "OOMKilled", 137},
		{"bad rollout (exit 1)", "Error", 1},
	} {
		ns := "bench-fault-" + strings.ToLower(f.reason)
		cost, err := measureFault(ctx, r, ns, faults, f.reason, f.code)
		if err != nil {
			return out, fmt.Errorf("%s: %w", f.name, err)
		}
		cost.name = f.name
		out = append(out, cost)
	}
	return out, nil
}

func measureFault(ctx context.Context, r *rig, ns string, faults int, reason string, code int32) (faultCost, error) {
	cost := faultCost{faults: faults, bySignal: map[platformv1alpha1.SignalType]int{}}
	if err := r.watchedNamespace(ctx, ns); err != nil {
		return cost, err
	}
	watchedBefore, err := r.metric(`chatcli_watcher_bridge_watched_objects{kind="Pod"}`)
	if err != nil {
		return cost, err
	}
	const replicas = 2
	pods := make([]*corev1.Pod, faults*replicas)
	err = parallel(8, faults, func(i int) error {
		made, err := r.workloadWithPods(ctx, ns, fmt.Sprintf("shop-%03d", i), replicas)
		copy(pods[i*replicas:], made)
		return err
	})
	if err != nil {
		return cost, fmt.Errorf("create workloads: %w", err)
	}
	// Every pod healthy and seen first, as before a real fault: the
	// restart count the watcher-bridge starts from is then 0.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		n, err := r.metric(`chatcli_watcher_bridge_watched_objects{kind="Pod"}`)
		return err == nil && int(n) >= int(watchedBefore)+len(pods), nil
	})
	if err != nil {
		return cost, fmt.Errorf("the watcher-bridge never saw the pods: %w", err)
	}
	writesBefore, err := r.writes()
	if err != nil {
		return cost, err
	}
	for round := int32(1); round <= faultRounds; round++ {
		err := parallel(8, len(pods), func(i int) error {
			p := pods[i]
			p.Status = crashLoopingStatus(round, reason, code)
			updated, err := r.kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
			if err == nil {
				pods[i] = updated
			}
			return err
		})
		if err != nil {
			return cost, fmt.Errorf("fault round %d: %w", round, err)
		}
		// The fake kubelet of e2e restarts every 1.5 s; a quarter of that
		// keeps the run short and each round still its own evaluation.
		time.Sleep(400 * time.Millisecond)
	}
	// Done when every fault has its Anomalies and none came for a while.
	var list platformv1alpha1.AnomalyList
	c, err := client.New(r.env.Config, client.Options{Scheme: r.env.Scheme})
	if err != nil {
		return cost, err
	}
	last, quiet := -1, 0
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, nil
		}
		faulted := map[string]bool{}
		for _, a := range list.Items {
			faulted[a.Spec.Resource.Name] = true
		}
		if len(list.Items) == last && len(faulted) == faults {
			quiet++
		} else {
			quiet = 0
		}
		last = len(list.Items)
		return quiet >= 6, nil
	})
	if err != nil {
		return cost, fmt.Errorf("%d Anomalies for %d faults, still changing or incomplete: %w", len(list.Items), faults, err)
	}
	writesAfter, err := r.writes()
	if err != nil {
		return cost, err
	}
	cost.anomalies, cost.writes = len(list.Items), int(writesAfter-writesBefore)
	for _, a := range list.Items {
		cost.bySignal[a.Spec.SignalType]++
		cost.evidence += len(a.Spec.Evidence)
	}
	return cost, nil
}

// workloadWithPods creates a Deployment, its ReplicaSet and running pods
// owned by it, as the controllers would, so that attribution walks the
// whole chain to the Deployment.
func (r *rig) workloadWithPods(ctx context.Context, ns, name string, replicas int) ([]*corev1.Pod, error) {
	d, err := r.kube.AppsV1().Deployments(ns).Create(ctx, deployment(name), metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	rs, err := r.kube.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-7d9c5b8f4", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptr.To(true),
		}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(replicas)), Selector: d.Spec.Selector, Template: d.Spec.Template},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	var pods []*corev1.Pod
	for i := range replicas {
		pod := runningPod(fmt.Sprintf("%s-7d9c5b8f4-%05d", name, i))
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}
		created, err := r.kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return nil, err
		}
		created.Status = runningStatus()
		if created, err = r.kube.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return nil, err
		}
		pods = append(pods, created)
	}
	return pods, nil
}

// crashLoopingStatus is the status of a container restarted the given
// number of times, each time ending for reason, waiting out its back-off.
func crashLoopingStatus(restarts int32, reason string, code int32) corev1.PodStatus {
	s := runningStatus()
	now := metav1.Now()
	s.Conditions[0] = corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: now}
	s.Conditions[1] = corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: now}
	cs := &s.ContainerStatuses[0]
	cs.Ready, cs.RestartCount = false, restarts
	cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off restarting failed container"}}
	cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: now, FinishedAt: now,
	}}
	return s
}

// writes is how many write requests (POST, PUT, PATCH, DELETE) the
// watcher-bridge has sent to the API server, from client-go's request
// counter.
func (r *rig) writes() (float64, error) {
	resp, err := http.Get("http://" + r.metricsAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var total float64
	scanner := bufio.NewScanner(resp.Body)
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.HasPrefix(line, "rest_client_requests_total{") {
			continue
		}
		for _, m := range []string{`method="POST"`, `method="PUT"`, `method="PATCH"`, `method="DELETE"`} {
			if strings.Contains(line, m) {
				v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				if err != nil {
					return 0, fmt.Errorf("parse %q: %w", line, err)
				}
				total += v
			}
		}
	}
	return total, scanner.Err()
}
