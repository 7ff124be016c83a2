// Package e2e will hold the end-to-end scenarios: a local cluster with kwok
// nodes, the platform installed from its Helm chart, and faults that only the
// right remediation heals. It is its own module so that cluster and container
// dependencies stay out of the production go.mod.
package e2e
