// Command analyzer answers AIInsights with a root-cause analysis from an LLM or the offline analyzer.
package main

import (
	"flag"
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
	svc "github.com/chatcli/aiops/services/analyzer/internal/app"
)

func main() {
	opts := bootstrap.DefaultOptions("analyzer")
	opts.AddFlags(flag.CommandLine)
	if err := bootstrap.ParseFlags(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	os.Exit(bootstrap.Main(opts, svc.Setup))
}
