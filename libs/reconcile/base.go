package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// ConflictRequeueAfter is how long a pass that lost a write race waits
// before it runs again. A conflict means someone else just wrote, so the
// next pass reads fresh state; a short fixed wait is enough.
const ConflictRequeueAfter = time.Second

// Phase is one small step of a pass. It changes the status of obj, and
// returns an error to end the pass with a retry (wrap it in TerminalError
// when retrying cannot help), or a non-zero Result to end the pass and
// come back later (RequeueAfter, to poll). The phases after it run on the
// next pass.
type Phase[T client.Object] func(ctx context.Context, obj T) (ctrl.Result, error)

// Base runs one reconcile pass for the kind T. A Reconciler builds it once,
// in SetupWithManager, calls Validate, and calls Reconcile from its own
// Reconcile method. Concurrent passes on different objects are safe: the
// only state Base keeps between passes is, with OptimisticLock, the
// versions its own writes replaced (see Chain).
type Base[T client.Object] struct {
	// Client reads the object and writes its status and finalizers.
	Client client.Client
	// NewObject returns an empty object of the kind, for the get.
	NewObject func() T
	// Conditions points at the object's status.conditions, so that events
	// can tell which conditions changed.
	Conditions func(T) *[]metav1.Condition
	// ObservedGeneration points at the object's status.observedGeneration.
	ObservedGeneration func(T) *int64

	// Normal are the phases of a pass on a live object.
	Normal []Phase[T]
	// Finalizer, when set, is kept on every live object, and Delete runs
	// before it is removed. Use one only for state outside the object
	// (owner references clean up the rest). The pass that adds it ends
	// there, and the update event brings the next: adding a finalizer does
	// not bump the generation, so such a controller must not filter its
	// kind's events with GenerationChangedPredicate alone.
	Finalizer string
	// Delete are the phases of a pass on an object being deleted. The
	// finalizer is removed once they all return without an error or a
	// Result.
	Delete []Phase[T]

	// OptimisticLock makes the status patch fail with a conflict (a quiet
	// requeue) when the object changed since it was read (or since a phase
	// of the pass wrote it), for a status that has more than one writer or
	// a pass that must not build on a stale cache.
	OptimisticLock bool
	// Recorder, when set, gets one event per condition whose status or
	// reason a pass changed (see RecordConditionChanges).
	Recorder events.EventRecorder

	// replaced maps an object's key to the resourceVersion a pass of this
	// Base read and then wrote over (OptimisticLock only). An entry goes
	// at the next pass that reads another version or finds the object
	// gone, so there are never more than live objects.
	replaced sync.Map
}

// Validate reports a Base that cannot run; call it from SetupWithManager.
func (b *Base[T]) Validate() error {
	var errs []error
	if b.Client == nil {
		errs = append(errs, errors.New("reconcile: Base.Client is nil"))
	}
	if b.NewObject == nil {
		errs = append(errs, errors.New("reconcile: Base.NewObject is nil"))
	}
	if b.Conditions == nil {
		errs = append(errs, errors.New("reconcile: Base.Conditions is nil"))
	}
	if b.ObservedGeneration == nil {
		errs = append(errs, errors.New("reconcile: Base.ObservedGeneration is nil"))
	}
	if len(b.Delete) > 0 && b.Finalizer == "" {
		errs = append(errs, errors.New("reconcile: Base.Delete needs a Finalizer, or it never runs"))
	}
	return errors.Join(errs...)
}

