package restapi

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// AccessRecord is one audit line: one JSON object per request, written
// when the response is done. It names the caller by key id, never by key,
// and holds the path without the query.
type AccessRecord struct {
	Time time.Time `json:"time"`
	// Event is always "rest_access".
	Event string `json:"event"`
	// KeyID is the caller's key id; empty when no key was accepted.
	KeyID string `json:"keyID,omitempty"`
	// Role is the key's role.
	Role string `json:"role,omitempty"`
	// DevMode is true when the caller was let in by
	// CHATCLI_OPERATOR_DEV_MODE without a key.
	DevMode    bool    `json:"devMode,omitempty"`
	Method     string  `json:"method"`
	Path       string  `json:"path"`
	Status     int     `json:"status"`
	DurationMS float64 `json:"durationMs"`
	Remote     string  `json:"remote,omitempty"`
	// Origin is the request's Origin header, when it had one.
	Origin string `json:"origin,omitempty"`
	// Error is the error reason or message of a refused request.
	Error string `json:"error,omitempty"`
}

// Auditor writes AccessRecords as JSON lines, one Write per line, so that
// lines from concurrent requests never interleave.
type Auditor struct {
	mu  sync.Mutex
	out io.Writer
}

// NewAuditor writes to out (stdout, or a file opened for appending).
func NewAuditor(out io.Writer) *Auditor { return &Auditor{out: out} }

// Record writes r; a failed write is returned for the caller to log, since
// the request itself is already answered.
func (a *Auditor) Record(r AccessRecord) error {
	r.Event = "rest_access"
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err = a.out.Write(line)
	return err
}
