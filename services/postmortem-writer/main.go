// Command postmortem-writer writes the PostMortem of a resolved Issue and promotes its fix to a Runbook.
package main

import "github.com/chatcli/aiops/services/postmortem-writer/internal/app"

func main() { app.Main() }
