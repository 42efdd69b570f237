// Package metadata holds the component type and stability of mcppgexporter,
// written by hand in the shape mdatagen generates (metadata.yaml).
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("mcppg")
	ScopeName = "github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter"
)

const (
	TracesStability  = component.StabilityLevelAlpha
	LogsStability    = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
)
