// Command instance-operator reconciles Instances into the Deployment, Service, RBAC, ConfigMaps and PVC of a ChatCLI server.
package main

import (
	"flag"
	"os"

	"github.com/chatcli/aiops/libs/app"
	instanceoperator "github.com/chatcli/aiops/services/instance-operator/app"
)

func main() {
	opts := app.DefaultOptions("instance-operator")
	opts.AddFlags(flag.CommandLine)
	if err := app.ParseFlags(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	os.Exit(app.Main(opts, instanceoperator.Setup))
}
