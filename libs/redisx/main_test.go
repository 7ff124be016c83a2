package redisx_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	platformv1alpha1 "github.com/chatcli/aiops/api/platform/v1alpha1"
	"github.com/chatcli/aiops/libs/redisx"
	"github.com/chatcli/aiops/libs/testenv"
)

// redisNil is the reply of a GET on a missing key.
var redisNil = redis.Nil

// redisURL points at the Redis shared by every test in this package.
var redisURL string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "redisx-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := testenv.StartRedis(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start redis:", err)
		return 1
	}
	defer srv.Stop()
	redisURL = srv.URL
	return m.Run()
}

// newClient returns a client on the shared Redis, closed when t ends.
func newClient(t *testing.T, cfg redisx.Config) *redisx.Client {
	t.Helper()
	c, err := redisx.New(redisURL, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// unique returns a key part no other test or run uses, so tests can share
// one server, even an external one from REDIS_URL.
func unique(t *testing.T) string {
	name := strings.NewReplacer("/", "-", " ", "-", ":", "-").Replace(t.Name())
	return strings.ToLower(name + "-" + rand.Text()[:8])
}

// uniqueResource is a Deployment in a namespace of its own.
func uniqueResource(t *testing.T) platformv1alpha1.ResourceReference {
	return platformv1alpha1.ResourceReference{Kind: "Deployment", Namespace: unique(t), Name: "api"}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
