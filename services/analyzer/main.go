// Command analyzer answers AIInsights with a root-cause analysis from an LLM or the offline analyzer.
package main

import (
	"flag"
	"os"

	"github.com/chatcli/aiops/libs/app"
	analyzer "github.com/chatcli/aiops/services/analyzer/app"
)

func main() {
	opts := app.DefaultOptions("analyzer")
	opts.AddFlags(flag.CommandLine)
	if err := app.ParseFlags(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	os.Exit(app.Main(opts, analyzer.Setup))
}
