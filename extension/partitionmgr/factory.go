// Package partitionmgr is a collector extension that owns the database side
// of otelcol-mcp: it applies the schema migrations, creates time partitions
// ahead of time, moves rows out of DEFAULT partitions, and drops, detaches or
// archives partitions past their retention, on a schedule, with one leader
// among the collectors sharing a database.
package partitionmgr

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/mcp-bridge/otelcol-mcp/extension/partitionmgr/internal/metadata"
)

// NewFactory creates a factory for the partition manager.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, createExtension, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	daily := func(retention string, expiry Expiry) TableConfig {
		return TableConfig{Interval: Daily, Premake: 7, Retention: retention, Expiry: expiry}
	}
	weekly := func(retention string, expiry Expiry) TableConfig {
		return TableConfig{Interval: Weekly, Premake: 4, Retention: retention, Expiry: expiry}
	}
	// The per-minute rollups outlive the rows they are built from.
	rollup := TableConfig{Interval: Monthly, Premake: 2, Retention: "400d", Expiry: Drop}
	return &Config{
		Schema:        "mcp",
		ArchiveSchema: "mcp_archive",
		TimeZone:      "UTC",
		Schedule: ScheduleConfig{
			Mode:     modeCalendar,
			CreateAt: "02:00",
			ExpireOn: "sunday",
			ExpireAt: "03:00",
			Interval: time.Hour,
		},
		RetryInterval: 10 * time.Second,
		Tables: map[string]TableConfig{
			"routing_log":           daily("30d", Archive),
			"tool_call_record":      daily("30d", Archive),
			"tool_call_payload":     daily("7d", Drop),
			"lb_decision":           daily("14d", Drop),
			"metric_point":          daily("30d", Drop),
			"health_check_record":   weekly("12w", Archive),
			"error_log":             weekly("12w", Archive),
			"circuit_breaker_event": {Interval: Monthly, Premake: 2, Retention: "365d", Expiry: Archive},
			"routing_rollup_1m":     rollup,
			"tool_call_rollup_1m":   rollup,
			"health_rollup_1m":      rollup,
			"session_rollup_1m":     rollup,
		},
		Rollups: RollupsConfig{Interval: 10 * time.Second, Delay: 15 * time.Second},
	}
}

func createExtension(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newPartitionManager(cfg.(*Config), set, systemClock{})
}
