// Command watcher-bridge turns workload faults, Alertmanager alerts, ChatCLI
// alerts and ingested signals into Anomalies, exactly once.
package main

import "github.com/chatcli/aiops/services/watcher-bridge/internal/app"

func main() { app.Main() }
