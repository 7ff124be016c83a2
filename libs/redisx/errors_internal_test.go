package redisx

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

// reply stands for an error reply from the server.
type reply string

func (r reply) Error() string { return string(r) }
func (reply) RedisError()     {}

func TestWrapErrClassifies(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := map[string]struct {
		reason      string
		err         error
		unavailable bool
	}{
		"Nil":              {reason: "A missing key is an answer, not an outage.", err: redis.Nil},
		"Canceled":         {reason: "The caller gave up; Redis may be fine.", err: context.Canceled},
		"SyntaxError":      {reason: "A wrong command is a bug, not an outage.", err: reply("ERR syntax error")},
		"BusyGroup":        {reason: "A stream error that only looks like BUSY.", err: reply("BUSYGROUP Consumer Group name already exists")},
		"ConnRefused":      {reason: "Nothing listens.", err: refused, unavailable: true},
		"EOF":              {reason: "The server hung up.", err: io.EOF, unavailable: true},
		"PoolTimeout":      {reason: "No connection came free in time.", err: redis.ErrPoolTimeout, unavailable: true},
		"Closed":           {reason: "A closed client cannot serve.", err: redis.ErrClosed, unavailable: true},
		"DeadlineExceeded": {reason: "Redis did not answer in time.", err: context.DeadlineExceeded, unavailable: true},
		"Loading":          {reason: "The server is still loading its data.", err: reply("LOADING Redis is loading the dataset in memory"), unavailable: true},
		"ReadOnly":         {reason: "A replica cannot take writes.", err: reply("READONLY You can't write against a read only replica."), unavailable: true},
		"ScriptBusy":       {reason: "A long script blocks the server.", err: reply("BUSY Redis is busy running a script."), unavailable: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := wrapErr("op", tc.err)
			if got := errors.Is(err, ErrUnavailable); got != tc.unavailable {
				t.Errorf("%s\nerrors.Is(%v, ErrUnavailable) = %t, want %t", tc.reason, err, got, tc.unavailable)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("%s\nthe cause %v is lost from %v", tc.reason, tc.err, err)
			}
		})
	}
	if wrapErr("op", nil) != nil {
		t.Errorf("wrapErr(nil) is not nil")
	}
}
