// Package tools pins the code generators and the Helm CLI the Makefile runs.
// It is its own module so that their dependencies never take part in the
// version selection of the production module: buf alone would pull an
// unreleased protobuf into every service binary.
package tools
