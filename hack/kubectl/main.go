// Command kubectl is k8s.io/kubectl built from the Go module proxy, for the
// e2e harness and `make demo` (no kubectl binary is downloaded). It is its
// own module so that kubectl's dependencies stay out of the services' go.mod.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() {
	os.Exit(cli.Run(cmd.NewDefaultKubectlCommand()))
}
