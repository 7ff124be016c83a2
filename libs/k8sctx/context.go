package k8sctx

import (
	"encoding/json"
	"fmt"
	"time"
)

// Bounds of the context given to an analysis. The upstream caps the
// context at 15,000 characters; Render trims logs first, then events, to
// stay under the cap it is given.
const (
	MaxPods          = 5
	MaxEvents        = 15
	MaxRevisions     = 5
	MaxLogLines      = 50
	MaxLogBytes      = 4096
	MaxLogContainers = 3
	DefaultMaxBytes  = 15000
)

// Context is what an analysis knows about the resource of an Issue. It is
// rendered as JSON, which both the built-in analyzer and a model read.
type Context struct {
	Resource Ref `json:"resource"`
	// Found is false when the resource does not exist (anymore).
	Found bool `json:"found"`
	// Healthy applies the upstream's health criteria for the kind.
	Healthy  bool      `json:"healthy"`
	Workload *Workload `json:"workload,omitempty"`
	// Pods are at most MaxPods, failing ones first.
	Pods []Pod `json:"pods,omitempty"`
	// Events are the last MaxEvents of the resource and its pods, oldest first.
	Events []Event `json:"events,omitempty"`
	// Revisions are the last MaxRevisions, newest first.
	Revisions []Revision `json:"revisions,omitempty"`
	// LastHealthyRevision is the newest revision, other than the current
	// one, with evidence it was healthy; 0 when none has.
	LastHealthyRevision int64 `json:"lastHealthyRevision,omitempty"`
	// Logs are tails of failing containers, the previous container included.
	Logs  []LogTail `json:"logs,omitempty"`
	Node  *Node     `json:"node,omitempty"`
	HPA   *HPA      `json:"hpa,omitempty"`
	PVC   *PVC      `json:"pvc,omitempty"`
	Notes []string  `json:"notes,omitempty"`
}

// Ref names an object.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// Workload is the status of a Deployment, StatefulSet, DaemonSet, Job or
// CronJob.
type Workload struct {
	Generation         int64       `json:"generation"`
	ObservedGeneration int64       `json:"observedGeneration"`
	Desired            int32       `json:"desired"`
	Ready              int32       `json:"ready"`
	Updated            int32       `json:"updated"`
	Available          int32       `json:"available"`
	Unavailable        int32       `json:"unavailable"`
	Active             int32       `json:"active,omitempty"`
	Succeeded          int32       `json:"succeeded,omitempty"`
	Failed             int32       `json:"failed,omitempty"`
	Suspended          bool        `json:"suspended,omitempty"`
	Schedule           string      `json:"schedule,omitempty"`
	LastScheduleTime   *time.Time  `json:"lastScheduleTime,omitempty"`
	LastSuccessfulTime *time.Time  `json:"lastSuccessfulTime,omitempty"`
	CurrentRevision    int64       `json:"currentRevision,omitempty"`
	Conditions         []Condition `json:"conditions,omitempty"`
	Containers         []Container `json:"containers,omitempty"`
	// LastJob is a CronJob's newest Job.
	LastJob *Ref `json:"lastJob,omitempty"`
}

// Condition is a condition of an object.
type Condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Container is a container of a pod template.
type Container struct {
	Name     string            `json:"name"`
	Image    string            `json:"image"`
	Requests map[string]string `json:"requests,omitempty"`
	Limits   map[string]string `json:"limits,omitempty"`
}

// Pod is one pod of the resource.
type Pod struct {
	Name       string            `json:"name"`
	Phase      string            `json:"phase"`
	Ready      bool              `json:"ready"`
	Failing    bool              `json:"failing"`
	Restarts   int32             `json:"restarts"`
	Node       string            `json:"node,omitempty"`
	Revision   string            `json:"revision,omitempty"`
	Containers []ContainerStatus `json:"containers,omitempty"`
}

// ContainerStatus is the state of one container of a pod.
type ContainerStatus struct {
	Name     string `json:"name"`
	Ready    bool   `json:"ready"`
	Restarts int32  `json:"restarts"`
	// State is running, waiting or terminated; Reason and Message are
	// the state's.
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// LastTerminationReason and LastExitCode are the previous container's.
	LastTerminationReason string `json:"lastTerminationReason,omitempty"`
	LastExitCode          *int32 `json:"lastExitCode,omitempty"`
}

// Event is one Kubernetes event.
type Event struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Reason  string    `json:"reason"`
	Object  string    `json:"object"`
	Message string    `json:"message"`
	Count   int32     `json:"count,omitempty"`
}

