package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/chatcli/aiops/services/watcher-bridge/internal/detect"
)

// podMetricsGroupVersion serves PodMetrics (metrics-server, or the
// Prometheus adapter) when a cluster has one; many test and edge clusters
// do not.
const podMetricsGroupVersion = "metrics.k8s.io/v1beta1"

// maxPodMetricsBytes bounds one namespace's PodMetrics list: about 400
// bytes a pod, so 10,000 pods.
const maxPodMetricsBytes = 4 << 20

// podMetricsList is what usage detection reads of a PodMetricsList; the
// k8s.io/metrics types are not worth a dependency for four fields.
type podMetricsList struct {
	Items []struct {
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Containers []struct {
			Name  string `json:"name"`
			Usage struct {
				CPU    *resource.Quantity `json:"cpu"`
				Memory *resource.Quantity `json:"memory"`
			} `json:"usage"`
		} `json:"containers"`
	} `json:"items"`
}

// parsePodMetrics reads a PodMetricsList into usage by pod name; an item
// without a name or with no containers is skipped.
func parsePodMetrics(data []byte) (map[string][]detect.ContainerUsage, error) {
	var list podMetricsList
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("decode PodMetricsList: %w", err)
	}
	out := make(map[string][]detect.ContainerUsage, len(list.Items))
	for _, item := range list.Items {
		if item.Metadata.Name == "" || len(item.Containers) == 0 {
			continue
		}
		usage := make([]detect.ContainerUsage, 0, len(item.Containers))
		for _, c := range item.Containers {
			u := detect.ContainerUsage{Name: c.Name}
			if c.Usage.CPU != nil {
				u.CPU = *c.Usage.CPU
			}
			if c.Usage.Memory != nil {
				u.Memory = *c.Usage.Memory
			}
			usage = append(usage, u)
		}
		out[item.Metadata.Name] = usage
	}
	return out, nil
}

// podUsage holds the latest PodMetrics of the pods in scope, by
// namespace/name, replaced namespace by namespace at every poll, and
// which pods were near a limit at the last poll.
type podUsage struct {
	mu    sync.Mutex
	byPod map[string][]detect.ContainerUsage
	hot   map[string]bool
}

// markHot records whether a pod is near a limit now and says whether it
// was at the last poll.
func (u *podUsage) markHot(key string, hot bool) (was bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	was = u.hot[key]
	switch {
	case hot && u.hot == nil:
		u.hot = map[string]bool{key: true}
	case hot:
		u.hot[key] = true
	default:
		delete(u.hot, key)
	}
	return was
}

func (u *podUsage) get(namespace, name string) ([]detect.ContainerUsage, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	usage, ok := u.byPod[namespace+"/"+name]
	return usage, ok
}

// replace stores a namespace's usage and returns the pods that had usage
// before and have none now.
func (u *podUsage) replace(namespace string, usage map[string][]detect.ContainerUsage) (gone []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.byPod == nil {
		u.byPod = map[string][]detect.ContainerUsage{}
	}
	prefix := namespace + "/"
	for key := range u.byPod {
		if name, ok := strings.CutPrefix(key, prefix); ok {
			if _, still := usage[name]; !still {
				gone = append(gone, name)
				delete(u.byPod, key)
			}
		}
	}
	for name, cs := range usage {
		u.byPod[prefix+name] = cs
	}
	return gone
}

// clear forgets all usage.
func (u *podUsage) clear() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.byPod, u.hot = nil, nil
}

// dropNamespace forgets a namespace that left the scope.
func (u *podUsage) dropNamespace(namespace string) {
	u.replace(namespace, nil)
	u.mu.Lock()
	defer u.mu.Unlock()
	for key := range u.hot {
		if strings.HasPrefix(key, namespace+"/") {
			delete(u.hot, key)
		}
	}
}

