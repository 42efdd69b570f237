// Package metadata holds the component type and stability of mcpnormalizer,
// written by hand in the shape mdatagen generates (metadata.yaml).
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("mcpnormalizer")
	ScopeName = "github.com/mcp-bridge/otelcol-mcp/processor/mcpnormalizer"
)

const (
	TracesStability  = component.StabilityLevelAlpha
	LogsStability    = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
)
