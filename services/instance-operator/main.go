// Command instance-operator reconciles Instances into the Deployment, Service, RBAC, ConfigMaps and PVC of a ChatCLI server.
package main

import (
	"flag"
	"os"

	"github.com/chatcli/aiops/libs/bootstrap"
	svc "github.com/chatcli/aiops/services/instance-operator/internal/app"
)

func main() {
	opts := bootstrap.DefaultOptions("instance-operator")
	opts.AddFlags(flag.CommandLine)
	if err := bootstrap.ParseFlags(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	os.Exit(bootstrap.Main(opts, svc.Setup))
}
