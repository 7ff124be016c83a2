// Command remediator plans, checks against the action policy, executes, verifies and rolls back RemediationPlans.
package main

import (
	"flag"
	"os"

	"github.com/chatcli/aiops/libs/app"
	remediator "github.com/chatcli/aiops/services/remediator/app"
)

func main() {
	opts := app.DefaultOptions("remediator")
	opts.AddFlags(flag.CommandLine)
	if err := app.ParseFlags(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	os.Exit(app.Main(opts, remediator.Setup))
}
