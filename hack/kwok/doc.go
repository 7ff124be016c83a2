// Package kwok pins sigs.k8s.io/kwok, whose kwok binary gives the e2e
// cluster fake nodes: `make e2e-bins` builds it with a tool directive of
// this module, so none of its dependencies reach the services' go.mod.
package kwok
