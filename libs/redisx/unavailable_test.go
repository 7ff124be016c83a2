package redisx_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/onsi/gomega"

	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/testenv"
)

func TestStoppedRedisIsUnavailable(t *testing.T) {
	g := gomega.NewWithT(t)
	ctx := testContext(t)
	srv, err := testenv.StartLocalRedis(ctx, "", t.TempDir())
	if err != nil {
		t.Fatalf("start private redis: %v", err)
	}
	t.Cleanup(srv.Stop)
	c, err := redisx.New(srv.URL, redisx.Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	res := uniqueResource(t)

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping before stop: %v", err)
	}
	held, err := c.Acquire(ctx, "test", res, redisx.LockOptions{TTL: time.Second})
	if err != nil {
		t.Fatalf("Acquire before stop: %v", err)
	}

	srv.Stop()

	// A held lock whose renewals cannot reach Redis must report loss (before
	// the table, whose Release stops renewal).
	g.Eventually(held.Lost()).WithTimeout(10 * time.Second).Should(gomega.BeClosed())
	if !errors.Is(held.Err(), redisx.ErrLockLost) {
		t.Errorf("Err: got %v, want ErrLockLost", held.Err())
	}

	tests := map[string]func(ctx context.Context) error{
		"Ping": c.Ping,
		"Dedup": func(ctx context.Context) error {
			_, err := c.Dedup(ctx, "h", "a", time.Minute)
			return err
		},
		"DedupResource": func(ctx context.Context) error {
			_, err := c.DedupResource(ctx, res, "h", "a", time.Minute)
			return err
		},
		"InvalidateDedup": func(ctx context.Context) error {
			_, err := c.InvalidateDedup(ctx, res)
			return err
		},
		"Acquire": func(ctx context.Context) error {
			_, err := c.Acquire(ctx, "other", res, redisx.LockOptions{})
			return err
		},
		"AcquireWait": func(ctx context.Context) error {
			_, err := c.AcquireWait(ctx, "other", res, redisx.LockOptions{})
			return err
		},
		"Release": func(ctx context.Context) error { return held.Release(ctx) },
		"NextSequence": func(ctx context.Context) error {
			_, err := c.NextSequence(ctx, "test", time.Now())
			return err
		},
		"NextIncidentID": func(ctx context.Context) error {
			_, err := c.NextIncidentID(ctx, time.Now())
			return err
		},
		"SpendBudget": func(ctx context.Context) error {
			_, err := c.SpendBudget(ctx, redisx.Budget{Scope: "s", Limit: 1, Window: time.Hour}, 1, time.Now())
			return err
		},
	}
	for name, call := range tests {
		t.Run(name, func(t *testing.T) {
			callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- call(callCtx) }()
			select {
			case err := <-done:
				if !errors.Is(err, redisx.ErrUnavailable) {
					t.Errorf("got %v, want an error matching ErrUnavailable", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("did not return within 15s of a 10s deadline")
			}
		})
	}
}