// Reconcile runs one pass on the object req names.
//
// status.observedGeneration is set when the pass is done: every phase
// returned without an error, or one returned a TerminalError. A terminal
// pass is done too: the status then says what is wrong with this
// generation, no retry will come, and a reader waiting for the generation
// to be observed must not wait forever. A failed pass still writes the
// conditions its phases set, but leaves observedGeneration at the last
// generation it described.
//
// A conflict, from a phase or from a write here, ends the pass with a
// requeue and no error, so it is not logged as one.
func (b *Base[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return b.Chain(ctx, req, 1, nil)
}

// Chain runs up to limit passes on the object req names, back to back
// while again says the result of the last one asks for the next at once;
// it returns the result of the last pass. Each pass is a pass as
// Reconcile runs it, except that a pass after one that wrote the status
// starts from the object that write returned (the stored object), so it
// does not read it again. It spares a controller whose steps follow each
// other a trip through its work queue, and a read, per step.
//
// With OptimisticLock, a pass that reads (from a cache) the very version
// an earlier pass of this Base wrote over runs no phase: its write would
// lose to the lock, and the event of the earlier write, which the cache
// has not delivered yet, brings the next pass. The requeue is only the
// fallback.
func (b *Base[T]) Chain(ctx context.Context, req ctrl.Request, limit int, again func(ctrl.Result) bool) (ctrl.Result, error) {
	var obj T
	stored := false
	for i := 1; ; i++ {
		if !stored {
			obj = b.NewObject()
			if err := b.Client.Get(ctx, req.NamespacedName, obj); err != nil {
				if apierrors.IsNotFound(err) {
					b.replaced.Delete(req.NamespacedName)
					return ctrl.Result{}, nil
				}
				return ctrl.Result{}, fmt.Errorf("get %s: %w", req.NamespacedName, err)
			}
			if b.OptimisticLock {
				if rv, ok := b.replaced.Load(req.NamespacedName); ok {
					if rv == obj.GetResourceVersion() {
						logf.FromContext(ctx).V(1).Info("The cache is behind this controller's last write; waiting for it")
						return ctrl.Result{RequeueAfter: ConflictRequeueAfter}, nil
					}
					b.replaced.Delete(req.NamespacedName)
				}
			}
		}
		read := obj.GetResourceVersion()
		res, wrote, err := b.pass(ctx, obj)
		if b.OptimisticLock && obj.GetResourceVersion() != read {
			b.replaced.Store(req.NamespacedName, read)
		}
		if i >= limit || err != nil || again == nil || !again(res) {
			return res, err
		}
		stored = wrote
	}
}

// pass runs the phases on obj, as read, and writes what they changed. wrote
// says that obj is now the object the status write returned.
func (b *Base[T]) pass(ctx context.Context, obj T) (ctrl.Result, bool, error) {
	deleting := !obj.GetDeletionTimestamp().IsZero()
	phases := b.Normal
	switch {
	case deleting && (b.Finalizer == "" || !controllerutil.ContainsFinalizer(obj, b.Finalizer)):
		// Nothing of ours is left to clean up; others' finalizers hold it.
		return ctrl.Result{}, false, nil
	case deleting:
		phases = b.Delete
	case b.Finalizer != "" && !controllerutil.ContainsFinalizer(obj, b.Finalizer):
		// Persist the finalizer before any phase makes outside state. The
		// patch is an update event, which brings the next pass.
		res, err := quiet(ctx, ctrl.Result{}, b.patchFinalizers(ctx, obj, controllerutil.AddFinalizer))
		return res, false, err
	}

	before := obj.DeepCopyObject().(T)
	res, err := runPhases(ctx, obj, phases)
	done := err == nil || IsTerminal(err)
	wrote, patchErr := b.patchStatus(ctx, before, obj, done)
	if patchErr != nil {
		if apierrors.IsNotFound(patchErr) {
			return ctrl.Result{}, false, nil // deleted during the pass
		}
		if IsTerminal(err) {
			err = nil // retry: the condition saying why is not written yet
		}
		res, err := quiet(ctx, ctrl.Result{}, errors.Join(err, fmt.Errorf("patch status: %w", patchErr)))
		return res, false, err
	}
	// Only after the patch: an event must describe what was stored, or a
	// retried pass would announce the same change twice.
	if b.Recorder != nil {
		RecordConditionChanges(b.Recorder, obj, *b.Conditions(before), *b.Conditions(obj))
	}
	if deleting && err == nil && res.IsZero() {
		err = client.IgnoreNotFound(b.patchFinalizers(ctx, obj, controllerutil.RemoveFinalizer))
		wrote = false
	}
	res, err = quiet(ctx, res, err)
	return res, wrote, err
}

// runPhases runs phases in order until one returns an error or a Result.
func runPhases[T client.Object](ctx context.Context, obj T, phases []Phase[T]) (ctrl.Result, error) {
	for _, phase := range phases {
		res, err := phase(ctx, obj)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !res.IsZero() {
			return res, nil
		}
	}
	return ctrl.Result{}, nil
}

// patchStatus sends the change to the status since before, if there is one,
// as a merge patch of the status subresource. The patch holds the status
// only, so it shows what it writes.
func (b *Base[T]) patchStatus(ctx context.Context, before, obj T, done bool) (bool, error) {
	if done {
		*b.ObservedGeneration(obj) = obj.GetGeneration()
	}
	diff, err := client.MergeFrom(before).Data(obj)
	if err != nil {
		return false, fmt.Errorf("compute status patch: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(diff, &fields); err != nil {
		return false, fmt.Errorf("read status patch: %w", err)
	}
	status, changed := fields["status"]
	if !changed {
		return false, nil
	}
	patch := map[string]any{"status": status}
	if b.OptimisticLock {
		// obj's version, not before's: a phase that wrote the object's
		// metadata (under its own lock) built on the version it wrote.
		patch["metadata"] = map[string]string{"resourceVersion": obj.GetResourceVersion()}
	}
	data, err := json.Marshal(patch)
	if err != nil {
		return false, fmt.Errorf("encode status patch: %w", err)
	}
	if err := b.Client.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, data)); err != nil {
		return false, err
	}
	return true, nil
}

// patchFinalizers applies change to obj's finalizers and patches them. The
// lock is always on: a merge patch replaces the list whole, and without it
// a finalizer another controller added meanwhile would be dropped.
func (b *Base[T]) patchFinalizers(ctx context.Context, obj T, change func(client.Object, string) bool) error {
	before := obj.DeepCopyObject().(T)
	if !change(obj, b.Finalizer) {
		return nil
	}
	if err := b.Client.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("patch finalizers: %w", err)
	}
	return nil
}

// quiet turns a conflict into a requeue without an error: someone else
// wrote first, the next pass reads their write, and nothing is wrong.
func quiet(ctx context.Context, res ctrl.Result, err error) (ctrl.Result, error) {
	switch {
	case err == nil:
		return res, nil
	case apierrors.IsConflict(err):
		ctrl.LoggerFrom(ctx).V(1).Info("Requeued after a conflict", "error", err.Error())
		return ctrl.Result{RequeueAfter: ConflictRequeueAfter}, nil
	default:
		// controller-runtime ignores a Result returned with an error.
		return ctrl.Result{}, err
	}
}
