// Command watcher-bridge turns workload faults, Alertmanager alerts, ChatCLI
// alerts and ingested signals into Anomalies, exactly once.
package main

import (
	"flag"
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
	svc "github.com/chatcli/aiops/services/watcher-bridge/internal/app"
)

func main() {
	opts := bootstrap.DefaultOptions("watcher-bridge")
	wb := svc.NewOptions()
	opts.AddFlags(flag.CommandLine)
	wb.AddFlags(flag.CommandLine)
	if err := bootstrap.ParseFlags(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	os.Exit(bootstrap.Main(opts, wb.Setup))
}
