// Package chart tests the chatcli-aiops umbrella chart with the Helm Go
// SDK: lint and render of the defaults and of every scenario under the
// chart's ci/, schema rejections, golden renders, each service's RBAC
// against a checked-in expectation, NetworkPolicies that select the pods
// they mean, and an install, upgrade and uninstall on a real API server
// (libs/testenv).
//
// Regenerate the golden files and the RBAC expectations with
//
//	go test ./chart -run 'Golden|RBAC' -update
package chart
