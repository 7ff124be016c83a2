// Command postmortem-writer writes the PostMortem of a resolved Issue and promotes its fix to a Runbook.
package main

import (
	"flag"
	"os"

	"github.com/chatcli/aiops/libs/app"
	postmortemwriter "github.com/chatcli/aiops/services/postmortem-writer/app"
)

func main() {
	opts := app.DefaultOptions("postmortem-writer")
	opts.AddFlags(flag.CommandLine)
	if err := app.ParseFlags(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	os.Exit(app.Main(opts, postmortemwriter.Setup))
}
