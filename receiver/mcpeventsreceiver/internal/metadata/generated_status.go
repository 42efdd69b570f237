// Package metadata holds the component type and stability of
// mcpeventsreceiver, written by hand in the shape mdatagen generates
// (metadata.yaml).
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("mcpevents")
	ScopeName = "github.com/mcp-bridge/otelcol-mcp/receiver/mcpeventsreceiver"
)

const (
	TracesStability  = component.StabilityLevelAlpha
	LogsStability    = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
)
