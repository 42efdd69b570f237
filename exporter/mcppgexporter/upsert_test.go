package mcppgexporter

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter/internal/metadata"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// startDirect starts an exporter without queue, pushing straight to schemaName.
func startDirect(t *testing.T, schemaName string) *pgExporter {
	t.Helper()
	return startDirectWith(t, schemaName, componenttest.NewNopTelemetrySettings())
}

// startDirectWith is startDirect reporting its own telemetry to telemetry.
func startDirectWith(t *testing.T, schemaName string, telemetry component.TelemetrySettings) *pgExporter {
	t.Helper()
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = telemetry
	e, err := newPGExporter(testConfig(testDB.DSN, schemaName), set)
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	return e
}

func serverEvent(records plog.LogRecordSlice, name string, at time.Time, health string) plog.LogRecord {
	lr := putEvent(records, name, "", at)
	lr.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
	if health != "" {
		lr.Attributes().PutStr(mcpconv.HealthStatus, health)
	}
	return lr
}

type serverState struct {
	Name         *string
	Registered   bool
	HealthStatus *string
	RegisteredAt *time.Time
	Deregistered *time.Time
	UpdatedAt    time.Time
}

func readServer(t *testing.T, schemaName string) serverState {
	t.Helper()
	pool := testPool(t)
	var s serverState
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT name, registered, health_status, registered_at,
		deregistered_at, updated_at FROM `+pgx.Identifier{schemaName, "mcp_server"}.Sanitize()+` WHERE server_key = 'weather-1'`).Scan(
		&s.Name, &s.Registered, &s.HealthStatus, &s.RegisteredAt, &s.Deregistered, &s.UpdatedAt))
	for _, p := range []*time.Time{s.RegisteredAt, s.Deregistered} {
		if p != nil {
			*p = p.UTC()
		}
	}
	s.UpdatedAt = s.UpdatedAt.UTC()
	return s
}

// TestServerRegistryNewestEventWins delivers registry events out of order
// and twice: the row ends as the newest events say, whatever the order.
func TestServerRegistryNewestEventWins(t *testing.T) {
	ctx := context.Background()
	s := freshSchema("registry")
	e := startDirect(t, s)
	t0 := testStart
	str := func(s string) *string { return &s }

	// Registered at t0 (healthy), then unhealthy at t0+2s, delivered newest first.
	ld, records := newTestLogs()
	serverEvent(records, mcpconv.EventServerHealthChanged, t0.Add(2*time.Second), mcpconv.HealthUnhealthy)
	reg := serverEvent(records, mcpconv.EventServerRegistered, t0, mcpconv.HealthHealthy)
	reg.Attributes().PutStr(mcpconv.ServerName, "Weather")
	require.NoError(t, e.pushLogs(ctx, ld))
	require.NoError(t, e.pushLogs(ctx, ld), "a replay changes nothing")
	assert.Equal(t, serverState{Name: str("Weather"), Registered: true, HealthStatus: str("unhealthy"),
		RegisteredAt: &t0, UpdatedAt: t0.Add(2 * time.Second)}, readServer(t, s))

	// Deregistered at t0+5s; a late health change from t0+1s changes nothing.
	ld, records = newTestLogs()
	serverEvent(records, mcpconv.EventServerDeregistered, t0.Add(5*time.Second), "")
	serverEvent(records, mcpconv.EventServerHealthChanged, t0.Add(time.Second), mcpconv.HealthHealthy)
	require.NoError(t, e.pushLogs(ctx, ld))
	dereg := t0.Add(5 * time.Second)
	assert.Equal(t, serverState{Name: str("Weather"), Registered: false, HealthStatus: str("unhealthy"),
		RegisteredAt: &t0, Deregistered: &dereg, UpdatedAt: dereg}, readServer(t, s))

	// Registered again at t0+9s under a new name: the row comes back.
	ld, records = newTestLogs()
	again := serverEvent(records, mcpconv.EventServerRegistered, t0.Add(9*time.Second), "")
	again.Attributes().PutStr(mcpconv.ServerName, "Weather v2")
	require.NoError(t, e.pushLogs(ctx, ld))
	rereg := t0.Add(9 * time.Second)
	assert.Equal(t, serverState{Name: str("Weather v2"), Registered: true, HealthStatus: str("unhealthy"),
		RegisteredAt: &rereg, Deregistered: &dereg, UpdatedAt: rereg}, readServer(t, s))
}

func TestSessionMergesInAnyOrder(t *testing.T) {
	ctx := context.Background()
	e := startDirect(t, "sessions")
	t0 := testStart
	ld, records := newTestLogs()
	end := putEvent(records, mcpconv.EventSessionEnd, "", t0.Add(90*time.Second))
	end.Attributes().PutStr(mcpconv.SessionID, "sess-1")
	end.Attributes().PutInt(mcpconv.SessionRequestCount, 120)
	end.Attributes().PutInt(mcpconv.SessionErrorCount, 3)
	end.Attributes().PutStr(mcpconv.SessionCloseReason, "client_closed")
	stats := putEvent(records, mcpconv.EventSessionStats, "", t0.Add(30*time.Second))
	stats.Attributes().PutStr(mcpconv.SessionID, "sess-1")
	stats.Attributes().PutInt(mcpconv.SessionRequestCount, 40)
	start := putEvent(records, mcpconv.EventSessionStart, "", t0)
	start.Attributes().PutStr(mcpconv.SessionID, "sess-1")
	start.Attributes().PutStr(mcpconv.SessionTransport, "sse")
	start.Attributes().PutStr(mcpconv.ClientAddress, "10.0.0.7")
	require.NoError(t, e.pushLogs(ctx, ld))

	type session struct {
		Transport, ClientAddress, CloseReason string
		StartedAt, EndedAt, LastSeenAt        time.Time
		Requests, Errors                      int64
	}
	var got session
	require.NoError(t, testPool(t).QueryRow(ctx, `SELECT transport, client_address, close_reason, started_at, ended_at,
		last_seen_at, request_count, error_count FROM sessions.session_record WHERE session_id = 'sess-1'`).Scan(
		&got.Transport, &got.ClientAddress, &got.CloseReason, &got.StartedAt, &got.EndedAt, &got.LastSeenAt, &got.Requests, &got.Errors))
	got.StartedAt, got.EndedAt, got.LastSeenAt = got.StartedAt.UTC(), got.EndedAt.UTC(), got.LastSeenAt.UTC()
	assert.Equal(t, session{Transport: "sse", ClientAddress: "10.0.0.7", CloseReason: "client_closed",
		StartedAt: t0, EndedAt: t0.Add(90 * time.Second), LastSeenAt: t0.Add(90 * time.Second), Requests: 120, Errors: 3}, got)
}

func TestLogTablesAndRefusalsOnce(t *testing.T) {
	ctx := context.Background()
	e := startDirect(t, "log_tables")
	ld, records := newTestLogs()
	for i := range 10 {
		lr := putEvent(records, mcpconv.EventHealthCheck, "", testStart.Add(time.Duration(i)*time.Second))
		lr.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
		lr.Attributes().PutStr(mcpconv.HealthStatus, mcpconv.HealthHealthy)
	}
	lb := putEvent(records, mcpconv.EventLBDecision, "lb-1", testStart)
	lb.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
	cb := putEvent(records, mcpconv.EventBreakerStateChange, "cb-1", testStart)
	cb.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
	cb.Attributes().PutStr(mcpconv.BreakerToState, mcpconv.BreakerOpen)
	putEvent(records, mcpconv.EventHealthCheck, "bad-1", testStart) // no server key: refused

	require.NoError(t, e.pushLogs(ctx, ld))
	require.NoError(t, e.pushLogs(ctx, ld), "replayed")
	pool := testPool(t)
	assert.Equal(t, map[string]int{"health_check_record": 10, "lb_decision": 1, "circuit_breaker_event": 1, "rejected_event": 1},
		map[string]int{
			"health_check_record":   countRows(ctx, t, pool, "log_tables", "health_check_record"),
			"lb_decision":           countRows(ctx, t, pool, "log_tables", "lb_decision"),
			"circuit_breaker_event": countRows(ctx, t, pool, "log_tables", "circuit_breaker_event"),
			"rejected_event":        countRows(ctx, t, pool, "log_tables", "rejected_event"),
		})
	var table, reason string
	require.NoError(t, pool.QueryRow(ctx, "SELECT target_table, reason FROM log_tables.rejected_event").Scan(&table, &reason))
	assert.Equal(t, "health_check_record", table)
	assert.Equal(t, "missing required attribute mcp.router.server.key on event mcp.router.health_check", reason)
}
