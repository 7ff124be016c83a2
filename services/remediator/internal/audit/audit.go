// Package audit writes the remediator's audit trail: one JSON line per
// policy decision, approval, action start and result, and rollback, to
// CHATCLI_AUDIT_LOG_PATH and to stdout.
package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// EnvPath names the file the audit lines are appended to.
const EnvPath = "CHATCLI_AUDIT_LOG_PATH"

// Kinds of audit events.
const (
	KindDecision     = "policy_decision"
	KindApproval     = "approval"
	KindActionStart  = "action_start"
	KindActionResult = "action_result"
	KindRollback     = "rollback"
	KindPlanProposed = "plan_proposed"
	// KindPlanDeletion is the admission webhook's answer to the deletion
	// of a plan that had not ended: refused, or let through by the
	// force-delete annotation or a namespace being deleted.
	KindPlanDeletion = "plan_deletion"
)

// Event is one audit line.
type Event struct {
	Time   time.Time         `json:"time"`
	Kind   string            `json:"kind"`
	Actor  string            `json:"actor"`
	Plan   string            `json:"plan,omitempty"`
	Issue  string            `json:"issue,omitempty"`
	Target string            `json:"target,omitempty"`
	Action string            `json:"action,omitempty"`
	Index  *int32            `json:"index,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	Result string            `json:"result"`
	Rule   string            `json:"rule,omitempty"`
	Detail string            `json:"detail,omitempty"`
}

// Logger writes events to every writer; it is safe for concurrent use.
type Logger struct {
	mu      sync.Mutex
	writers []io.Writer
	now     func() time.Time
}

// New returns a Logger writing to ws.
func New(ws ...io.Writer) *Logger { return &Logger{writers: ws, now: time.Now} }

// FromEnvironment returns a Logger writing to stdout and, when
// CHATCLI_AUDIT_LOG_PATH is set, appending to that file.
func FromEnvironment() (*Logger, error) {
	ws := []io.Writer{os.Stdout}
	if path := os.Getenv(EnvPath); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open audit log %s: %w", path, err)
		}
		ws = append(ws, f)
	}
	return New(ws...), nil
}

// Record writes e as one line. A nil Logger records nothing. Write errors
// are not returned: the audit must never stop a rollback.
func (l *Logger) Record(e Event) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = l.now().UTC()
	}
	line, err := json.Marshal(e)
	if err != nil {
		return
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.writers {
		_, _ = w.Write(line)
	}
}
