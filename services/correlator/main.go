// Command correlator correlates Anomalies into Issues and moves each Issue from detection to resolution.
package main

import (
	"flag"
	"os"

	"github.com/chatcli/aiops/libs/app"
	correlator "github.com/chatcli/aiops/services/correlator/app"
)

func main() {
	opts := app.DefaultOptions("correlator")
	opts.AddFlags(flag.CommandLine)
	if err := app.ParseFlags(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	os.Exit(app.Main(opts, correlator.Setup))
}
