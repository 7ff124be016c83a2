// Package reconcile is the shape of one reconcile pass, written once for
// every platform controller (in the manner of Cluster API's util/patch and
// Flux's runtime/patch):
//
//  1. get the object, ignoring NotFound;
//  2. with a finalizer: add it and end the pass (the write itself brings the
//     next one), or, when the object is being deleted, run the delete phases
//     and then remove it;
//  3. snapshot the object;
//  4. run the phases, in order, until one returns an error or a Result;
//  5. send one merge patch of the status, only if the status changed, with
//     status.observedGeneration set when the pass is done (see Base).
//
// A phase changes only the status of the object it is given. The patch goes
// to the status subresource, so a change a phase makes in memory to spec or
// metadata is never written; a phase that must change them writes them
// itself.
//
// One writer per status: a JSON merge patch replaces lists whole, conditions
// included, so two controllers patching the status of one object would drop
// each other's entries. Each platform kind's status is owned by the single
// controller of that kind. A reconciler that cannot promise that sets
// Base.OptimisticLock, and a lost race becomes a quiet requeue.
//
// The package is named for the step it implements. Callers that also import
// controller-runtime's reconcile package need no alias for the common names:
// ctrl.Request and ctrl.Result come from sigs.k8s.io/controller-runtime.
package reconcile
