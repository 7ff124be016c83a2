package reconcile

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// maxEventNote is the longest note an events.k8s.io/v1 Event may carry.
const maxEventNote = 1024

// RecordConditionChanges emits one event for each condition in after that
// is new or whose status or reason differs from before, so the event stream
// shows transitions and never repeats itself pass after pass. A message-only
// change is not news. The event's reason is the condition's (CamelCase, from
// api/), its action the condition type, its note the message; a False
// condition is a Warning, since condition types are positive.
func RecordConditionChanges(r events.EventRecorder, obj runtime.Object, before, after []metav1.Condition) {
	for _, c := range after {
		if old := meta.FindStatusCondition(before, c.Type); old != nil && old.Status == c.Status && old.Reason == c.Reason {
			continue
		}
		eventType := corev1.EventTypeNormal
		if c.Status == metav1.ConditionFalse {
			eventType = corev1.EventTypeWarning
		}
		r.Eventf(obj, nil, eventType, c.Reason, c.Type, "%s", truncate(c.Message, maxEventNote))
	}
}
