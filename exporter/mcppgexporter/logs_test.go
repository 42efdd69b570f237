package mcppgexporter

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

func newTestLogs() (plog.Logs, plog.LogRecordSlice) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(mcpconv.ServiceName, "mcp-router")
	return ld, rl.ScopeLogs().AppendEmpty().LogRecords()
}

// putEvent appends an event record at ts with an explicit event id.
func putEvent(records plog.LogRecordSlice, name, id string, ts time.Time) plog.LogRecord {
	lr := records.AppendEmpty()
	lr.SetEventName(name)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	if id != "" {
		lr.Attributes().PutStr(mcpconv.EventID, id)
	}
	return lr
}

func TestLogRows(t *testing.T) {
	ts := testStart
	tests := []struct {
		name  string
		build func(plog.LogRecordSlice)
		table tableID
		want  map[string]any // by column
	}{
		{
			name: "failed health check",
			build: func(rs plog.LogRecordSlice) {
				lr := putEvent(rs, mcpconv.EventHealthCheck, "hc-1", ts)
				lr.Body().SetStr("connection refused")
				a := lr.Attributes()
				a.PutStr(mcpconv.ServerKey, "weather-1")
				a.PutStr(mcpconv.HealthStatus, mcpconv.HealthUnhealthy)
				a.PutStr(mcpconv.HealthCheck, "ping")
				a.PutDouble(mcpconv.HealthLatency, 0.0125)
				a.PutStr(mcpconv.ErrorType, "connection_refused")
				a.PutStr(mcpconv.SamplingThreshold, "8") // kept with probability 1/2
				a.PutStr("region", "eu")
			},
			table: healthCheckRecord,
			want: map[string]any{
				"ts":             ts,
				"event_id":       "hc-1",
				"server_key":     "weather-1",
				"healthy":        false,
				"status":         "unhealthy",
				"check_type":     "ping",
				"latency_us":     int64(12500),
				"error_type":     "connection_refused",
				"message":        "connection refused",
				"service_name":   "mcp-router",
				"adjusted_count": 2.0,
				"attributes":     json.RawMessage(`{"region":"eu"}`),
			},
		},
		{
			name: "load-balancer decision",
			build: func(rs plog.LogRecordSlice) {
				lr := putEvent(rs, mcpconv.EventLBDecision, "lb-1", ts)
				lr.SetTraceID(testTraceID)
				lr.SetSpanID(testSpanID)
				a := lr.Attributes()
				a.PutStr(mcpconv.JSONRPCRequestID, "req-1")
				a.PutStr(mcpconv.SessionID, "sess-1")
				a.PutStr(mcpconv.MethodName, "tools/call")
				a.PutStr(mcpconv.ToolName, "get_weather")
				a.PutStr(mcpconv.Strategy, "least_conn")
				a.PutStr(mcpconv.ServerKey, "weather-2")
				c := a.PutEmptySlice(mcpconv.LBCandidates)
				c.AppendEmpty().SetStr("weather-1")
				c.AppendEmpty().SetStr("weather-2")
				a.PutStr(mcpconv.LBReason, "fewest in-flight")
			},
			table: lbDecision,
			want: map[string]any{
				"ts":             ts,
				"event_id":       "lb-1",
				"trace_id":       testTraceID[:],
				"span_id":        testSpanID[:],
				"request_id":     "req-1",
				"session_id":     "sess-1",
				"method":         "tools/call",
				"tool_name":      "get_weather",
				"strategy":       "least_conn",
				"server_key":     "weather-2",
				"candidates":     []string{"weather-1", "weather-2"},
				"reason":         "fewest in-flight",
				"service_name":   "mcp-router",
				"adjusted_count": 1.0,
				"attributes":     nil,
			},
		},
		{
			name: "breaker opens",
			build: func(rs plog.LogRecordSlice) {
				lr := putEvent(rs, mcpconv.EventBreakerStateChange, "cb-1", ts)
				lr.Body().SetStr("5 consecutive failures")
				a := lr.Attributes()
				a.PutStr(mcpconv.ServerKey, "weather-1")
				a.PutStr(mcpconv.BreakerFromState, mcpconv.BreakerClosed)
				a.PutStr(mcpconv.BreakerToState, mcpconv.BreakerOpen)
				a.PutInt(mcpconv.BreakerFailureCount, 5)
			},
			table: circuitBreakerEvent,
			want: map[string]any{
				"ts":             ts,
				"event_id":       "cb-1",
				"server_key":     "weather-1",
				"from_state":     "closed",
				"to_state":       "open",
				"failure_count":  int64(5),
				"reason":         "5 consecutive failures",
				"service_name":   "mcp-router",
				"adjusted_count": 1.0,
				"attributes":     nil,
			},
		},
		{
			name: "server registered",
			build: func(rs plog.LogRecordSlice) {
				lr := putEvent(rs, mcpconv.EventServerRegistered, "", ts)
				a := lr.Attributes()
				a.PutStr(mcpconv.ServerKey, "weather-1")
				a.PutStr(mcpconv.ServerName, "Weather")
				a.PutStr(mcpconv.ServerURL, "http://weather:8080/mcp")
				a.PutStr(mcpconv.ServerVersion, "1.2.0")
				a.PutStr(mcpconv.ServerTransport, "streamable_http")
				a.PutEmptySlice(mcpconv.ServerTools).AppendEmpty().SetStr("get_weather")
				a.PutStr(mcpconv.HealthStatus, mcpconv.HealthHealthy)
			},
			table: mcpServer,
			want: map[string]any{
				"server_key":        "weather-1",
				"name":              "Weather",
				"url":               "http://weather:8080/mcp",
				"version":           "1.2.0",
				"transport":         "streamable_http",
				"tools":             []string{"get_weather"},
				"registered_at":     ts,
				"deregistered_at":   nil,
				"health_status":     "healthy",
				"health_changed_at": ts,
				"updated_at":        ts,
				"service_name":      "mcp-router",
				"attributes":        nil,
			},
		},
		{
			name: "server deregistered",
			build: func(rs plog.LogRecordSlice) {
				putEvent(rs, mcpconv.EventServerDeregistered, "", ts).Attributes().PutStr(mcpconv.ServerKey, "weather-1")
			},
			table: mcpServer,
			want: map[string]any{
				"server_key":        "weather-1",
				"name":              nil,
				"url":               nil,
				"version":           nil,
				"transport":         nil,
				"tools":             nil,
				"registered_at":     nil,
				"deregistered_at":   ts,
				"health_status":     nil,
				"health_changed_at": nil,
				"updated_at":        ts,
				"service_name":      "mcp-router",
				"attributes":        nil,
			},
		},
		{
			name: "session stats",
			build: func(rs plog.LogRecordSlice) {
				a := putEvent(rs, mcpconv.EventSessionStats, "", ts).Attributes()
				a.PutStr(mcpconv.SessionID, "sess-1")
				a.PutStr(mcpconv.SessionTransport, "sse")
				a.PutInt(mcpconv.SessionRequestCount, 40)
				a.PutInt(mcpconv.SessionErrorCount, 2)
			},
			table: sessionRecord,
			want: map[string]any{
				"session_id":       "sess-1",
				"transport":        "sse",
				"protocol_version": nil,
				"client_address":   nil,
				"server_key":       nil,
				"started_at":       nil,
				"ended_at":         nil,
				"last_seen_at":     ts,
				"request_count":    int64(40),
				"error_count":      int64(2),
				"close_reason":     nil,
				"service_name":     "mcp-router",
				"attributes":       nil,
			},
		},
		{
			name: "error-severity record without event name",
			build: func(rs plog.LogRecordSlice) {
				lr := rs.AppendEmpty()
				lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
				lr.SetSeverityNumber(plog.SeverityNumberError)
				lr.SetSeverityText("ERROR")
				lr.Body().SetStr("upstream returned malformed JSON")
				lr.Attributes().PutStr(mcpconv.EventID, "err-1")
				lr.Attributes().PutStr(mcpconv.ErrorType, "parse_error")
				lr.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
			},
			table: errorLog,
			want: map[string]any{
				"ts":              ts,
				"event_id":        "err-1",
				"source":          "log",
				"event_name":      nil,
				"trace_id":        nil,
				"span_id":         nil,
				"request_id":      nil,
				"session_id":      nil,
				"server_key":      "weather-1",
				"method":          nil,
				"tool_name":       nil,
				"error_type":      "parse_error",
				"message":         "upstream returned malformed JSON",
				"stacktrace":      nil,
				"severity_number": int16(17),
				"severity_text":   "ERROR",
				"service_name":    "mcp-router",
				"adjusted_count":  1.0,
				"attributes":      nil,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ld, records := newTestLogs()
			tt.build(records)
			var b rowBatch
			appendLogs(&b, ld)
			require.Empty(t, b.rejected)
			require.Len(t, b.rows[tt.table], 1, "rows of %s", tables[tt.table].name)
			assert.Equal(t, 1, b.len())
			assert.Equal(t, tt.want, byName(tables[tt.table], b.rows[tt.table][0]))
		})
	}
}

