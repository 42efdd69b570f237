// Package metadata holds the component type, stability and telemetry of
// partitionmgr, written by hand in the shape mdatagen generates (metadata.yaml).
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("partitionmgr")
	ScopeName = "github.com/mcp-bridge/otelcol-mcp/extension/partitionmgr"
)

const (
	ExtensionStability = component.StabilityLevelAlpha
)
