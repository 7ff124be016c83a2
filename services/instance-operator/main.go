// Command instance-operator reconciles Instances into the Deployment, Service, RBAC, ConfigMaps and PVC of a ChatCLI server.
package main

import (
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
	"github.com/chatcli/aiops/services/instance-operator/internal/app"
)

func main() { os.Exit(bootstrap.Main(app.Service())) }
