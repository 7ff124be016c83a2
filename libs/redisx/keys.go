package redisx

import (
	"errors"
	"fmt"
	"strings"
	"time"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
)

// Prefix starts every key this package writes.
const Prefix = "aiops:"

// validateResource rejects resources that would make ambiguous keys.
func validateResource(r platformv1alpha1.ResourceReference) error {
	if r.Kind == "" || r.Name == "" {
		return fmt.Errorf("resource %q: kind and name are required", r.String())
	}
	for _, part := range []string{r.Kind, r.Namespace, r.Name} {
		if strings.ContainsAny(part, "/ \t\r\n") {
			return fmt.Errorf("resource %q: parts must not contain '/' or whitespace", r.String())
		}
	}
	return nil
}

// DedupKey is aiops:dedup:<hash>.
func DedupKey(hash string) string { return Prefix + "dedup:" + hash }

// DedupIndexKey is aiops:dedup:res:<kind>/<ns>/<name>.
func DedupIndexKey(r platformv1alpha1.ResourceReference) string {
	return Prefix + "dedup:res:" + r.String()
}

// LockKey is aiops:lock:<purpose>:<kind>/<ns>/<name>.
func LockKey(purpose string, r platformv1alpha1.ResourceReference) string {
	return Prefix + "lock:" + purpose + ":" + r.String()
}

// FenceKey is aiops:fence:<purpose>:<kind>/<ns>/<name>, the fencing counter
// of the lock LockKey(purpose, r).
func FenceKey(purpose string, r platformv1alpha1.ResourceReference) string {
	return Prefix + "fence:" + purpose + ":" + r.String()
}

// SequenceKey is aiops:seq:<name>:<yyyymmdd>, with the day taken in UTC so
// that every replica agrees on it whatever its time zone.
func SequenceKey(name string, day time.Time) string {
	return Prefix + "seq:" + name + ":" + day.UTC().Format("20060102")
}

// BudgetKey is aiops:budget:<scope>:<window-start>, the window start being
// formatted as 20060102T150405Z so that keys sort and read as times.
func BudgetKey(scope string, windowStart time.Time) string {
	return Prefix + "budget:" + scope + ":" + windowStart.UTC().Format("20060102T150405Z")
}

// validateToken checks a free-form key part (hash, purpose, sequence name):
// non-empty, without whitespace, and without ':' so that one kind of key
// can never spell another (a hash "res:x" would collide with an index key).
func validateToken(what, s string) error {
	if s == "" {
		return errors.New(what + " is empty")
	}
	if strings.ContainsAny(s, ": \t\r\n") {
		return fmt.Errorf("%s %q contains ':' or whitespace", what, s)
	}
	return nil
}
