package mcpsampler

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/mcp-bridge/otelcol-mcp/processor/mcpsampler/internal/metadata"
)

func percent(p float64) *float64 { return &p }

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	const validKeys = "valid keys are failure, routing, tool_call, health_check, server, session, lb_decision, circuit_breaker, error, other"
	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{
			id: component.NewID(metadata.Type),
			want: &Config{Rates: map[string]float64{
				"failure": 100, "routing": 100, "tool_call": 100, "health_check": 10, "server": 100,
				"session": 100, "lb_decision": 1, "circuit_breaker": 100, "error": 100, "other": 100,
			}},
		},
		{
			// Rates left out keep their defaults.
			id: component.NewIDWithName(metadata.Type, "custom"),
			want: &Config{
				Rates: map[string]float64{
					"failure": 100, "routing": 100, "tool_call": 100, "health_check": 25, "server": 100,
					"session": 100, "lb_decision": 0.5, "circuit_breaker": 100, "error": 100, "other": 0,
				},
				Rules: []RuleConfig{
					{Name: "billing_tools", Match: map[string]string{"gen_ai.tool.name": "charge_card", "service.name": "billing-router"}, Percent: percent(100)},
					{Name: "cache_events", EventName: "app.cache.refresh", Percent: percent(2.5)},
					{Name: "internal_spans", SpanKind: "internal", Percent: percent(0)},
				},
			},
		},
		{
			id:      component.NewIDWithName(metadata.Type, "unknown_kind"),
			wantErr: "rates::healthcheck: unknown kind; " + validKeys,
		},
		{
			id: component.NewIDWithName(metadata.Type, "out_of_range"),
			wantErr: "rates::failure: 101 must be a percentage between 0 and 100\n" +
				"rates::lb_decision: -1 must be a percentage between 0 and 100\n" +
				"rates::session: 1e-16 is below the smallest rate that can be recorded, 1.3877787807814457e-15 (0 drops every item)",
		},
		{
			id: component.NewIDWithName(metadata.Type, "bad_rules"),
			wantErr: `rules[0]::name: "health_check" is reserved: failure and the kind names name the rates` + "\n" +
				"rules[0]::percent: 150 must be a percentage between 0 and 100\n" +
				`rules[1]::span_kind: "Server" must be one of internal, server, client, producer, consumer, unspecified` + "\n" +
				`rules[2]::name: "twice" is also the name of rules[1]` + "\n" +
				"rules[2]::match: an attribute key must not be empty\n" +
				"rules[3]::name: must not be empty\n" +
				"rules[3]: set at least one of match, span_kind and event_name (the rule would match every item)\n" +
				"rules[4]::percent: must be set\n" +
				"rules[4]: span_kind and event_name exclude each other (span_kind matches spans, event_name log records)",
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
