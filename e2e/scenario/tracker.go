package scenario

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Incident is what the tracker saw of one fault, with the time it saw each
// step (the harness's clock, to the millisecond; CR timestamps have whole
// seconds).
type Incident struct {
	App string
	// Kind of the App's workload: Deployment unless TrackKind said.
	Kind       string
	InjectedAt time.Time
	// AnomalyAt is when the first Anomaly of the App was seen.
	AnomalyAt time.Time
	Signals   []platformv1alpha1.SignalType
	// Issue is the latest copy of the App's first Issue.
	Issue       *platformv1alpha1.Issue
	IssueAt     time.Time
	Transitions []Transition
	// Plans are the latest copies of the Issue's RemediationPlans.
	Plans map[string]*platformv1alpha1.RemediationPlan
	// PostMortem is the Issue's PostMortem, once it exists.
	PostMortem   *platformv1alpha1.PostMortem
	PostMortemAt time.Time
}

// Transition is an Issue state and when it was first seen.
type Transition struct {
	State platformv1alpha1.IssueState
	At    time.Time
}

// State is the Issue's state, or "" before there is an Issue.
func (i *Incident) State() platformv1alpha1.IssueState {
	if i.Issue == nil {
		return ""
	}
	return i.Issue.Status.State
}

// Since is how long after the injection t was, rounded for display.
func (i *Incident) Since(t time.Time) time.Duration {
	return t.Sub(i.InjectedAt).Round(10 * time.Millisecond)
}

// Event is one step the tracker saw, for a live view.
type Event struct {
	App  string
	At   time.Time
	Text string
}

// Tracker watches the Anomalies, Issues, RemediationPlans and PostMortems of
// one namespace and keeps an Incident per tracked App.
type Tracker struct {
	c         client.WithWatch
	namespace string
	// Events receives a line per step when not nil; sends never block the
	// tracker for long (the channel should be buffered).
	Events chan Event

	mu        sync.Mutex
	incidents map[string]*Incident
	issueApp  map[string]string
}

// NewTracker returns a tracker of namespace; call Run to start it.
func NewTracker(c client.WithWatch, namespace string) *Tracker {
	return &Tracker{c: c, namespace: namespace, incidents: map[string]*Incident{}, issueApp: map[string]string{}}
}

// Track starts tracking the Deployment app, whose fault is injected now.
func (t *Tracker) Track(app string) { t.TrackKind(app, "Deployment") }

// TrackKind starts tracking the workload app of kind, whose fault is
// injected now.
func (t *Tracker) TrackKind(app, kind string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.incidents[app] = &Incident{App: app, Kind: kind, InjectedAt: time.Now(), Plans: map[string]*platformv1alpha1.RemediationPlan{}}
}

// Run watches until ctx ends.
func (t *Tracker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, list := range []client.ObjectList{&platformv1alpha1.AnomalyList{}, &platformv1alpha1.IssueList{}, &platformv1alpha1.RemediationPlanList{}, &platformv1alpha1.PostMortemList{}} {
		wg.Go(func() { t.watch(ctx, list) })
	}
	wg.Wait()
}

// watch re-opens its watch whenever the API server ends it; a new watch
// begins with an ADDED event for every existing object, so nothing is lost.
func (t *Tracker) watch(ctx context.Context, list client.ObjectList) {
	for ctx.Err() == nil {
		w, err := t.c.Watch(ctx, list, client.InNamespace(t.namespace))
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Added || ev.Type == watch.Modified {
				t.observe(ev.Object)
			}
		}
		w.Stop()
	}
}

