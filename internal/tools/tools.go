//go:build tools

// Package tools pins the code generators of this repository in a module of
// its own, so that their dependencies do not move the collector's
// (go.mod of the repository root). `make generate` runs mdatagen from here.
package tools

import (
	_ "go.opentelemetry.io/collector/cmd/mdatagen"
)
