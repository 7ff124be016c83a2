package reconcile

import (
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxConditionMessage is the longest message metav1.Condition allows; a
// longer one would make the API server refuse the whole status patch.
const maxConditionMessage = 32768

// SetCondition sets the condition typ on conds with meta.SetStatusCondition,
// stamped with obj's generation so that a reader can tell a condition about
// an older spec from a fresh one. The transition time moves only when the
// status does. It reports whether anything changed.
func SetCondition(obj metav1.Object, conds *[]metav1.Condition, typ string, status metav1.ConditionStatus, reason, message string) bool {
	return meta.SetStatusCondition(conds, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            truncate(message, maxConditionMessage),
		ObservedGeneration: obj.GetGeneration(),
	})
}

// Outcome is the condition one step reports on, with the reasons for each
// result. Declare one per step next to the phase, from the constants in
// api/platform/v1alpha1.
type Outcome struct {
	// Type is the condition type, positive (True is good).
	Type string
	// SuccessReason and SuccessMessage are set when the step succeeded.
	SuccessReason  string
	SuccessMessage string
	// FailureReason is set, with the error's message, when it failed.
	FailureReason string
}

// Mark sets the condition from the step's error: True with the success
// reason when err is nil, False with the failure reason and err's message
// otherwise. A conflict leaves the condition as it was: the pass is retried
// at once, and a conflict means nothing to the people who read conditions.
func (o Outcome) Mark(obj metav1.Object, conds *[]metav1.Condition, err error) bool {
	switch {
	case err == nil:
		return SetCondition(obj, conds, o.Type, metav1.ConditionTrue, o.SuccessReason, o.SuccessMessage)
	case apierrors.IsConflict(err):
		return false
	default:
		return SetCondition(obj, conds, o.Type, metav1.ConditionFalse, o.FailureReason, err.Error())
	}
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
