package mcpeventsreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/mcp-bridge/otelcol-mcp/receiver/mcpeventsreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := createDefaultConfig().(*Config)
	custom.NetAddr.Endpoint = "0.0.0.0:9320"
	custom.MaxRequestBodySize = 1 << 20
	custom.CompressionAlgorithms = []string{"", "gzip", "zstd"}
	custom.IncludeMetadata = true
	custom.Auth = configoptional.Some(confighttp.AuthConfig{
		Config: configauth.Config{AuthenticatorID: component.MustNewID("bearertokenauth")},
	})
	custom.CORS = configoptional.Some(confighttp.CORSConfig{AllowedOrigins: []string{"https://console.example.com"}})
	tls := configtls.NewDefaultServerConfig()
	tls.CertFile = "/etc/otelcol/tls/server.crt"
	tls.KeyFile = "/etc/otelcol/tls/server.key"
	custom.TLS = configoptional.Some(tls)
	custom.MaxEventsPerRequest = 500
	custom.MaxFieldLength = 256
	custom.MaxTextLength = 8192
	custom.RetryAfter = 30 * time.Second
	custom.MaxBytesInFlight = 16 << 20
	custom.MaxRequestsInFlight = 16
	custom.ReadHeaderTimeout = 5 * time.Second
	custom.ReadTimeout = 2 * time.Minute
	custom.WriteTimeout = 10 * time.Second

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{id: component.NewID(metadata.Type), want: createDefaultConfig().(*Config)},
		{id: component.NewIDWithName(metadata.Type, "custom"), want: custom},
		{
			id:      component.NewIDWithName(metadata.Type, "missing_endpoint"),
			wantErr: "endpoint: must be set, e.g. localhost:4320",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "too_many_events"),
			wantErr: "max_events_per_request: 2000000 must be between 1 and 1000000",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "long_fields"),
			wantErr: "max_field_length: 4096 must be between 1 and 2048 (indexed columns)",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "text_shorter_than_fields"),
			wantErr: "max_text_length: 100 must be between max_field_length (512) and 16777216",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "retry_after_too_short"),
			wantErr: "retry_after: 100ms must be between 1s and 1h0m0s",
		},
		{
			id: component.NewIDWithName(metadata.Type, "bytes_in_flight_below_body_size"),
			wantErr: "max_bytes_in_flight: 4194304 must be at least max_request_body_size (8388608), " +
				"or a request of the largest size would never be accepted",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "no_read_timeout"),
			wantErr: "read_timeout: 0s must be positive: without it a slow client holds its connection and its bytes in flight for ever",
		},
		{
			id:      component.NewIDWithName(metadata.Type, "header_timeout_longer_than_read_timeout"),
			wantErr: "read_header_timeout: 1m0s must be between 0 (read_timeout applies) and read_timeout (30s)",
		},
		{
			id: component.NewIDWithName(metadata.Type, "everything_wrong"),
			wantErr: "endpoint: must be set, e.g. localhost:4320\n" +
				"max_events_per_request: 0 must be between 1 and 1000000\n" +
				"max_field_length: 0 must be between 1 and 2048 (indexed columns)\n" +
				"max_text_length: -1 must be between max_field_length (0) and 16777216\n" +
				"retry_after: 2h0m0s must be between 1s and 1h0m0s\n" +
				"max_request_body_size: -5 must not be negative (0 for the default, 20971520)\n" +
				"max_bytes_in_flight: 1 must be at least max_request_body_size (20971520), or a request of the largest size would never be accepted\n" +
				"max_requests_in_flight: 0 must be at least 1\n" +
				"read_timeout: 0s must be positive: without it a slow client holds its connection and its bytes in flight for ever\n" +
				"read_header_timeout: -1s must be between 0 (read_timeout applies) and read_timeout (0s)\n" +
				"write_timeout: -1s must not be negative (0 for none)",
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

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, "localhost:4320", cfg.NetAddr.Endpoint)
	assert.Equal(t, int64(20<<20), cfg.bodyLimit())
	assert.Equal(t, decodeLimits{maxEvents: 10000, maxFieldLength: 1024, maxTextLength: 65536}, cfg.limits())
	assert.Equal(t, 5*time.Second, cfg.RetryAfter)
	assert.Equal(t, [2]int64{32 << 20, 64}, [2]int64{cfg.MaxBytesInFlight, int64(cfg.MaxRequestsInFlight)})
	// Slow clients are cut off; the answer's write_timeout runs from when it
	// is ready.
	assert.Equal(t, [3]time.Duration{10 * time.Second, 30 * time.Second, 30 * time.Second},
		[3]time.Duration{cfg.ReadHeaderTimeout, cfg.ReadTimeout, cfg.WriteTimeout})
	require.NoError(t, cfg.Validate())
}
