package reconcile

import (
	"errors"

	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// TerminalError marks err as one that retrying cannot fix, such as an
// invalid spec: controller-runtime's reconcile.TerminalError is in its
// chain, so the controller logs it once and does not requeue. Unlike that
// error, its message is err's own, so it reads well in a condition. The
// object is reconciled again when it changes.
func TerminalError(err error) error {
	if err == nil {
		return nil
	}
	return &terminalError{err: err}
}

// IsTerminal reports whether err, or an error it wraps, is terminal (made
// by this package's TerminalError or by controller-runtime's).
func IsTerminal(err error) bool {
	return err != nil && errors.Is(err, crreconcile.TerminalError(nil))
}

type terminalError struct{ err error }

func (e *terminalError) Error() string { return e.err.Error() }

// Unwrap gives controller-runtime's terminal error, which wraps err, so
// both errors.Is(e, reconcile.TerminalError(nil)) and errors.Is(e, cause)
// hold.
func (e *terminalError) Unwrap() error { return crreconcile.TerminalError(e.err) }
