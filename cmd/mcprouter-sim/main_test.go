package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcp-bridge/otelcol-mcp/internal/routersim"
)

func TestParseRunFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(*testing.T, routersim.Options)
	}{
		{name: "defaults", check: func(t *testing.T, o routersim.Options) {
			assert.Equal(t, "localhost:4317", o.Endpoint)
			assert.Equal(t, 1000.0, o.Fleet.Rate)
			assert.NotZero(t, o.Fleet.Seed)
			assert.NotEmpty(t, o.InstanceID)
		}},
		{name: "http", args: []string{"-protocol", "http"}, check: func(t *testing.T, o routersim.Options) {
			assert.Equal(t, "localhost:4318", o.Endpoint)
		}},
		{name: "events", args: []string{"-mode", "events"}, check: func(t *testing.T, o routersim.Options) {
			assert.Equal(t, "http://localhost:4320", o.Endpoint)
		}},
		{name: "events needs a URL", args: []string{"-mode", "events", "-endpoint", "localhost:4320"}, wantErr: "must be a base URL"},
		{name: "no end", args: []string{"-duration", "0"}, wantErr: "the run needs an end"},
		{name: "bad values", args: []string{"-servers", "0", "-error-rate", "2", "-mode", "x"},
			wantErr: "servers: 0 must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseRunFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, o)
		})
	}
}

// TestServerPrefixFlag: -server-prefix reaches the fleet; a prefix with a
// space would break the manifest.
func TestServerPrefixFlag(t *testing.T) {
	o, err := parseRunFlags([]string{"-requests", "1", "-servers", "3", "-server-prefix", "gw1-"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "gw1-", o.Fleet.ServerPrefix)
	assert.Equal(t, 3, o.Fleet.Servers)
	_, err = parseRunFlags([]string{"-requests", "1", "-server-prefix", "gw 1"}, io.Discard)
	assert.ErrorContains(t, err, "server-prefix")
}

// TestRuntimeFlag: -runtime reaches the fleet (go by default); an unknown
// runtime is refused by name.
func TestRuntimeFlag(t *testing.T) {
	o, err := parseRunFlags([]string{"-requests", "1"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, routersim.RuntimeGo, o.Fleet.Runtime)
	o, err = parseRunFlags([]string{"-requests", "1", "-runtime", "jvm"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, routersim.RuntimeJVM, o.Fleet.Runtime)
	_, err = parseRunFlags([]string{"-requests", "1", "-runtime", "dotnet"}, io.Discard)
	assert.ErrorContains(t, err, `runtime: "dotnet" must be go, jvm or none`)
}
