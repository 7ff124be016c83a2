// Command remediator plans, checks against the action policy, executes, verifies and rolls back RemediationPlans.
package main

import (
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/services/remediator/internal/app"
)

func main() { os.Exit(bootstrap.Main(app.Service())) }
