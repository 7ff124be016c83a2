// Package crds embeds the CustomResourceDefinitions that controller-gen
// generates from api/platform/v1alpha1, so that tests, the demo and the chart
// install exactly what the Go types describe.
package crds

import "embed"

// FS holds one YAML file per CRD.
//
//go:embed *.yaml
var FS embed.FS
