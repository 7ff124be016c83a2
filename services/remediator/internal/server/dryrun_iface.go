package server

import (
	"context"

	"github.com/chatcli/aiops/libs/actions"
)

// DryRunner takes snapshots and runs actions as server-side dry-runs.
type DryRunner interface {
	Snapshot(ctx context.Context, req actions.Request) (string, error)
	Apply(ctx context.Context, req actions.Request, snapshot string) (actions.Outcome, error)
}
