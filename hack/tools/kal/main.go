// Command kal runs the kube-api-linter (KAL) analyzers over Go API packages,
// with the linter set and settings of config.yaml. KAL ships as a
// golangci-lint plugin; this runs its analyzers directly, so that no custom
// golangci-lint build is needed.
//
// From the repository root:
//
//	GOWORK=off go run -modfile=hack/tools/kal/go.mod github.com/chatcli/aiops/hack/tools/kal -test=false ./api/...
package main

import (
	_ "embed"
	"fmt"
	"os"

	"golang.org/x/tools/go/analysis/multichecker"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"sigs.k8s.io/kube-api-linter/pkg/analysis/registry"
	"sigs.k8s.io/kube-api-linter/pkg/config"
	"sigs.k8s.io/kube-api-linter/pkg/validation"

	// Every KAL analyzer registers itself; config.yaml chooses which run.
	_ "sigs.k8s.io/kube-api-linter/pkg/registration"
)

//go:embed config.yaml
var configYAML []byte

// settings mirrors config.GolangCIConfig, whose fields have mapstructure
// tags only.
type settings struct {
	Linters       config.Linters       `json:"linters"`
	LintersConfig config.LintersConfig `json:"lintersConfig"`
}

func main() {
	var s settings
	if err := yaml.UnmarshalStrict(configYAML, &s); err != nil {
		fail("read config.yaml: %v", err)
	}
	cfg := config.GolangCIConfig{Linters: s.Linters, LintersConfig: s.LintersConfig}
	if err := validation.ValidateGolangCIConfig(cfg, field.NewPath("")); err != nil {
		fail("invalid config.yaml: %v", err)
	}
	analyzers, err := registry.DefaultRegistry().InitializeLinters(cfg.Linters, cfg.LintersConfig)
	if err != nil {
		fail("initialize linters: %v", err)
	}
	multichecker.Main(analyzers...)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kal: "+format+"\n", args...)
	os.Exit(2)
}
