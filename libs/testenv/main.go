package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// Run starts an Environment for a package's tests, stores it in *env, runs
// the tests, stops the Environment and exits. Call it from TestMain:
//
//	var env *testenv.Environment
//
//	func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{}) }
func Run(m *testing.M, env **Environment, opts Options) {
	os.Exit(run(m, env, opts))
}

func run(m *testing.M, env **Environment, opts Options) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	started, err := Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		return 1
	}
	defer started.Stop()
	fmt.Fprintf(os.Stderr, "testenv: kube-apiserver ready in %s\n", started.StartupDuration.Round(time.Millisecond))
	*env = started
	return m.Run()
}
