package app

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/actions/deploymenttest"
	"github.com/chatcli/aiops/libs/k8sctx"
	"github.com/chatcli/aiops/libs/scrub"
	"github.com/chatcli/aiops/libs/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

// TestAgenticObservationUnderTheRemediatorsRole builds what an agentic step
// sees of a Deployment as the remediator's ServiceAccount: the workload, its
// pods and their events, with nothing refused by RBAC and secrets scrubbed.
func TestAgenticObservationUnderTheRemediatorsRole(t *testing.T) {
	ctx := context.Background()
	ns := env.NewNamespace(t, "observe", nil)
	d := deploymenttest.New(ns, "checkout", 1)
	if err := env.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := deploymenttest.Rollout(ctx, env.Client, client.ObjectKeyFromObject(d), deploymenttest.Options{}); err != nil {
		t.Fatal(err)
	}
	event := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: ns, Name: "checkout.scaled"},
		InvolvedObject: corev1.ObjectReference{Kind: "Deployment", Namespace: ns, Name: "checkout", APIVersion: "apps/v1"},
		Reason:         "BackOff", Message: "back-off restarting; password=hunter2-very-secret", Type: corev1.EventTypeWarning,
		LastTimestamp: metav1.NewTime(time.Now()), Count: 1,
	}
	if err := env.Client.Create(ctx, event); err != nil {
		t.Fatal(err)
	}

	id := env.AsService(t, "remediator", env.NewNamespace(t, "platform", nil))
	logs, err := kubernetes.NewForConfig(id.Config)
	if err != nil {
		t.Fatal(err)
	}
	observe := agenticObservation(&k8sctx.Builder{Reader: id.Client, Live: id.Client, Logs: logs}, scrub.Default(), k8sctx.DefaultMaxBytes)
	got, err := observe(ctx, platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"checkout", "BackOff"} {
		if !strings.Contains(got, want) {
			t.Errorf("the observation does not mention %q:\n%s", want, got)
		}
	}
	for _, refused := range []string{"forbidden", "could not be read", "hunter2"} {
		if strings.Contains(got, refused) {
			t.Errorf("the observation contains %q:\n%s", refused, got)
		}
	}
}
