package mcpnormalizer

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/mcp-bridge/otelcol-mcp/processor/mcpnormalizer/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	known := strings.Join(dialectNames(), ", ")
	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{id: component.NewID(metadata.Type), want: &Config{Dialects: dialectNames()}},
		{
			id: component.NewIDWithName(metadata.Type, "some"),
			want: &Config{
				Dialects: []string{"traceloop-js", "toolhive-vmcp"},
				Renames:  map[string]string{"my.rpc.method": "mcp.method.name", "my.session": "mcp.session.id"},
			},
		},
		{id: component.NewIDWithName(metadata.Type, "none"), want: &Config{Dialects: []string{}}},
		{
			id: component.NewIDWithName(metadata.Type, "bad"),
			wantErr: `dialects[0]: unknown dialect "traceloop"; known dialects are ` + known + "\n" +
				`dialects[2]: "toolhive-vmcp" is also dialects[1]` + "\n" +
				"renames: a key to rename must not be empty\n" +
				"renames::a: the new key must not be empty\n" +
				"renames::b: renames a key to itself\n" +
				`renames::c: the new key "d" is renamed too; rename "c" straight to its final key` + "\n" +
				`renames::e: "mcp.session.id" is also the new key of renames::d; which value would win is undefined`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = cfg.(*Config).Validate()
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}
