package actions

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// AnnotationFence on a target holds the highest lock fence that wrote to
// it. A writer whose fence is lower holds a lock that has since passed to
// someone else, and is refused.
const AnnotationFence = "platform.chatcli.io/remediation-fence"

// ErrStaleFence means the target was written under a newer lock.
var ErrStaleFence = errors.New("a newer lock holder has written the target")

// ErrTargetReplaced means the live object's uid is not the target's.
var ErrTargetReplaced = errors.New("the target was recreated with another uid")

// ErrTargetMissing means the target does not exist.
var ErrTargetMissing = errors.New("the target does not exist")

// ErrNotImplemented means the executor cannot run the action.
var ErrNotImplemented = errors.New("action not implemented")

// Request is one action on one resolved target.
type Request struct {
	// Target is the object the plan resolved, with its uid.
	Target platformv1alpha1.ResourceReference
	// Action to run.
	Action platformv1alpha1.RemediationAction
	// Key names this run of the action (the plan's uid and the action's
	// index), so that running it again after a crash does the same thing
	// and not a second thing.
	Key string
	// Fence is the fencing token of the lock on the target; 0 skips the
	// fence check (dry-run only).
	Fence int64
	// DryRun sends every write as a server-side dry-run.
	DryRun bool
	// Plan is the uid of the plan the action belongs to, empty outside a
	// plan: a Job a RetryJob of this plan recreated stands for the target
	// (StandsFor).
	Plan types.UID
}

// Outcome is what an action or a restore did.
type Outcome struct {
	// Message for the plan's status.
	Message string
	// Changed names the objects written, as Kind/namespace/name.
	Changed []string
	// Before and After are the YAML of the changed object, for a dry-run
	// diff; empty when the action deletes or changes nothing.
	Before, After string
	// NotUndone, on a restore, says the action cannot be undone (a Job
	// that ran cannot be un-run): nothing was written, and Message says
	// what stays.
	NotUndone bool
}

// Executor runs actions. Snapshot saves what an action changes before it
// runs, Apply runs it (given its snapshot, which also carries choices made
// at snapshot time, such as the pod to delete) and Restore undoes it from
// the snapshot. All three are idempotent for one Request.Key.
type Executor interface {
	Snapshot(ctx context.Context, req Request) (string, error)
	Apply(ctx context.Context, req Request, snapshot string) (Outcome, error)
	Restore(ctx context.Context, req Request, snapshot string) (Outcome, error)
}

// maxSnapshot is the size of ActionResult.snapshot.
const maxSnapshot = 16384

// gzipPrefix marks a compressed snapshot.
const gzipPrefix = "gz:"

// encodeSnapshot returns v as JSON, compressed when it would not fit.
func encodeSnapshot(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode snapshot: %w", err)
	}
	if len(raw) <= maxSnapshot {
		return string(raw), nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return "", fmt.Errorf("compress snapshot: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("compress snapshot: %w", err)
	}
	s := gzipPrefix + base64.StdEncoding.EncodeToString(buf.Bytes())
	if len(s) > maxSnapshot {
		// No snapshot, no action: it could not be undone.
		return "", fmt.Errorf("snapshot of %d bytes does not fit in %d even compressed", len(raw), maxSnapshot)
	}
	return s, nil
}

func decodeSnapshot(s string, v any) error {
	raw := []byte(s)
	if rest, ok := strings.CutPrefix(s, gzipPrefix); ok {
		zipped, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return fmt.Errorf("decode snapshot: %w", err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(zipped))
		if err != nil {
			return fmt.Errorf("decompress snapshot: %w", err)
		}
		if raw, err = io.ReadAll(io.LimitReader(zr, 1<<20)); err != nil {
			return fmt.Errorf("decompress snapshot: %w", err)
		}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode snapshot: %w", err)
	}
	return nil
}

// checkFence refuses a write under a lock older than the one that last
// wrote annotations' owner, and records fence as the newest.
func checkFence(annotations map[string]string, fence int64) (map[string]string, error) {
	if fence == 0 {
		return annotations, nil
	}
	if prev, ok := annotations[AnnotationFence]; ok {
		n, err := strconv.ParseInt(prev, 10, 64)
		if err == nil && n > fence {
			return nil, fmt.Errorf("%w (fence %d, ours %d)", ErrStaleFence, n, fence)
		}
	}
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationFence] = strconv.FormatInt(fence, 10)
	return annotations, nil
}
