package reconcile_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/reconcile"
	"github.com/chatcli/aiops/libs/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{WithoutRedis: true}) }

// seedIssue is the Issue example the API ships with.
const seedIssue = "../../api/platform/v1alpha1/testdata/seed/issue-api-gateway-pod-restart-1771276354.yaml"

// analyzed is the outcome the tests' phases report, as a correlator would.
var analyzed = reconcile.Outcome{
	Type:           platformv1alpha1.IssueAnalyzedCondition,
	SuccessReason:  platformv1alpha1.IssueInsightReadyReason,
	SuccessMessage: "AIInsight is ready",
	FailureReason:  platformv1alpha1.IssueAnalysisFailedReason,
}

// newIssue creates the seed Issue, under a generated name in a namespace of
// the test's own, and returns it as stored.
func newIssue(t *testing.T) *platformv1alpha1.Issue {
	t.Helper()
	data, err := os.ReadFile(seedIssue)
	if err != nil {
		t.Fatal(err)
	}
	issue := &platformv1alpha1.Issue{}
	if err := yaml.UnmarshalStrict(data, issue); err != nil {
		t.Fatalf("decode %s: %v", seedIssue, err)
	}
	issue.Namespace = env.NewNamespace(t, "reconcile", nil)
	issue.Name, issue.GenerateName = "", "issue-"
	issue.Status = platformv1alpha1.IssueStatus{}
	if err := env.Client.Create(testContext(t), issue); err != nil {
		t.Fatalf("create Issue: %v", err)
	}
	return issue
}

// base is a Base for Issues with the given phases, on c.
func base(c client.Client, phases ...reconcile.Phase[*platformv1alpha1.Issue]) *reconcile.Base[*platformv1alpha1.Issue] {
	return &reconcile.Base[*platformv1alpha1.Issue]{
		Client:             c,
		NewObject:          func() *platformv1alpha1.Issue { return &platformv1alpha1.Issue{} },
		Conditions:         func(i *platformv1alpha1.Issue) *[]metav1.Condition { return &i.Status.Conditions },
		ObservedGeneration: func(i *platformv1alpha1.Issue) *int64 { return &i.Status.ObservedGeneration },
		Normal:             phases,
	}
}

// pass runs one reconcile pass on obj.
func pass(t *testing.T, b *reconcile.Base[*platformv1alpha1.Issue], obj client.Object) (ctrl.Result, error) {
	t.Helper()
	return b.Reconcile(testContext(t), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
}

// stored reads obj's current state from the API server.
func stored(t *testing.T, obj *platformv1alpha1.Issue) *platformv1alpha1.Issue {
	t.Helper()
	got := &platformv1alpha1.Issue{}
	if err := env.Client.Get(testContext(t), client.ObjectKeyFromObject(obj), got); err != nil {
		t.Fatalf("get Issue: %v", err)
	}
	return got
}

// mark is a phase that reports err as the analyzed outcome and returns it.
func mark(err error) reconcile.Phase[*platformv1alpha1.Issue] {
	return func(_ context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
		analyzed.Mark(issue, &issue.Status.Conditions, err)
		return ctrl.Result{}, err
	}
}

// writeCounter is an admin client that counts the writes sent through it.
type writeCounter struct {
	client.Client
	writes atomic.Int64
}

func newWriteCounter(t *testing.T) *writeCounter {
	t.Helper()
	inner, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	w := &writeCounter{}
	w.Client = interceptor.NewClient(inner, interceptor.Funcs{
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			w.writes.Add(1)
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			w.writes.Add(1)
			return c.Patch(ctx, obj, patch, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			w.writes.Add(1)
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			w.writes.Add(1)
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	})
	return w
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
