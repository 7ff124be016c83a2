// Command correlator correlates Anomalies into Issues and moves each Issue from detection to resolution.
package main

import (
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/services/correlator/internal/app"
)

func main() { os.Exit(bootstrap.Main(app.Service())) }
