//go:build tools

// Package lint pins golangci-lint, in a module of its own so that its many
// dependencies never move the versions the distribution or mdatagen build
// with. `make lint` builds it into ./bin from here.
package lint

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
)
