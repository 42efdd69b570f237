package mcppgexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	storageID := component.MustNewID("file_storage")
	managerID := component.MustNewID("partitionmgr")
	customQueue := exporterhelper.NewDefaultQueueConfig()
	customQueue.StorageID = &storageID
	customQueue.NumConsumers = 8
	customQueue.QueueSize = 5000
	customBatch := exporterhelper.NewDefaultBatchConfig()
	customBatch.FlushTimeout = 2 * time.Second
	customBatch.MinSize = 500
	customBatch.MaxSize = 2000
	customQueue.Batch = configoptional.Some(customBatch)
	customRetry := configretry.NewDefaultBackOffConfig()
	customRetry.InitialInterval = time.Second
	customRetry.MaxInterval = time.Minute
	customRetry.MaxElapsedTime = 0

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
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			want: &Config{
				TimeoutConfig:    exporterhelper.TimeoutConfig{Timeout: 10 * time.Second},
				QueueConfig:      configoptional.Some(customQueue),
				BackOffConfig:    customRetry,
				DSN:              "postgres://router:secret@db.internal:5432/telemetry?sslmode=require",
				Schema:           "router_telemetry",
				MaxConns:         8,
				ApplySchema:      false,
				ToolPayloads:     ToolPayloadsConfig{Enabled: true, RedactKeys: []string{"password", "ssn"}, MaxBytes: 1024},
				PartitionManager: &managerID,
				EventTime:        EventTimeConfig{MaxAge: 90 * 24 * time.Hour, MaxFuture: 0},
			},
		},
		{
			id:      component.NewIDWithName(metadata.Type, "missing_dsn"),
			wantErr: "dsn: must be set, e.g. postgres://user@host:5432/mcp_bridge",
		},
		{
			id: component.NewIDWithName(metadata.Type, "bad_dsn"),
			// pgx masks the password in its message.
			wantErr: "dsn: cannot parse `postgres://router:xxxxx@db.internal:notaport/telemetry`: invalid port",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "bad_schema"),
			wantErr: `schema: "Router-Telemetry" must be a lower-case SQL identifier of at most 63 characters ([a-z_][a-z0-9_]*)`,
		},
		{
			id:      component.NewIDWithName(metadata.Type, "too_many_conns"),
			wantErr: "max_conns: 80 must be between 0 (size from sending_queue.num_consumers) and 50",
		},
		{
			id: component.NewIDWithName(metadata.Type, "everything_wrong"),
			wantErr: "dsn: must be set, e.g. postgres://user@host:5432/mcp_bridge\n" +
				`schema: "" must be a lower-case SQL identifier of at most 63 characters ([a-z_][a-z0-9_]*)` + "\n" +
				"max_conns: -1 must be between 0 (size from sending_queue.num_consumers) and 50",
		},
		{
			id: component.NewIDWithName(metadata.Type, "bad_payloads"),
			wantErr: "tool_payloads::max_bytes: -1 must not be negative (0 for no limit)\n" +
				"tool_payloads::redact_keys[1]: must not be empty",
		},
		{
			id: component.NewIDWithName(metadata.Type, "bad_event_time"),
			wantErr: "event_time::max_age: -1h0m0s must not be negative (0 for no bound)\n" +
				"event_time::max_future: -5m0s must not be negative (0 for no bound)",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "bad_queue"),
			wantErr: "sending_queue: `num_consumers` must be positive",
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

func TestPoolSize(t *testing.T) {
	withConsumers := func(n int) configoptional.Optional[exporterhelper.QueueBatchConfig] {
		q := exporterhelper.NewDefaultQueueConfig()
		q.NumConsumers = n
		return configoptional.Some(q)
	}
	tests := []struct {
		name    string
		cfg     Config
		signals int
		want    int32
	}{
		{name: "from num_consumers", cfg: Config{QueueConfig: withConsumers(6)}, signals: 1, want: 6},
		{name: "one per consumer of each signal", cfg: Config{QueueConfig: withConsumers(4)}, signals: 3, want: 12},
		{name: "capped at 50", cfg: Config{QueueConfig: withConsumers(20)}, signals: 3, want: 50},
		{name: "no queue", cfg: Config{}, signals: 2, want: 2},
		{name: "explicit max_conns wins", cfg: Config{QueueConfig: withConsumers(6), MaxConns: 3}, signals: 3, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.cfg.poolSize(tt.signals))
		})
	}
}
