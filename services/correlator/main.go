// Command correlator correlates Anomalies into Issues and moves each Issue from detection to resolution.
package main

import (
	"flag"
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
	svc "github.com/chatcli/aiops/services/correlator/internal/app"
)

func main() {
	opts := bootstrap.DefaultOptions("correlator")
	opts.AddFlags(flag.CommandLine)
	if err := bootstrap.ParseFlags(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	os.Exit(bootstrap.Main(opts, svc.Setup))
}
