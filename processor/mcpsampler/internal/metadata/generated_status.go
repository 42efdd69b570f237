// Package metadata holds the component type and stability of mcpsampler,
// written by hand in the shape mdatagen generates (metadata.yaml).
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("mcpsampler")
	ScopeName = "github.com/mcp-bridge/otelcol-mcp/processor/mcpsampler"
)

const (
	TracesStability = component.StabilityLevelAlpha
	LogsStability   = component.StabilityLevelAlpha
)
