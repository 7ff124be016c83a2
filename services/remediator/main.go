// Command remediator plans, checks against the action policy, executes, verifies and rolls back RemediationPlans.
package main

import (
	"flag"
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
	svc "github.com/chatcli/aiops/services/remediator/internal/app"
)

func main() {
	opts := bootstrap.DefaultOptions("remediator")
	opts.AddFlags(flag.CommandLine)
	if err := bootstrap.ParseFlags(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	os.Exit(bootstrap.Main(opts, svc.Setup))
}