// pollUsage reads PodMetrics of every namespace in scope at each interval
// while the metrics API is served, stores them and has every pod with
// usage evaluated again; it is the detectors' only poll, as PodMetrics
// cannot be watched. Whether the API is served is checked at every tick,
// so a metrics-server installed later is picked up; its absence is logged
// once and never an error.
func (d *Detector) pollUsage(ctx context.Context) {
	ticker := time.NewTicker(d.cfg.UsagePollInterval)
	defer ticker.Stop()
	served := false
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
		now, err := d.podMetricsServed()
		switch {
		case err != nil:
			d.cfg.Logger.V(1).Info("Could not tell whether PodMetrics are served", "error", err.Error())
			continue
		case now != served || first:
			served = now
			if served {
				d.sourceServed.WithLabelValues(sourcePodMetrics).Set(1)
				d.cfg.Logger.Info("Polling PodMetrics for cpu_high and memory_high", "groupVersion", podMetricsGroupVersion, "interval", d.cfg.UsagePollInterval.String())
			} else {
				// Usage read before the API went away is stale.
				d.usage.clear()
				d.sourceServed.WithLabelValues(sourcePodMetrics).Set(0)
				d.cfg.Logger.Info("Not polling PodMetrics: the API server does not serve them; cpu_high and memory_high need metrics-server", "groupVersion", podMetricsGroupVersion)
			}
		}
		if !served {
			continue
		}
		for _, ns := range d.Scope().Namespaces() {
			if err := d.pollNamespaceUsage(ctx, ns); err != nil && ctx.Err() == nil {
				d.cfg.Logger.V(1).Info("Failed to read PodMetrics; will retry", "namespace", ns, "error", err.Error())
			}
		}
	}
}

// sourcePodMetrics is the source label of chatcli_watcher_bridge_source_served.
const sourcePodMetrics = "podmetrics"

// podMetricsServed asks discovery whether PodMetrics are served.
func (d *Detector) podMetricsServed() (bool, error) {
	return d.apiServed(podMetricsGroupVersion, "pods")
}

func (d *Detector) pollNamespaceUsage(ctx context.Context, ns string) error {
	if d.informersOf(ns) == nil {
		return nil
	}
	data, err := d.cfg.Kube.Discovery().RESTClient().Get().
		AbsPath("/apis/"+podMetricsGroupVersion, "namespaces", ns, "pods").Do(ctx).Raw()
	if err != nil {
		return fmt.Errorf("list PodMetrics: %w", err)
	}
	if len(data) > maxPodMetricsBytes {
		return errors.New("PodMetricsList larger than 4 MiB")
	}
	usage, err := parsePodMetrics(data)
	if err != nil {
		return err
	}
	inf := d.informersOf(ns)
	if inf == nil {
		return nil
	}
	gone := d.usage.replace(ns, usage)
	// Only a pod near a limit now, or at the last poll, can change a
	// finding: evaluating every pod at every poll would cost a pass over
	// the whole cache for nothing.
	for name, cs := range usage {
		rec, ok := inf.get(kindPod, ns, name).(*podRecord)
		if !ok {
			continue
		}
		hot := rec.nearLimit(cs, d.cfg.Detect.UsageRatio)
		if d.usage.markHot(ns+"/"+name, hot) || hot {
			d.queue.Add(objectKey{kind: kindPod, namespace: ns, name: name})
		}
	}
	// A pod the metrics API stopped reporting loses its waits.
	for _, name := range gone {
		d.usage.markHot(ns+"/"+name, false)
		if rec, ok := inf.get(kindPod, ns, name).(*podRecord); ok {
			detect.ForgetUsage(d.unhealthy, rec.pod())
		}
	}
	return nil
}

// nearLimit tells whether a container uses ratio or more of a limit.
func (r *podRecord) nearLimit(usage []detect.ContainerUsage, ratio float64) bool {
	for _, u := range usage {
		for _, c := range r.containers {
			if c.name != u.Name {
				continue
			}
			if c.cpuLimit != nil && !c.cpuLimit.IsZero() && float64(u.CPU.MilliValue()) >= ratio*float64(c.cpuLimit.MilliValue()) {
				return true
			}
			if c.memoryLimit != nil && !c.memoryLimit.IsZero() && float64(u.Memory.MilliValue()) >= ratio*float64(c.memoryLimit.MilliValue()) {
				return true
			}
		}
	}
	return false
}