func TestLogRecordsRefusedOrDropped(t *testing.T) {
	ld, records := newTestLogs()
	putEvent(records, mcpconv.EventHealthCheck, "hc-x", testStart).Attributes().PutStr(mcpconv.HealthStatus, "healthy")
	putEvent(records, mcpconv.EventSessionStart, "s-x", testStart)
	info := records.AppendEmpty() // INFO record of no known kind
	info.SetSeverityNumber(plog.SeverityNumberInfo)
	info.Body().SetStr("cache warmed")

	var b rowBatch
	appendLogs(&b, ld)
	assert.Equal(t, 0, b.len())
	assert.Equal(t, [numUnmappedReasons]int64{reasonNoEvent: 1}, b.unmapped.counts)
	require.Len(t, b.rejected, 2)
	assert.Equal(t, rejection{table: "health_check_record", cause: causeMalformed,
		reason:  "missing required attribute mcp.router.server.key on event mcp.router.health_check",
		payload: `{"event_name":"mcp.router.health_check","time_unix_nano":1795602615123456000,"body":null,"attributes":{"event.id":"hc-x","mcp.router.health.status":"healthy"}}`,
	}, b.rejected[0])
	assert.Equal(t, "missing required attribute mcp.session.id on event mcp.router.session.start", b.rejected[1].reason)
}

