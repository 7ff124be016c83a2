// Command watcher-bridge turns workload faults, Alertmanager alerts, ChatCLI
// alerts and ingested signals into Anomalies, exactly once.
package main

import (
	"flag"
	"os"

	"github.com/chatcli/aiops/libs/app"
	watcherbridge "github.com/chatcli/aiops/services/watcher-bridge/app"
)

func main() {
	opts := app.DefaultOptions("watcher-bridge")
	svc := watcherbridge.NewOptions()
	opts.AddFlags(flag.CommandLine)
	svc.AddFlags(flag.CommandLine)
	if err := app.ParseFlags(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	os.Exit(app.Main(opts, svc.Setup))
}
