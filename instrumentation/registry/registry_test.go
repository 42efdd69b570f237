package registry

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter"
	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

var testDB *pgtest.Database

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "mcp_registry_test", &testDB)) }

// event is one registry event as a router sends it.
type event struct {
	name  string
	at    time.Duration // after t0
	attrs map[string]any
}

// t0 is an hour ago, on the hour: inside the exporter's plausible window of
// event times (a year back, a day ahead).
var t0 = time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)

// writeThroughExporter stores the events with the mcppg exporter (its
// factory, default config, no queue), which also applies the schema.
func writeThroughExporter(t *testing.T, schema string, events []event) {
	t.Helper()
	ctx := context.Background()
	f := mcppgexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*mcppgexporter.Config)
	cfg.DSN = configopaque.String(testDB.DSN)
	cfg.Schema = schema
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	exp, err := f.CreateLogs(ctx, exportertest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(ctx, componenttest.NewNopHost()))
	defer func() { require.NoError(t, exp.Shutdown(ctx)) }()

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(mcpconv.ServiceName, "router-a")
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i, e := range events {
		lr := records.AppendEmpty()
		lr.SetEventName(e.name)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(e.at)))
		lr.Attributes().PutStr(mcpconv.EventID, fmt.Sprintf("%s-%d", schema, i))
		require.NoError(t, lr.Attributes().FromRaw(merge(lr.Attributes().AsRaw(), e.attrs)))
	}
	require.NoError(t, exp.ConsumeLogs(ctx, ld))
}

func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func registered(key, version string, tools ...string) map[string]any {
	t := make([]any, len(tools))
	for i, x := range tools {
		t[i] = x
	}
	return map[string]any{mcpconv.ServerKey: key, mcpconv.ServerName: "Server " + key,
		mcpconv.ServerURL: "http://" + key + ":8080/mcp", mcpconv.ServerVersion: version,
		mcpconv.ServerTransport: "streamable_http", mcpconv.ServerTools: t, mcpconv.HealthStatus: mcpconv.HealthHealthy}
}

func TestLoadReadsWhatTheExporterWrote(t *testing.T) {
	at := t0.Add
	tests := []struct {
		name   string
		events []event
		want   []Server
	}{
		{name: "empty registry: events of other kinds only", events: []event{
			{mcpconv.EventHealthCheck, 0, map[string]any{mcpconv.ServerKey: "weather-1", mcpconv.HealthStatus: mcpconv.HealthHealthy}},
		}, want: []Server{}},
		{
			name: "registrations, a deregistration, a health change and a newer registration",
			events: []event{
				{mcpconv.EventServerRegistered, 0, registered("weather-1", "1.0.0", "get_weather")},
				{mcpconv.EventServerRegistered, time.Second, registered("github-1", "2.1.0", "search_code", "create_issue")},
				{mcpconv.EventServerRegistered, 2 * time.Second, registered("postgres-1", "0.9.0", "query")},
				{mcpconv.EventServerDeregistered, 3 * time.Second, map[string]any{mcpconv.ServerKey: "github-1"}},
				{mcpconv.EventServerHealthChanged, 4 * time.Second, map[string]any{mcpconv.ServerKey: "postgres-1", mcpconv.HealthStatus: mcpconv.HealthUnhealthy}},
				{mcpconv.EventServerRegistered, 5 * time.Second, registered("weather-1", "1.1.0", "get_weather", "get_forecast")},
			},
			want: []Server{
				{Key: "postgres-1", Name: "Server postgres-1", URL: "http://postgres-1:8080/mcp", Version: "0.9.0",
					Transport: "streamable_http", Tools: []string{"query"}, Health: mcpconv.HealthUnhealthy,
					HealthChangedAt: at(4 * time.Second), RegisteredAt: at(2 * time.Second), UpdatedAt: at(4 * time.Second), ServiceName: "router-a"},
				{Key: "weather-1", Name: "Server weather-1", URL: "http://weather-1:8080/mcp", Version: "1.1.0",
					Transport: "streamable_http", Tools: []string{"get_weather", "get_forecast"}, Health: mcpconv.HealthHealthy,
					HealthChangedAt: at(5 * time.Second), RegisteredAt: at(5 * time.Second), UpdatedAt: at(5 * time.Second), ServiceName: "router-a"},
			},
		},
		{
			name: "arrival order does not matter: a late deregistration older than the registration",
			events: []event{
				{mcpconv.EventServerRegistered, 10 * time.Second, registered("slack-1", "3.0.0")},
				{mcpconv.EventServerDeregistered, 5 * time.Second, map[string]any{mcpconv.ServerKey: "slack-1"}},
				{mcpconv.EventServerRegistered, 0, registered("jira-1", "1.0.0")},
				{mcpconv.EventServerDeregistered, 7 * time.Second, map[string]any{mcpconv.ServerKey: "jira-1"}},
			},
			want: []Server{
				{Key: "slack-1", Name: "Server slack-1", URL: "http://slack-1:8080/mcp", Version: "3.0.0",
					Transport: "streamable_http", Tools: []string{}, Health: mcpconv.HealthHealthy,
					HealthChangedAt: at(10 * time.Second), RegisteredAt: at(10 * time.Second), UpdatedAt: at(10 * time.Second), ServiceName: "router-a"},
			},
		},
		{
			name: "a server known only from a health change is not registered",
			events: []event{
				{mcpconv.EventServerHealthChanged, 0, map[string]any{mcpconv.ServerKey: "ghost-1", mcpconv.HealthStatus: mcpconv.HealthHealthy}},
			},
			want: []Server{},
		},
	}
	pool, err := pgxpool.New(context.Background(), testDB.DSN)
	require.NoError(t, err)
	defer pool.Close()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schema := fmt.Sprintf("registry_%d", i)
			writeThroughExporter(t, schema, tt.events)
			got, err := Load(context.Background(), pool, schema)
			require.NoError(t, err)
			if got == nil {
				got = []Server{}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLoadRefusesBadInput(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), testDB.DSN)
	require.NoError(t, err)
	defer pool.Close()
	_, err = Load(context.Background(), pool, `mcp"; DROP TABLE x; --`)
	assert.ErrorContains(t, err, "must be a lower-case SQL identifier")
	_, err = Load(context.Background(), nil, "mcp")
	assert.Error(t, err)
	_, err = Load(context.Background(), pool, "no_such_schema")
	assert.ErrorContains(t, err, "no_such_schema.mcp_server")
}
