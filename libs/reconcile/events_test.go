package reconcile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/reconcile"
)

// drain returns the events a FakeRecorder holds, without waiting: Eventf
// writes to the channel before it returns.
func drain(r *events.FakeRecorder) []string {
	var got []string
	for {
		select {
		case e := <-r.Events:
			got = append(got, e)
		default:
			return got
		}
	}
}

func TestReconcileEventsOnlyOnChange(t *testing.T) {
	t.Parallel()
	issue := newIssue(t)
	recorder := events.NewFakeRecorder(16)
	// Passes in order; each lists the events it should emit.
	steps := []struct {
		reason string
		err    error
		want   []string
	}{
		{reason: "Analyzed appears True.", want: []string{"Normal InsightReady AIInsight is ready"}},
		{reason: "Nothing changed."},
		{reason: "Analyzed turns False.", err: errors.New("AI provider is unavailable"), want: []string{"Warning AnalysisFailed AI provider is unavailable"}},
		{reason: "A new message with the same status and reason is not news.", err: errors.New("AI provider timed out")},
		{reason: "A conflict changes nothing.", err: issueConflict()},
		{reason: "Analyzed turns True again.", want: []string{"Normal InsightReady AIInsight is ready"}},
	}
	for i, step := range steps {
		b := base(env.Client, mark(step.err))
		b.Recorder = recorder
		_, _ = pass(t, b, issue)
		if diff := cmp.Diff(step.want, drain(recorder), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("pass %d: %s\nevents (-want +got):\n%s", i+1, step.reason, diff)
		}
	}
	if got := stored(t, issue).Status.Conditions[0].Message; got != "AIInsight is ready" {
		t.Errorf("final message = %q; want the last pass stored", got)
	}
}

func TestReconcileEventsReachTheAPIServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clientset, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: clientset.EventsV1()})
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	defer broadcaster.Shutdown()

	issue := newIssue(t)
	b := base(env.Client, mark(reconcile.TerminalError(errors.New("spec.resource.kind CronJob is not supported"))))
	b.Recorder = broadcaster.NewRecorder(env.Scheme, "reconcile-test")
	if _, err := b.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(issue)}); !reconcile.IsTerminal(err) {
		t.Fatalf("Reconcile() error = %v; want a terminal error", err)
	}

	type event struct{ Type, Reason, Action, Note, Kind, Name string }
	g := NewWithT(t)
	g.Eventually(func(g Gomega) []event {
		var list eventsv1.EventList
		g.Expect(env.Client.List(ctx, &list, client.InNamespace(issue.Namespace))).To(Succeed())
		var got []event
		for _, e := range list.Items {
			got = append(got, event{e.Type, e.Reason, e.Action, e.Note, e.Regarding.Kind, e.Regarding.Name})
		}
		return got
	}).WithTimeout(20 * time.Second).Should(ConsistOf(event{
		Type: "Warning", Reason: "AnalysisFailed", Action: "Analyzed",
		Note: "spec.resource.kind CronJob is not supported", Kind: "Issue", Name: issue.Name,
	}))
}

func TestRecordConditionChanges(t *testing.T) {
	t.Parallel()
	ready := func(status metav1.ConditionStatus, reason, message string) metav1.Condition {
		return metav1.Condition{Type: "Ready", Status: status, Reason: reason, Message: message}
	}
	long := make([]byte, 2000)
	for i := range long {
		long[i] = 'x'
	}
	cases := map[string]struct {
		reason        string
		before, after []metav1.Condition
		want          []string
	}{
		"New":           {reason: "A new condition is a change.", after: []metav1.Condition{ready("True", "Generated", "Written")}, want: []string{"Normal Generated Written"}},
		"Same":          {reason: "An unchanged condition is not.", before: []metav1.Condition{ready("True", "Generated", "Written")}, after: []metav1.Condition{ready("True", "Generated", "Written")}},
		"MessageOnly":   {reason: "Nor is a new message alone.", before: []metav1.Condition{ready("False", "Failed", "a")}, after: []metav1.Condition{ready("False", "Failed", "b")}},
		"ReasonChanged": {reason: "A new reason is, even with the same status.", before: []metav1.Condition{ready("False", "Pending", "")}, after: []metav1.Condition{ready("False", "Failed", "b")}, want: []string{"Warning Failed b"}},
		"Unknown":       {reason: "Unknown is Normal: only False warns.", after: []metav1.Condition{ready("Unknown", "Progressing", "")}, want: []string{"Normal Progressing "}},
		"Removed":       {reason: "A removed condition says nothing.", before: []metav1.Condition{ready("True", "Generated", "")}},
		"Percent":       {reason: "A message is not a format.", after: []metav1.Condition{ready("True", "Generated", "100% done")}, want: []string{"Normal Generated 100% done"}},
		"LongNote":      {reason: "A note is cut to what an Event may hold.", after: []metav1.Condition{ready("True", "Generated", string(long))}, want: []string{"Normal Generated " + string(long[:1024])}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := events.NewFakeRecorder(8)
			reconcile.RecordConditionChanges(r, &platformv1alpha1.PostMortem{}, tc.before, tc.after)
			if diff := cmp.Diff(tc.want, drain(r), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\nevents (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}
