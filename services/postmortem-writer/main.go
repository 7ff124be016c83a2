// Command postmortem-writer writes the PostMortem of a resolved Issue and promotes its fix to a Runbook.
package main

import (
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/services/postmortem-writer/internal/app"
)

func main() { os.Exit(bootstrap.Main(app.Service())) }
