// Command postmortem-writer writes the PostMortem of a resolved Issue and promotes its fix to a Runbook.
package main

import (
	"flag"
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
	svc "github.com/chatcli/aiops/services/postmortem-writer/internal/app"
)

func main() {
	opts := bootstrap.DefaultOptions("postmortem-writer")
	opts.AddFlags(flag.CommandLine)
	if err := bootstrap.ParseFlags(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	os.Exit(bootstrap.Main(opts, svc.Setup))
}
