package bootstrap_test

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/libs/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

// TestHandlerClientNeverWritesStatus checks the one-writer rule against the
// real API server: a handler may create and annotate an Issue, but every
// way of writing its status is refused and the stored status is untouched.
func TestHandlerClientNeverWritesStatus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := env.NewNamespace(t, "handler-client", nil)
	handler := bootstrap.NoStatusWrites(env.Client)

	issue := &platformv1alpha1.Issue{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-oom"},
		Spec: platformv1alpha1.IssueSpec{
			Severity: platformv1alpha1.SeverityHigh, Source: platformv1alpha1.SourceWatcher, SignalType: platformv1alpha1.SignalOOMKill,
			Resource: platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: ns, Name: "checkout"},
		},
	}
	if err := handler.Create(ctx, issue); err != nil {
		t.Fatalf("create through the handler client: %v", err)
	}
	before := issue.DeepCopy()
	issue.Annotations = map[string]string{"platform.chatcli.io/acknowledged-by": "sre@example.com"}
	if err := handler.Patch(ctx, issue, client.MergeFrom(before)); err != nil {
		t.Fatalf("annotate through the handler client: %v", err)
	}

	writes := map[string]func(*platformv1alpha1.Issue) error{
		"StatusUpdate": func(o *platformv1alpha1.Issue) error { return handler.Status().Update(ctx, o) },
		"StatusPatch": func(o *platformv1alpha1.Issue) error {
			return handler.Status().Patch(ctx, o, client.Merge)
		},
		"SubResourceUpdate": func(o *platformv1alpha1.Issue) error { return handler.SubResource("status").Update(ctx, o) },
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			o := issue.DeepCopy()
			o.Status.State = platformv1alpha1.IssueResolved
			if err := write(o); !errors.Is(err, bootstrap.ErrStatusWriteFromHandler) {
				t.Fatalf("status write: got %v, want ErrStatusWriteFromHandler", err)
			}
			stored := &platformv1alpha1.Issue{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(issue), stored); err != nil {
				t.Fatal(err)
			}
			if stored.Status.State != "" {
				t.Fatalf("stored state %q: the write reached the API server", stored.Status.State)
			}
		})
	}
}
