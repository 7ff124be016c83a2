package reconcile_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/reconcile"
)

// ignoreTime drops the one field of a condition a test cannot predict.
var ignoreTime = cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime")

func issueConflict() error {
	return apierrors.NewConflict(schema.GroupResource{Group: platformv1alpha1.GroupVersion.Group, Resource: "issues"}, "x", errors.New("the object has been modified"))
}

func TestReconcileIgnoresNotFound(t *testing.T) {
	t.Parallel()
	b := base(env.Client, func(context.Context, *platformv1alpha1.Issue) (ctrl.Result, error) {
		t.Error("a phase ran for an Issue that does not exist")
		return ctrl.Result{}, nil
	})
	ns := env.NewNamespace(t, "reconcile", nil)
	res, err := b.Reconcile(testContext(t), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "missing"}})
	if err != nil || !res.IsZero() {
		t.Errorf("Reconcile() = %+v, %v; want a zero Result and no error", res, err)
	}
}

// passWant is what one pass should leave: its return and the stored status.
type passWant struct {
	result             ctrl.Result
	err                bool
	terminal           bool
	observedGeneration bool
	conditions         []metav1.Condition
}

func TestReconcilePhases(t *testing.T) {
	t.Parallel()
	invalid := errors.New("spec.resource.kind CronJob is not supported")
	cases := map[string]struct {
		reason string
		phases []reconcile.Phase[*platformv1alpha1.Issue]
		want   passWant
	}{
		"Success": {
			reason: "A pass whose phases all succeed records this generation and its conditions.",
			phases: []reconcile.Phase[*platformv1alpha1.Issue]{mark(nil)},
			want: passWant{
				observedGeneration: true,
				conditions:         []metav1.Condition{{Type: "Analyzed", Status: metav1.ConditionTrue, Reason: "InsightReady", Message: "AIInsight is ready", ObservedGeneration: 1}},
			},
		},
		"TransientFailure": {
			reason: "A failing phase writes its condition but leaves observedGeneration, and the error is retried.",
			phases: []reconcile.Phase[*platformv1alpha1.Issue]{mark(errors.New("AI provider is unavailable"))},
			want: passWant{
				err:        true,
				conditions: []metav1.Condition{{Type: "Analyzed", Status: metav1.ConditionFalse, Reason: "AnalysisFailed", Message: "AI provider is unavailable", ObservedGeneration: 1}},
			},
		},
		"TerminalError": {
			reason: "An invalid spec is terminal, shows in the condition without a prefix, and counts as observed.",
			phases: []reconcile.Phase[*platformv1alpha1.Issue]{mark(reconcile.TerminalError(invalid))},
			want: passWant{
				err:                true,
				terminal:           true,
				observedGeneration: true,
				conditions:         []metav1.Condition{{Type: "Analyzed", Status: metav1.ConditionFalse, Reason: "AnalysisFailed", Message: invalid.Error(), ObservedGeneration: 1}},
			},
		},
		"Poll": {
			reason: "A phase that returns a Result ends the pass; the phases after it wait for the next.",
			phases: []reconcile.Phase[*platformv1alpha1.Issue]{
				func(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
					_, _ = mark(nil)(ctx, issue)
					return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
				},
				func(_ context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
					reconcile.SetCondition(issue, &issue.Status.Conditions, platformv1alpha1.IssueRemediatedCondition, metav1.ConditionTrue, platformv1alpha1.IssuePlanCompletedReason, "")
					return ctrl.Result{}, nil
				},
			},
			want: passWant{
				result:             ctrl.Result{RequeueAfter: 30 * time.Second},
				observedGeneration: true,
				conditions:         []metav1.Condition{{Type: "Analyzed", Status: metav1.ConditionTrue, Reason: "InsightReady", Message: "AIInsight is ready", ObservedGeneration: 1}},
			},
		},
		"ConflictFromAPhase": {
			reason: "A conflict from a phase is a quiet requeue, and is never written into a condition.",
			phases: []reconcile.Phase[*platformv1alpha1.Issue]{mark(issueConflict())},
			want: passWant{
				result: ctrl.Result{RequeueAfter: reconcile.ConflictRequeueAfter},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			issue := newIssue(t)
			res, err := pass(t, base(env.Client, tc.phases...), issue)

			if diff := cmp.Diff(tc.want.result, res); diff != "" {
				t.Errorf("%s\nReconcile() Result (-want +got):\n%s", tc.reason, diff)
			}
			if (err != nil) != tc.want.err || reconcile.IsTerminal(err) != tc.want.terminal {
				t.Errorf("%s\nReconcile() error = %v; want an error: %t, terminal: %t", tc.reason, err, tc.want.err, tc.want.terminal)
			}
			got := stored(t, issue)
			var wantGeneration int64
			if tc.want.observedGeneration {
				wantGeneration = got.Generation
			}
			if got.Status.ObservedGeneration != wantGeneration {
				t.Errorf("%s\nstatus.observedGeneration = %d; want %d", tc.reason, got.Status.ObservedGeneration, wantGeneration)
			}
			if diff := cmp.Diff(tc.want.conditions, got.Status.Conditions, ignoreTime, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\nstatus.conditions (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestReconcileNoOpPassSendsNothing(t *testing.T) {
	t.Parallel()
	issue := newIssue(t)
	c := newWriteCounter(t)
	b := base(c, mark(nil))

	if _, err := pass(t, b, issue); err != nil {
		t.Fatalf("first pass: %v", err)
	}
	first := stored(t, issue)
	if n := c.writes.Load(); n != 1 {
		t.Errorf("first pass sent %d writes; want 1 status patch", n)
	}
	if first.ResourceVersion == issue.ResourceVersion {
		t.Errorf("first pass left resourceVersion at %s; want the status written", first.ResourceVersion)
	}

	if _, err := pass(t, b, issue); err != nil {
		t.Fatalf("second pass: %v", err)
	}
	// resourceVersion alone cannot tell: the API server also keeps it for
	// a patch that changes nothing. The count says nothing was sent.
	if n := c.writes.Load(); n != 1 {
		t.Errorf("second pass sent %d more writes; want none", n-1)
	}
	if rv := stored(t, issue).ResourceVersion; rv != first.ResourceVersion {
		t.Errorf("second pass moved resourceVersion from %s to %s; want it unchanged", first.ResourceVersion, rv)
	}
}

func TestReconcileWritesOnlyStatus(t *testing.T) {
	t.Parallel()
	issue := newIssue(t)
	b := base(env.Client, func(ctx context.Context, issue *platformv1alpha1.Issue) (ctrl.Result, error) {
		issue.Labels = map[string]string{"platform.chatcli.io/touched": "true"}
		issue.Spec.Description = "changed in memory"
		return mark(nil)(ctx, issue)
	})
	if _, err := pass(t, b, issue); err != nil {
		t.Fatal(err)
	}
	got := stored(t, issue)
	if got.Labels["platform.chatcli.io/touched"] != "" || got.Spec.Description != issue.Spec.Description {
		t.Errorf("the status patch wrote labels %v and description %q; want neither changed", got.Labels, got.Spec.Description)
	}
	if len(got.Status.Conditions) != 1 {
		t.Errorf("status.conditions = %v; want the Analyzed condition written", got.Status.Conditions)
	}
}

// conflictWant is what a pass that lost a race should return and store.
type conflictWant struct {
	result  ctrl.Result
	written bool
}

func TestReconcileConflictOnStatusPatch(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		reason string
		lock   bool
		want   conflictWant
	}{
		"OptimisticLock": {
			reason: "With the lock, a write between get and patch is a conflict: a quiet requeue, nothing written.",
			lock:   true,
			want:   conflictWant{result: ctrl.Result{RequeueAfter: reconcile.ConflictRequeueAfter}},
		},
		"NoLock": {
			reason: "Without the lock, the one writer of the status wins.",
			want:   conflictWant{written: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			issue := newIssue(t)
			b := base(env.Client, func(ctx context.Context, obj *platformv1alpha1.Issue) (ctrl.Result, error) {
				// Someone else writes the object while the pass runs.
				other := obj.DeepCopy()
				other.Labels = map[string]string{"team": "payments"}
				if err := env.Client.Patch(ctx, other, client.MergeFrom(obj)); err != nil {
					return ctrl.Result{}, err
				}
				return mark(nil)(ctx, obj)
			})
			b.OptimisticLock = tc.lock

			res, err := pass(t, b, issue)
			if err != nil {
				t.Fatalf("%s\nReconcile() error = %v; want none", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want.result, res); diff != "" {
				t.Errorf("%s\nReconcile() Result (-want +got):\n%s", tc.reason, diff)
			}
			got := stored(t, issue)
			if written := len(got.Status.Conditions) > 0; written != tc.want.written {
				t.Errorf("%s\nstatus written: %t; want %t", tc.reason, written, tc.want.written)
			}
			if got.Labels["team"] != "payments" {
				t.Errorf("%s\nthe other writer's label is gone: %v", tc.reason, got.Labels)
			}

			// The requeued pass reads the other write and succeeds.
			if _, err := pass(t, base(env.Client, mark(nil)), issue); err != nil {
				t.Fatal(err)
			}
			if got := stored(t, issue); len(got.Status.Conditions) != 1 || got.Status.ObservedGeneration != got.Generation {
				t.Errorf("%s\nafter the next pass, status = %+v; want it written", tc.reason, got.Status)
			}
		})
	}
}

func TestReconcileFinalizer(t *testing.T) {
	t.Parallel()
	const finalizer = "platform.chatcli.io/reconcile-test"
	cleanedUp := reconcile.Outcome{Type: "CleanedUp", SuccessReason: "Removed", FailureReason: "CleanupFailed"}
	issue := newIssue(t)
	var cleanupErr error
	normalRuns, deleteRuns := 0, 0
	b := base(env.Client, func(ctx context.Context, obj *platformv1alpha1.Issue) (ctrl.Result, error) {
		normalRuns++
		return mark(nil)(ctx, obj)
	})
	b.Finalizer = finalizer
	b.Delete = []reconcile.Phase[*platformv1alpha1.Issue]{func(_ context.Context, obj *platformv1alpha1.Issue) (ctrl.Result, error) {
		deleteRuns++
		cleanedUp.Mark(obj, &obj.Status.Conditions, cleanupErr)
		return ctrl.Result{}, cleanupErr
	}}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}

	// First pass: the finalizer alone.
	if _, err := pass(t, b, issue); err != nil {
		t.Fatal(err)
	}
	got := stored(t, issue)
	if !controllerutil.ContainsFinalizer(got, finalizer) || normalRuns != 0 || len(got.Status.Conditions) != 0 {
		t.Fatalf("after the first pass: finalizers %v, %d phase runs, conditions %v; want the finalizer and nothing else", got.Finalizers, normalRuns, got.Status.Conditions)
	}

	// Second pass: the phases.
	if _, err := pass(t, b, issue); err != nil {
		t.Fatal(err)
	}
	if normalRuns != 1 || deleteRuns != 0 {
		t.Fatalf("after the second pass: %d normal and %d delete runs; want 1 and 0", normalRuns, deleteRuns)
	}

	if err := env.Client.Delete(testContext(t), issue); err != nil {
		t.Fatal(err)
	}

	// A failing cleanup keeps the finalizer and says why.
	cleanupErr = errors.New("the external ticket could not be closed")
	if _, err := pass(t, b, issue); err == nil {
		t.Fatal("Reconcile() with a failing cleanup returned no error")
	}
	got = stored(t, issue)
	if !controllerutil.ContainsFinalizer(got, finalizer) {
		t.Errorf("a failed cleanup removed the finalizer")
	}
	if c := got.Status.Conditions; len(c) != 2 || c[1].Type != "CleanedUp" || c[1].Message != cleanupErr.Error() {
		t.Errorf("after a failed cleanup, conditions = %v; want CleanedUp False with the cause", c)
	}

	// A successful cleanup removes the finalizer, and the Issue is gone.
	cleanupErr = nil
	if _, err := pass(t, b, issue); err != nil {
		t.Fatal(err)
	}
	err := env.Client.Get(testContext(t), client.ObjectKeyFromObject(issue), &platformv1alpha1.Issue{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("after the cleanup, get Issue: %v; want NotFound", err)
	}
	if normalRuns != 1 || deleteRuns != 2 {
		t.Errorf("%d normal and %d delete runs; want 1 and 2", normalRuns, deleteRuns)
	}
}

func TestReconcileLeavesOthersDeletionAlone(t *testing.T) {
	t.Parallel()
	const other = "example.com/other"
	issue := newIssue(t)
	controllerutil.AddFinalizer(issue, other)
	if err := env.Client.Update(testContext(t), issue); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(testContext(t), issue); err != nil {
		t.Fatal(err)
	}
	b := base(env.Client, func(context.Context, *platformv1alpha1.Issue) (ctrl.Result, error) {
		t.Error("a phase ran on an Issue being deleted, without our finalizer")
		return ctrl.Result{}, nil
	})
	if res, err := pass(t, b, issue); err != nil || !res.IsZero() {
		t.Errorf("Reconcile() = %+v, %v; want a zero Result and no error", res, err)
	}
	got := stored(t, issue)
	controllerutil.RemoveFinalizer(got, other)
	if err := env.Client.Update(testContext(t), got); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		reason string
		change func(*reconcile.Base[*platformv1alpha1.Issue])
		want   bool
	}{
		"Complete":          {reason: "A Base with every field it needs is valid.", change: func(*reconcile.Base[*platformv1alpha1.Issue]) {}},
		"NoClient":          {reason: "A Base needs a client.", change: func(b *reconcile.Base[*platformv1alpha1.Issue]) { b.Client = nil }, want: true},
		"NoAccessors":       {reason: "A Base needs the status accessors.", change: func(b *reconcile.Base[*platformv1alpha1.Issue]) { b.Conditions, b.ObservedGeneration = nil, nil }, want: true},
		"DeleteNoFinalizer": {reason: "Delete phases without a finalizer would never run.", change: func(b *reconcile.Base[*platformv1alpha1.Issue]) { b.Delete = b.Normal }, want: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := base(env.Client, mark(nil))
			tc.change(b)
			if err := b.Validate(); (err != nil) != tc.want {
				t.Errorf("%s\nValidate() = %v; want an error: %t", tc.reason, err, tc.want)
			}
		})
	}
}

func TestReconcileObservedGenerationOnlyOnSuccess(t *testing.T) {
	t.Parallel()
	issue := newIssue(t)
	if _, err := pass(t, base(env.Client, mark(nil)), issue); err != nil {
		t.Fatal(err)
	}
	// A new generation, whose first pass fails.
	changed := stored(t, issue)
	changed.Spec.Description = "Correlated incident: pod_restart on api-gateway, again"
	if err := env.Client.Update(testContext(t), changed); err != nil {
		t.Fatal(err)
	}
	if _, err := pass(t, base(env.Client, mark(errors.New("AI provider is unavailable"))), issue); err == nil {
		t.Fatal("Reconcile() with a failing phase returned no error")
	}
	got := stored(t, issue)
	want := platformv1alpha1.IssueStatus{
		ObservedGeneration: 1,
		Conditions:         []metav1.Condition{{Type: "Analyzed", Status: metav1.ConditionFalse, Reason: "AnalysisFailed", Message: "AI provider is unavailable", ObservedGeneration: 2}},
	}
	if diff := cmp.Diff(want, got.Status, ignoreTime, cmpopts.IgnoreFields(platformv1alpha1.IssueStatus{}, "MaxRemediationAttempts")); diff != "" {
		t.Errorf("after a failed pass on generation %d, status (-want +got):\n%s", got.Generation, diff)
	}
}

func TestChainRunsPassesBackToBack(t *testing.T) {
	t.Parallel()
	again := ctrl.Result{RequeueAfter: time.Millisecond}
	// Each pass takes one step on what the previous one stored, and asks
	// for the next until the third.
	step := func(_ context.Context, i *platformv1alpha1.Issue) (ctrl.Result, error) {
		i.Status.MaxRemediationAttempts++
		if i.Status.MaxRemediationAttempts < 3 {
			return again, nil
		}
		return ctrl.Result{}, nil
	}
	cases := map[string]struct {
		reason     string
		limit      int
		wantSteps  int32
		wantResult ctrl.Result
	}{
		"to the end": {reason: "passes follow each other while the result asks for the next", limit: 10, wantSteps: 3},
		"limited":    {reason: "the limit ends the chain with the last pass's result", limit: 2, wantSteps: 2, wantResult: again},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			issue := newIssue(t)
			b := base(env.Client, step)
			res, err := b.Chain(testContext(t), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(issue)}, tc.limit,
				func(r ctrl.Result) bool { return r == again })
			if err != nil {
				t.Fatalf("%s: Chain: %v", tc.reason, err)
			}
			if res != tc.wantResult {
				t.Errorf("%s: result %+v, want %+v", tc.reason, res, tc.wantResult)
			}
			if got := stored(t, issue).Status.MaxRemediationAttempts; got != tc.wantSteps {
				t.Errorf("%s: stored %d steps, want %d", tc.reason, got, tc.wantSteps)
			}
		})
	}
}

// laggingCache answers Get with the copy it holds, as a cache that has not
// delivered the latest write yet does, and passes every other call on.
type laggingCache struct {
	client.Client
	mu   sync.Mutex
	held *platformv1alpha1.Issue
}

func (c *laggingCache) hold(issue *platformv1alpha1.Issue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = issue
}

func (c *laggingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.mu.Lock()
	held := c.held
	c.mu.Unlock()
	if out, ok := obj.(*platformv1alpha1.Issue); ok && held != nil {
		held.DeepCopyInto(out)
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func TestAPassOnACacheBehindItsOwnWriteWaits(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		reason     string
		lock       bool
		wantResult ctrl.Result
		wantPhases int
	}{
		"OptimisticLock": {
			reason:     "the version its own write replaced is stale for sure: no phase runs, and the write's event (or the fallback requeue) brings the next pass",
			lock:       true,
			wantResult: ctrl.Result{RequeueAfter: reconcile.ConflictRequeueAfter},
			wantPhases: 1,
		},
		"NoLock": {
			reason:     "without the lock a pass builds on what it reads, as before",
			wantPhases: 2,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			issue := newIssue(t)
			before := stored(t, issue)
			cache := &laggingCache{Client: env.Client}
			phases := 0
			b := base(cache, func(ctx context.Context, i *platformv1alpha1.Issue) (ctrl.Result, error) {
				phases++
				return mark(nil)(ctx, i)
			})
			b.OptimisticLock = tc.lock
			if _, err := pass(t, b, issue); err != nil {
				t.Fatal(err)
			}
			if len(stored(t, issue).Status.Conditions) != 1 {
				t.Fatal("the first pass did not write its condition")
			}

			cache.hold(before)
			res, err := pass(t, b, issue)
			if err != nil {
				t.Fatalf("%s: pass on the lagging cache: %v", tc.reason, err)
			}
			if res != tc.wantResult || phases != tc.wantPhases {
				t.Errorf("%s: result %+v after %d phase runs; want %+v after %d", tc.reason, res, phases, tc.wantResult, tc.wantPhases)
			}

			// Once the cache has the write, passes run again.
			cache.hold(nil)
			if _, err := pass(t, b, issue); err != nil {
				t.Fatal(err)
			}
			if phases != tc.wantPhases+1 {
				t.Errorf("%s: %d phase runs once the cache caught up, want %d", tc.reason, phases, tc.wantPhases+1)
			}
		})
	}
}
