package partitionmgr

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/mcp-bridge/otelcol-mcp/extension/partitionmgr/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := createDefaultConfig().(*Config)
	custom.DSN = "postgres://postgres@127.0.0.1:5432/mcp_bridge"
	custom.Schema = "router"
	custom.ArchiveSchema = "router_archive"
	custom.TimeZone = "Europe/Berlin"
	custom.RetryInterval = 30 * time.Second
	custom.Schedule.Mode = "interval"
	custom.Schedule.Interval = 30 * time.Minute
	custom.Rollups.Interval = 30 * time.Second
	custom.Rollups.Delay = time.Minute
	// A table named in the config keeps the defaults of the fields it omits.
	custom.Tables["routing_log"] = TableConfig{Interval: Daily, Premake: 14, Retention: "90d", Expiry: Drop}

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{
			id: component.NewID(metadata.Type),
			want: func() *Config {
				c := createDefaultConfig().(*Config)
				c.DSN = "postgres://postgres@127.0.0.1:5432/mcp_bridge"
				return c
			}(),
		},
		{id: component.NewIDWithName(metadata.Type, "custom"), want: custom},
		{
			id: component.NewIDWithName(metadata.Type, "invalid"),
			wantErr: "dsn: must be set, e.g. postgres://user@host:5432/mcp_bridge\n" +
				`schema: "Router" must be a lower-case SQL identifier of at most 63 characters ([a-z_][a-z0-9_]*)` + "\n" +
				`archive_schema: "Router" must be a lower-case SQL identifier of at most 63 characters ([a-z_][a-z0-9_]*)` + "\n" +
				`archive_schema: must differ from schema "Router"` + "\n" +
				`time_zone: "Mars/Olympus" is not an IANA time zone: unknown time zone Mars/Olympus` + "\n" +
				"retry_interval: must be positive\n" +
				`schedule::create_at: "2am" is not a time of day HH:MM` + "\n" +
				`schedule::expire_at: "25:00" is not a time of day HH:MM` + "\n" +
				`schedule::expire_on: "someday" is not a day of the week (sunday ... saturday)` + "\n" +
				"rollups::interval: 500ms must be at least 1s\n" +
				"rollups::delay: -1s must not be negative\n" +
				"tables::no_such_table: not a partitioned table of the schema (circuit_breaker_event, error_log, health_check_record, health_rollup_1m, lb_decision, metric_point, routing_log, routing_rollup_1m, session_rollup_1m, tool_call_payload, tool_call_record, tool_call_rollup_1m)\n" +
				`tables::routing_log::interval: "hourly" must be daily, weekly or monthly` + "\n" +
				"tables::routing_log::premake: -1 must not be negative\n" +
				`tables::routing_log::retention: "forever" is not a period like 30d, 12w or 720h` + "\n" +
				`tables::routing_log::expiry: "shred" must be drop, detach or archive`,
		},
		{
			id:      component.NewIDWithName(metadata.Type, "bad_mode"),
			wantErr: `schedule::mode: "sometimes" must be "calendar" or "interval"`,
		},
		{
			id:      component.NewIDWithName(metadata.Type, "short_interval"),
			wantErr: "schedule::interval: 10s must be at least 1m",
		},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(createDefaultConfig()))
}

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": 0, "0": 0, "30d": 30 * 24 * time.Hour, "12w": 12 * 7 * 24 * time.Hour, "36h": 36 * time.Hour,
	} {
		got, err := parseRetention(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"-1d", "d", "1y", "-5h"} {
		_, err := parseRetention(bad)
		assert.Error(t, err, bad)
	}
}
