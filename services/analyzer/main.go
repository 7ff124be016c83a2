// Command analyzer answers AIInsights with a root-cause analysis from an LLM or the offline analyzer.
package main

import (
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/services/analyzer/internal/app"
)

func main() { os.Exit(bootstrap.Main(app.Service())) }
