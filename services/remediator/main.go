// Command remediator plans, checks against the action policy, executes, verifies and rolls back RemediationPlans.
package main

import "github.com/chatcli/aiops/services/remediator/internal/app"

func main() { app.Main() }