func TestLogEventIDIsStable(t *testing.T) {
	build := func() plog.Logs {
		ld, records := newTestLogs()
		lr := putEvent(records, mcpconv.EventBreakerStateChange, "", testStart)
		lr.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
		lr.Attributes().PutStr(mcpconv.BreakerToState, mcpconv.BreakerHalfOpen)
		return ld
	}
	var first, again rowBatch
	appendLogs(&first, build())
	appendLogs(&again, build())
	eventID := tables[circuitBreakerEvent].index("event_id")
	id := first.rows[circuitBreakerEvent][0][eventID]
	assert.Equal(t, id, again.rows[circuitBreakerEvent][0][eventID], "the same record hashes to the same event id")
	assert.Regexp(t, `^h-[0-9a-f]+$`, id)

	sampled := build()
	sampled.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutStr(mcpconv.SamplingThreshold, "8")
	var weighted rowBatch
	appendLogs(&weighted, sampled)
	assert.Equal(t, id, weighted.rows[circuitBreakerEvent][0][eventID], "a sampler's weight does not change the event's key")

	ld := build()
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutStr(mcpconv.BreakerToState, mcpconv.BreakerOpen)
	var other rowBatch
	appendLogs(&other, ld)
	assert.NotEqual(t, id, other.rows[circuitBreakerEvent][0][eventID], "a different record hashes differently")
}
