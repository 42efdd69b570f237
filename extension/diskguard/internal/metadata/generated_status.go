// Package metadata holds the component type, stability and telemetry of
// diskguard, written by hand in the shape mdatagen generates (metadata.yaml).
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("diskguard")
	ScopeName = "github.com/mcp-bridge/otelcol-mcp/extension/diskguard"
)

const (
	ExtensionStability = component.StabilityLevelAlpha
)
