package detect

import (
	"slices"
	"strings"

	"github.com/chatcli/aiops/libs/signals"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// causes is the precedence table of FoldSymptoms: a finding of a signal
// type on the left explains the findings of the types on its right when
// both are about the same container in one evaluation. Earlier rows win: a
// container that was OOM-killed and now crash-loops with a burst of
// restarts gives one oom_kill finding with two pieces of evidence, not a
// crashloop_backoff with one.
//
//	cause              explains                                   why
//	oom_kill           crashloop_backoff, pod_restart, pod_not_ready   the kernel kills it, the kubelet restarts it, backs off, and it is out of rotation meanwhile
//	image_pull_error   pod_not_ready                              a container that never started is never ready
//	crashloop_backoff  pod_restart, pod_not_ready                 the restarts and the unreadiness are the crash loop
//
// A symptom without its cause (restarts without an OOM kill or a crash
// loop, a pod not ready whose containers all run) stays a finding of its
// own.
var causes = []struct {
	cause    platformv1alpha1.SignalType
	explains []platformv1alpha1.SignalType
}{
	{platformv1alpha1.SignalOOMKill, []platformv1alpha1.SignalType{
		platformv1alpha1.SignalCrashLoopBackOff, platformv1alpha1.SignalPodRestart, platformv1alpha1.SignalPodNotReady}},
	{platformv1alpha1.SignalImagePullError, []platformv1alpha1.SignalType{platformv1alpha1.SignalPodNotReady}},
	{platformv1alpha1.SignalCrashLoopBackOff, []platformv1alpha1.SignalType{
		platformv1alpha1.SignalPodRestart, platformv1alpha1.SignalPodNotReady}},
}

// FoldSymptoms returns findings with every symptom moved into the finding
// of its cause (see causes): the symptom leaves the list and becomes an
// entry of the cause's Evidence, and the cause's description names it.
// Findings without a container (node, workload and pod-wide findings) are
// never folded. The order of what remains is kept; findings is not
// modified.
func FoldSymptoms(findings []Finding) []Finding {
	if len(findings) < 2 {
		return findings
	}
	causeOf := make([]int, len(findings))
	folded := false
	for i, f := range findings {
		causeOf[i] = -1
		if f.Container == "" {
			continue
		}
	rows:
		for _, row := range causes {
			if !slices.Contains(row.explains, f.Type) {
				continue
			}
			for j, c := range findings {
				if j != i && c.Type == row.cause && c.Container == f.Container {
					causeOf[i] = j
					folded = true
					break rows
				}
			}
		}
	}
	if !folded {
		return findings
	}
	out := make([]Finding, 0, len(findings))
	at := map[int]int{}
	for i, f := range findings {
		if causeOf[i] < 0 {
			at[i] = len(out)
			out = append(out, f)
		}
	}
	for i, f := range findings {
		j := causeOf[i]
		if j < 0 {
			continue
		}
		// A cause is never folded itself: a cause that has one of its own
		// (a crash loop after an OOM kill) is there for the symptom too,
		// and its row comes first.
		cause := &out[at[j]]
		// Clipped, so that the caller's findings never share the array.
		cause.Evidence = append(slices.Clip(cause.Evidence), platformv1alpha1.AnomalyEvidence{
			SignalType: f.Type,
			Value:      f.Value,
			Message:    signals.Truncate(f.Description, platformv1alpha1.MaxEvidenceMessageLength),
		})
	}
	for i := range out {
		if len(out[i].Evidence) > 0 {
			out[i].Description = withSymptoms(out[i].Description, out[i].Evidence)
		}
	}
	return out
}

// withSymptoms appends the folded symptoms' types to a description.
func withSymptoms(description string, evidence []platformv1alpha1.AnomalyEvidence) string {
	types := make([]string, len(evidence))
	for i, e := range evidence {
		types[i] = string(e.SignalType)
	}
	suffix := "; symptoms folded in: " + strings.Join(types, ", ")
	return signals.Truncate(description, maxDescription-len(suffix)) + suffix
}
