package redisx

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

var (
	// ErrUnavailable means Redis could not answer: connection refused, a
	// network or pool timeout, a closed client, a deadline that ran out while
	// waiting for Redis, or a server that is loading or read-only. The
	// original error stays in the chain.
	ErrUnavailable = errors.New("redis unavailable")

	// ErrLockHeld means another owner holds the lock.
	ErrLockHeld = errors.New("lock held by another owner")

	// ErrLockLost means a lock expired or was taken over while its holder
	// still believed it held it. Work guarded by the lock must stop.
	ErrLockLost = errors.New("lock lost")

	// ErrNotHeld means a release or refresh found the lock gone or held with
	// another token, so it changed nothing.
	ErrNotHeld = errors.New("lock not held")
)

// unavailableReplies are server replies that mean "cannot serve right now"
// rather than "your command is wrong". "BUSY " keeps its space so that the
// stream error BUSYGROUP does not match. "OOM " is a full maxmemory with
// noeviction, and "max number of clients" is go-redis' form of ERR max
// number of clients reached: both pass, and callers should degrade.
var unavailableReplies = []string{"LOADING", "MASTERDOWN", "READONLY", "CLUSTERDOWN", "TRYAGAIN", "BUSY ", "OOM ", "max number of clients"}

// wrapErr adds op as context and marks transport failures with
// ErrUnavailable, keeping the cause so errors.Is still finds it.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if isUnavailable(err) {
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isUnavailable(err error) bool {
	switch {
	case errors.Is(err, redis.Nil):
		return false
	case errors.Is(err, context.Canceled):
		// The caller gave up; that says nothing about Redis.
		return false
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		for _, prefix := range unavailableReplies {
			if redis.HasErrorPrefix(err, prefix) {
				return true
			}
		}
		return false
	}
	// Anything that is not a server reply failed on the way to or from the
	// server: dial errors, timeouts, EOF, pool timeouts, a closed client, or
	// a deadline that ran out. Locks fail closed on these, so when in doubt
	// this says unavailable.
	return true
}