// Revision is one ReplicaSet or ControllerRevision.
type Revision struct {
	Number  int64     `json:"number"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Current bool      `json:"current,omitempty"`
	Ready   int32     `json:"ready"`
	Desired int32     `json:"desired"`
	Healthy bool      `json:"healthy"`
	// HealthEvidence says why Healthy is true.
	HealthEvidence string      `json:"healthEvidence,omitempty"`
	Containers     []Container `json:"containers,omitempty"`
	// Changes are the differences from the next older revision.
	Changes []string `json:"changes,omitempty"`
}

// LogTail is the end of one container's log.
type LogTail struct {
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Previous  bool   `json:"previous"`
	Lines     string `json:"lines,omitempty"`
	// Error says why the log could not be read (no kubelet serves it).
	Error string `json:"error,omitempty"`
}

// Node is the state of a node.
type Node struct {
	Unschedulable bool        `json:"unschedulable"`
	Conditions    []Condition `json:"conditions,omitempty"`
	Pods          int         `json:"pods"`
}

// HPA is the state of a HorizontalPodAutoscaler.
type HPA struct {
	Target          Ref         `json:"target"`
	MinReplicas     int32       `json:"minReplicas"`
	MaxReplicas     int32       `json:"maxReplicas"`
	CurrentReplicas int32       `json:"currentReplicas"`
	DesiredReplicas int32       `json:"desiredReplicas"`
	Conditions      []Condition `json:"conditions,omitempty"`
}

// PVC is the state of a PersistentVolumeClaim.
type PVC struct {
	Phase        string            `json:"phase"`
	StorageClass string            `json:"storageClass,omitempty"`
	Requested    string            `json:"requested,omitempty"`
	Capacity     string            `json:"capacity,omitempty"`
	AccessModes  []string          `json:"accessModes,omitempty"`
	Conditions   []Condition       `json:"conditions,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// Render marshals the context as JSON of at most maxBytes (DefaultMaxBytes
// when 0), dropping log lines, then events, then revisions' containers,
// until it fits. The JSON is always complete, so that it parses.
func (c *Context) Render(maxBytes int) ([]byte, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	cp := *c
	cp.Logs = append([]LogTail(nil), c.Logs...)
	cp.Events = append([]Event(nil), c.Events...)
	cp.Revisions = append([]Revision(nil), c.Revisions...)
	for {
		out, err := json.Marshal(&cp)
		if err != nil {
			return nil, fmt.Errorf("render context: %w", err)
		}
		if len(out) <= maxBytes {
			return out, nil
		}
		switch {
		case trimLogs(cp.Logs):
		case len(cp.Logs) > 0:
			cp.Logs = cp.Logs[:len(cp.Logs)-1]
		case len(cp.Events) > 0:
			cp.Events = cp.Events[1:] // the oldest first
		case stripRevisions(cp.Revisions):
		case len(cp.Pods) > 1:
			cp.Pods = cp.Pods[:len(cp.Pods)-1]
		default:
			return nil, fmt.Errorf("render context: %d bytes exceed the cap of %d", len(out), maxBytes)
		}
	}
}

// trimLogs halves the longest log tail, keeping its end; false when every
// tail is short already.
func trimLogs(logs []LogTail) bool {
	longest := -1
	for i := range logs {
		if len(logs[i].Lines) > 256 && (longest < 0 || len(logs[i].Lines) > len(logs[longest].Lines)) {
			longest = i
		}
	}
	if longest < 0 {
		return false
	}
	l := logs[longest].Lines
	logs[longest].Lines = l[len(l)/2:]
	return true
}

func stripRevisions(revs []Revision) bool {
	for i := len(revs) - 1; i >= 0; i-- {
		if revs[i].Containers != nil {
			revs[i].Containers = nil
			return true
		}
	}
	return false
}

// Parse reads a rendered context back.
func Parse(data []byte) (*Context, error) {
	c := &Context{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("parse context: %w", err)
	}
	return c, nil
}

// FailingPods are the pods of the context that fail.
func (c *Context) FailingPods() []Pod {
	var out []Pod
	for _, p := range c.Pods {
		if p.Failing {
			out = append(out, p)
		}
	}
	return out
}

// CurrentRevision is the revision marked current, or nil.
func (c *Context) CurrentRevision() *Revision {
	for i := range c.Revisions {
		if c.Revisions[i].Current {
			return &c.Revisions[i]
		}
	}
	return nil
}

// Container returns the workload's container by name, or its first when
// name is empty.
func (w *Workload) Container(name string) (Container, bool) {
	if w == nil || len(w.Containers) == 0 {
		return Container{}, false
	}
	if name == "" {
		return w.Containers[0], true
	}
	for _, c := range w.Containers {
		if c.Name == name {
			return c, true
		}
	}
	return Container{}, false
}