func (t *Tracker) observe(obj any) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	switch o := obj.(type) {
	case *platformv1alpha1.Anomaly:
		inc := t.incidents[o.Spec.Resource.Name]
		if inc == nil || o.CreationTimestamp.Time.Before(inc.InjectedAt.Truncate(time.Second)) {
			return
		}
		for _, s := range inc.Signals {
			if s == o.Spec.SignalType {
				return
			}
		}
		if inc.AnomalyAt.IsZero() {
			inc.AnomalyAt = now
		}
		inc.Signals = append(inc.Signals, o.Spec.SignalType)
		t.emit(inc, now, fmt.Sprintf("Anomaly %s (%s)", o.Spec.SignalType, o.Name))
	case *platformv1alpha1.Issue:
		inc := t.incidents[o.Spec.Resource.Name]
		if inc == nil || o.Spec.Resource.Kind != inc.Kind || o.CreationTimestamp.Time.Before(inc.InjectedAt.Truncate(time.Second)) {
			return
		}
		if inc.Issue != nil && inc.Issue.Name != o.Name {
			return // a recurrence: the first Issue is the incident
		}
		if inc.Issue == nil {
			inc.IssueAt = now
			t.issueApp[o.Name] = inc.App
			t.emit(inc, now, fmt.Sprintf("Issue %s (%s, %s)", o.Name, o.Spec.SignalType, o.Spec.Severity))
		}
		inc.Issue = o.DeepCopy()
		state := o.Status.State
		if state == "" {
			return
		}
		if n := len(inc.Transitions); n == 0 || inc.Transitions[n-1].State != state {
			inc.Transitions = append(inc.Transitions, Transition{State: state, At: now})
			text := "→ " + string(state)
			if o.Status.IncidentID != "" {
				text += "  " + o.Status.IncidentID
			}
			switch state {
			case platformv1alpha1.IssueResolved:
				text += "  " + o.Status.Resolution
			case platformv1alpha1.IssueEscalated:
				text += "  " + o.Status.EscalationReason
			}
			t.emit(inc, now, text)
		}
	case *platformv1alpha1.RemediationPlan:
		inc := t.incidents[t.issueApp[o.Spec.IssueRef.Name]]
		if inc == nil {
			return
		}
		old := inc.Plans[o.Name]
		inc.Plans[o.Name] = o.DeepCopy()
		if old == nil || old.Status.State != o.Status.State {
			text := fmt.Sprintf("plan %s attempt %d", o.Name, o.Spec.Attempt)
			for _, a := range o.Spec.Actions {
				text += " " + string(a.Type)
			}
			if o.Status.State != "" {
				text += ": " + string(o.Status.State)
			}
			t.emit(inc, now, text)
		}
	case *platformv1alpha1.PostMortem:
		inc := t.incidents[t.issueApp[o.Spec.IssueRef.Name]]
		if inc == nil {
			return
		}
		if inc.PostMortem == nil {
			inc.PostMortemAt = now
			t.emit(inc, now, "PostMortem "+o.Name)
		}
		inc.PostMortem = o.DeepCopy()
	}
}

func (t *Tracker) emit(inc *Incident, at time.Time, text string) {
	if t.Events == nil {
		return
	}
	select {
	case t.Events <- Event{App: inc.App, At: at, Text: text}:
	case <-time.After(time.Second):
	}
}

// Incident returns a copy of what was seen of app.
func (t *Tracker) Incident(app string) Incident {
	t.mu.Lock()
	defer t.mu.Unlock()
	inc := t.incidents[app]
	if inc == nil {
		return Incident{App: app}
	}
	cp := *inc
	cp.Signals = append([]platformv1alpha1.SignalType(nil), inc.Signals...)
	cp.Transitions = append([]Transition(nil), inc.Transitions...)
	cp.Plans = map[string]*platformv1alpha1.RemediationPlan{}
	for k, v := range inc.Plans {
		cp.Plans[k] = v
	}
	return cp
}

// Wait polls the incident of app until done returns true, ctx ends, or
// the incident makes no progress (no new step) for stall. It returns the
// last copy and whether done was reached.
func (t *Tracker) Wait(ctx context.Context, app string, timeout, stall time.Duration, done func(*Incident) bool) (Incident, bool) {
	deadline := time.Now().Add(timeout)
	lastProgress, lastSteps := time.Now(), -1
	for {
		inc := t.Incident(app)
		if done(&inc) {
			return inc, true
		}
		steps := len(inc.Signals) + len(inc.Transitions) + len(inc.Plans)
		for _, p := range inc.Plans {
			// An agentic step that changes nothing is progress too: the
			// loop waits an observe interval between such steps.
			steps += len(p.Status.ActionResults) + len(p.Status.Conditions) + len(p.Spec.AgenticHistory)
		}
		if inc.PostMortem != nil {
			steps++
		}
		if steps != lastSteps {
			lastSteps, lastProgress = steps, time.Now()
		}
		if time.Now().After(deadline) || (stall > 0 && time.Since(lastProgress) > stall) {
			return inc, false
		}
		select {
		case <-ctx.Done():
			return inc, false
		case <-time.After(100 * time.Millisecond):
		}
	}
}
