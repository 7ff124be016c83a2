package chatcli

import (
	"strings"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// alertVocabulary is the ChatCLI watcher's names for signal types, in both
// directions: polling a ChatCLI server's GetAlerts reads them, and the
// watcher-bridge's own chatcli.v1 GetAlerts serves them. The first name of
// a signal type is the one served; later ones are other spellings ChatCLI
// servers send. kind is what a bare (kind-less) object name refers to.
var alertVocabulary = []struct {
	name   string
	signal platformv1alpha1.SignalType
	kind   string
}{
	{"HighRestartCount", platformv1alpha1.SignalPodRestart, "Pod"},
	{"OOMKilled", platformv1alpha1.SignalOOMKill, "Pod"},
	{"PodNotReady", platformv1alpha1.SignalPodNotReady, "Pod"},
	{"CrashLoopBackOff", platformv1alpha1.SignalCrashLoopBackOff, "Pod"},
	{"ImagePullBackOff", platformv1alpha1.SignalImagePullError, "Pod"},
	{"ErrImagePull", platformv1alpha1.SignalImagePullError, "Pod"},
	{"DeploymentFailing", platformv1alpha1.SignalDeployFailing, "Deployment"},
	{"JobFailed", platformv1alpha1.SignalJobFailed, "Job"},
	{"CronJobMissed", platformv1alpha1.SignalCronJobMissed, "CronJob"},
	{"NodeNotReady", platformv1alpha1.SignalNodeNotReady, "Node"},
	{"DiskPressure", platformv1alpha1.SignalDiskPressure, "Node"},
	{"NodeDiskPressure", platformv1alpha1.SignalDiskPressure, "Node"},
	{"PIDPressure", platformv1alpha1.SignalPIDPressure, "Node"},
	{"NodePIDPressure", platformv1alpha1.SignalPIDPressure, "Node"},
	{"NetworkUnavailable", platformv1alpha1.SignalNetworkUnavailable, "Node"},
	{"NodeNetworkUnavailable", platformv1alpha1.SignalNetworkUnavailable, "Node"},
	// Node memory pressure arrives as memory_high; memory_high of a pod
	// is not node pressure, so it is served under its own name.
	{"MemoryPressure", platformv1alpha1.SignalMemoryHigh, "Node"},
	{"NodeMemoryPressure", platformv1alpha1.SignalMemoryHigh, "Node"},
}

// readOnly are the signal types that are read under a ChatCLI name but
// never served under one.
var readOnly = map[platformv1alpha1.SignalType]bool{platformv1alpha1.SignalMemoryHigh: true}

// alertKind is what an alert type means: its signal type and the kind of
// object a bare object name refers to.
type alertKind struct {
	signal platformv1alpha1.SignalType
	kind   string
}

// alertKinds is keyed by the lower-cased alert type, so "OOMKilled" and
// "oomkilled" are the same alert; alertNames gives the served name.
var alertKinds, alertNames = func() (map[string]alertKind, map[platformv1alpha1.SignalType]string) {
	kinds := make(map[string]alertKind, len(alertVocabulary))
	names := make(map[platformv1alpha1.SignalType]string, len(alertVocabulary))
	for _, w := range alertVocabulary {
		kinds[strings.ToLower(w.name)] = alertKind{signal: w.signal, kind: w.kind}
		if _, seen := names[w.signal]; !seen && !readOnly[w.signal] {
			names[w.signal] = w.name
		}
	}
	return kinds, names
}()

// AlertType is the ChatCLI alert type a signal type is served as: the
// watcher's own name where it has one, else the signal type itself.
func AlertType(t platformv1alpha1.SignalType) string {
	if name, ok := alertNames[t]; ok {
		return name
	}
	return string(t)
}
