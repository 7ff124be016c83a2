package watch

import (
	"github.com/prometheus/client_golang/prometheus"
)

// watchedObjects reports how many objects of each kind the detectors
// cache, read from the informers at scrape time.
type watchedObjects struct {
	d    *Detector
	desc *prometheus.Desc
}

func newWatchedObjects(d *Detector) *watchedObjects {
	return &watchedObjects{d: d, desc: prometheus.NewDesc(
		"chatcli_watcher_bridge_watched_objects",
		"Objects the native detectors hold in their caches, by kind.",
		[]string{"kind"}, nil)}
}

func (w *watchedObjects) Describe(ch chan<- *prometheus.Desc) { ch <- w.desc }

func (w *watchedObjects) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{}
	w.d.mu.Lock()
	for _, inf := range w.d.namespaces {
		for kind, informer := range inf.byKind {
			counts[kind] += len(informer.GetStore().ListKeys())
		}
	}
	if w.d.nodes != nil {
		counts[kindNode] = len(w.d.nodes.GetStore().ListKeys())
	}
	for _, s := range w.d.sources {
		for _, r := range s.running {
			counts[s.kind] += len(r.informer.GetStore().ListKeys())
		}
	}
	w.d.mu.Unlock()
	for kind, n := range counts {
		ch <- prometheus.MustNewConstMetric(w.desc, prometheus.GaugeValue, float64(n), kind)
	}
}
