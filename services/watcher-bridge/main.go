// Command watcher-bridge turns workload faults, Alertmanager alerts, ChatCLI
// alerts and ingested signals into Anomalies, exactly once.
package main

import (
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/services/watcher-bridge/internal/app"
)

func main() { os.Exit(bootstrap.Main(app.Service())) }
