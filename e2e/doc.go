// Package e2e holds the end-to-end scenarios: a local cluster with kwok
// nodes (e2e/cluster), the platform installed from its Helm chart in
// local-processes mode with the six services running under their own
// ServiceAccounts (e2e/platform), and faults that only the right
// remediation heals (e2e/scenario). It is its own module so that the
// cluster and Helm dependencies stay out of the production go.mod.
package e2e
