package diskguard

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/mcp-bridge/otelcol-mcp/extension/diskguard/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := createDefaultConfig().(*Config)
	custom.Directory = "/var/lib/otelcol/queue"
	custom.CreateDirectory = true
	custom.MinFreeMiB = 256
	custom.Compaction.Directory = "/var/lib/otelcol/queue"
	custom.Compaction.OnRebound = true

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{
			id: component.NewID(metadata.Type),
			want: func() *Config {
				c := createDefaultConfig().(*Config)
				c.Directory = "/var/lib/otelcol/queue"
				return c
			}(),
		},
		{id: component.NewIDWithName(metadata.Type, "custom"), want: custom},
		{
			id:      component.NewIDWithName(metadata.Type, "invalid"),
			wantErr: "min_free_mib: 0 must be positive (the reserve that keeps the queue's bookkeeping writable)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			if tt.wantErr != "" {
				assert.EqualError(t, confmap.Validate(cfg), tt.wantErr)
				return
			}
			// Compared before validation: file_storage's Validate stores
			// the parsed permissions in an unexported field.
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestDefaultReserve(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, int64(defaultMinFreeMiB)<<20, cfg.minFreeBytes())
	assert.NotNil(t, cfg.Compaction, "file_storage's compaction defaults are kept")
}

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(createDefaultConfig()))
}
