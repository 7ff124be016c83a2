// Command correlator correlates Anomalies into Issues and moves each Issue from detection to resolution.
package main

import "github.com/chatcli/aiops/services/correlator/internal/app"

func main() { app.Main() }
