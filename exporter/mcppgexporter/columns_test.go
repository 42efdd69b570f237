package mcppgexporter

import (
	"context"
	"encoding/hex"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/schema"
)

// byName maps a row of t to its columns by name.
func byName(t *table, row []any) map[string]any {
	if len(row) != len(t.columns) {
		panic(t.name + ": the row's length is not the table's")
	}
	out := make(map[string]any, len(row))
	for i, c := range t.columns {
		out[c] = row[i]
	}
	return out
}

// rowOf makes a row of t from values by column name; the other columns are
// NULL.
func rowOf(t *table, values map[string]any) []any {
	row := make([]any, len(t.columns))
	for name, v := range values {
		row[t.index(name)] = v
	}
	return row
}

// notWritten are the columns of the schema the exporter deliberately does
// not write: each is generated or has a default.
var notWritten = map[string][]string{
	"routing_log":      {"failed"},
	"tool_call_record": {"failed"},
	"mcp_server":       {"registered"},
}

// notDescribed are the tables of the schema no description writes.
var notDescribed = []string{
	"rejected_event",    // written by the writer itself (copyRejected)
	"schema_migrations", // schema.Apply's
	// The per-minute rollups: triggers queue the minutes the exporter's
	// rows touch, partitionmgr's rollup task recomputes them (schema/0005).
	"rollup_dirty", "routing_rollup_1m", "tool_call_rollup_1m", "health_rollup_1m", "session_rollup_1m",
}

// TestDescriptionsMatchSchema applies the migrations to a fresh schema and
// holds every description to it, column for column: each described column
// exists with the described type; each column of the table that is not
// described is listed in notWritten and is generated or has a default; the
// time column of a partitioned table is its partition key.
func TestDescriptionsMatchSchema(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	s := freshSchema("described")
	_, err := schema.Apply(ctx, pool, s)
	require.NoError(t, err)

	type dbColumn struct {
		typ        string
		generated  bool
		hasDefault bool
	}
	rows, err := pool.Query(ctx, `SELECT c.table_name, c.column_name, format_type(a.atttypid, a.atttypmod),
			c.is_generated = 'ALWAYS', c.column_default IS NOT NULL OR c.is_identity = 'YES'
		FROM information_schema.columns c
		JOIN pg_attribute a ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass
			AND a.attname = c.column_name
		JOIN pg_class r ON r.oid = a.attrelid
		WHERE c.table_schema = $1 AND r.relkind IN ('r', 'p') AND NOT r.relispartition`, s)
	require.NoError(t, err)
	schemaTables := map[string]map[string]dbColumn{}
	for rows.Next() {
		var tbl, col string
		var c dbColumn
		require.NoError(t, rows.Scan(&tbl, &col, &c.typ, &c.generated, &c.hasDefault))
		if schemaTables[tbl] == nil {
			schemaTables[tbl] = map[string]dbColumn{}
		}
		schemaTables[tbl][col] = c
	}
	require.NoError(t, rows.Err())

	var described []string
	for _, tbl := range tables {
		described = append(described, tbl.name)
		cols, ok := schemaTables[tbl.name]
		if !assert.True(t, ok, "described table %s is not in the schema", tbl.name) {
			continue
		}
		for i, name := range tbl.columns {
			c, ok := cols[name]
			if !assert.True(t, ok, "%s.%s is described but not in the schema", tbl.name, name) {
				continue
			}
			assert.Equal(t, c.typ, tbl.types[i], "type of %s.%s", tbl.name, name)
			assert.False(t, c.generated, "%s.%s is generated: it cannot be written", tbl.name, name)
		}
		for name, c := range cols {
			if slices.Contains(tbl.columns, name) {
				continue
			}
			if !assert.Contains(t, notWritten[tbl.name], name,
				"%s.%s is in the schema but not described: describe it, or list it in notWritten", tbl.name, name) {
				continue
			}
			assert.True(t, c.generated || c.hasDefault, "%s.%s is not written: it must be generated or have a default", tbl.name, name)
		}
		for _, name := range notWritten[tbl.name] {
			assert.Contains(t, cols, name, "notWritten lists %s.%s, which the schema does not have", tbl.name, name)
			assert.NotContains(t, tbl.columns, name, "%s.%s is both described and in notWritten", tbl.name, name)
		}
		if _, partitioned := schema.PartitionedTables[tbl.name]; partitioned {
			var key []string
			require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(a.attname ORDER BY k.i) FROM pg_partitioned_table p
				CROSS JOIN LATERAL unnest(p.partattrs) WITH ORDINALITY AS k(attnum, i)
				JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.attnum
				WHERE p.partrelid = $1::regclass`, pgx.Identifier{s, tbl.name}.Sanitize()).Scan(&key))
			assert.Equal(t, []string{tbl.columns[tbl.timeColumn]}, key, "the time column of %s is its partition key", tbl.name)
		}
	}
	var inSchema []string
	for name := range schemaTables {
		if !slices.Contains(notDescribed, name) {
			inSchema = append(inSchema, name)
		}
	}
	sort.Strings(described)
	sort.Strings(inSchema)
	assert.Equal(t, inSchema, described, "every table of the schema is described, or listed in notDescribed")
}

// roundTrip is one item (or a few merged into one row) written through the
// exporter, and what every column of its row must read back as (text, as
// PostgreSQL renders the column with ::text in time zone UTC; nil for NULL).
type roundTrip struct {
	name  string
	table tableID
	write func(ctx context.Context, e *pgExporter) error
	want  map[string]any
	// ties are columns that may hold the same value, by construction.
	ties [][2]string
}

// anyValue is a want that only requires the column not to be NULL (a hash).
const anyValue = "\x00any"

func tsText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.999999") + "+00" }

func hexText(b []byte) string { return `\x` + hex.EncodeToString(b) }

var (
	rtParent   = pcommon.SpanID{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}
	rtTraceHex = hexText(testTraceID[:])
	rtSpanHex  = hexText(testSpanID[:])
)

func rtSpan(kind ptrace.SpanKind) (ptrace.Traces, ptrace.Span) {
	td, spans := newTestTraces()
	span := spans.AppendEmpty()
	span.SetTraceID(testTraceID)
	span.SetSpanID(testSpanID)
	span.SetParentSpanID(rtParent)
	span.SetKind(kind)
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(testStart))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(testStart.Add(42*time.Millisecond + 7*time.Microsecond)))
	span.TraceState().FromRaw("ot=th:c") // adjusted count 4
	return td, span
}

func rtLogs(build func(plog.LogRecordSlice)) func(context.Context, *pgExporter) error {
	return func(ctx context.Context, e *pgExporter) error {
		ld, records := newTestLogs()
		build(records)
		return e.pushLogs(ctx, ld)
	}
}

func rtMetric(build func(pmetric.Metric)) func(context.Context, *pgExporter) error {
	return func(ctx context.Context, e *pgExporter) error {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr(mcpconv.ServiceName, "mcp-router")
		rm.Resource().Attributes().PutStr(mcpconv.ServiceInstanceID, "router-1")
		build(rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty())
		return e.pushMetrics(ctx, md)
	}
}

// putPointAttrs gives a point every attribute a column of metric_point
// is filled from, and one that stays in attributes.
func putPointAttrs(m pcommon.Map) {
	m.PutStr(mcpconv.ServerKey, "weather-1")
	m.PutStr(mcpconv.ToolName, "get_weather")
	m.PutStr(mcpconv.MethodName, "tools/call")
	m.PutStr("error.type", "timeout")
}

// pointWant is what a metric_point row holds besides the columns of its type.
func pointWant(name, typ string, values map[string]any) map[string]any {
	want := map[string]any{
		"ts": tsText(testStart.Add(time.Minute)), "metric_name": name, "series_id": anyValue, "metric_type": typ,
		"temporality": nil, "is_monotonic": nil, "unit": nil, "start_ts": nil,
		"value": nil, "count": nil, "sum": nil, "min": nil, "max": nil, "bucket_bounds": nil, "bucket_counts": nil,
		"exp_scale": nil, "exp_zero_count": nil, "exp_positive_offset": nil, "exp_positive_counts": nil,
		"exp_negative_offset": nil, "exp_negative_counts": nil, "quantiles": nil, "quantile_values": nil,
		"server_key": "weather-1", "tool_name": "get_weather", "method": "tools/call",
		"service_name": "mcp-router", "service_instance": "router-1", "attributes": `{"error.type": "timeout"}`,
	}
	for k, v := range values {
		if _, ok := want[k]; !ok {
			panic("metric_point has no column " + k)
		}
		want[k] = v
	}
	return want
}

func roundTrips() []roundTrip {
	start, end := tsText(testStart), tsText(testStart.Add(42*time.Millisecond+7*time.Microsecond))
	t1, t2, t3, t4 := testStart, testStart.Add(time.Second), testStart.Add(2*time.Second), testStart.Add(3*time.Second)
	return []roundTrip{
		{
			name: "routing span", table: routingLog,
			write: func(ctx context.Context, e *pgExporter) error {
				td, span := rtSpan(ptrace.SpanKindServer)
				span.SetName("tools/call get_weather")
				span.Status().SetCode(ptrace.StatusCodeError)
				span.Status().SetMessage("upstream timed out")
				a := span.Attributes()
				a.PutStr(mcpconv.MethodName, "tools/call")
				a.PutStr(mcpconv.ToolName, "get_weather")
				a.PutStr(mcpconv.ResourceURI, "file:///forecast.csv")
				a.PutStr(mcpconv.SessionID, "sess-1")
				a.PutInt(mcpconv.JSONRPCRequestID, 17)
				a.PutStr(mcpconv.ServerKey, "weather-1")
				a.PutStr(mcpconv.Strategy, "round_robin")
				a.PutInt(mcpconv.Attempt, 3)
				a.PutStr(mcpconv.ErrorType, "timeout")
				a.PutStr(mcpconv.RPCResponseStatusCode, "-32001")
				a.PutStr(mcpconv.ProtocolVersion, "2025-06-18")
				a.PutStr(mcpconv.NetworkTransport, "tcp")
				a.PutStr(mcpconv.ClientAddress, "10.0.0.7")
				a.PutStr("tenant", "acme")
				return e.pushTraces(ctx, td)
			},
			want: map[string]any{
				"ts": start, "trace_id": rtTraceHex, "span_id": rtSpanHex, "parent_span_id": hexText(rtParent[:]),
				"duration_us": "42007", "span_name": "tools/call get_weather", "method": "tools/call",
				"tool_name": "get_weather", "resource_uri": "file:///forecast.csv", "session_id": "sess-1",
				"request_id": "17", "server_key": "weather-1", "strategy": "round_robin", "attempt": "3",
				"status": "error", "status_message": "upstream timed out", "error_type": "timeout",
				"rpc_status_code": "-32001", "protocol_version": "2025-06-18", "transport": "tcp",
				"client_address": "10.0.0.7", "service_name": "mcp-router", "service_instance": "router-1",
				"adjusted_count": "4", "attributes": `{"tenant": "acme"}`,
			},
		},
		{
			name: "tool call span", table: toolCallRecord,
			write: func(ctx context.Context, e *pgExporter) error {
				td, span := rtSpan(ptrace.SpanKindClient)
				span.Status().SetCode(ptrace.StatusCodeError)
				span.Status().SetMessage("dial failed")
				a := span.Attributes()
				a.PutStr(mcpconv.MethodName, "tools/call")
				a.PutStr(mcpconv.OperationName, "execute_tool")
				a.PutStr(mcpconv.ToolName, "get_weather")
				a.PutStr(mcpconv.ToolCallID, "call-9")
				a.PutStr(mcpconv.SessionID, "sess-9")
				a.PutStr(mcpconv.JSONRPCRequestID, "req-9")
				a.PutStr(mcpconv.ServerKey, "weather-2")
				a.PutStr(mcpconv.ServerAddress, "weather.internal")
				a.PutInt(mcpconv.Attempt, 2)
				a.PutStr(mcpconv.ErrorType, "connection_refused")
				a.PutStr(mcpconv.RPCResponseStatusCode, "-32603")
				a.PutStr("tenant", "acme")
				return e.pushTraces(ctx, td)
			},
			want: map[string]any{
				"ts": start, "trace_id": rtTraceHex, "span_id": rtSpanHex, "parent_span_id": hexText(rtParent[:]),
				"duration_us": "42007", "tool_name": "get_weather", "method": "tools/call", "tool_call_id": "call-9",
				"session_id": "sess-9", "request_id": "req-9", "server_key": "weather-2",
				"server_address": "weather.internal", "attempt": "2", "status": "error", "status_message": "dial failed",
				"error_type": "connection_refused", "rpc_status_code": "-32603", "service_name": "mcp-router",
				"adjusted_count": "4", "attributes": `{"tenant": "acme"}`,
			},
		},
		{
			name: "tool payloads", table: toolCallPayload,
			write: func(ctx context.Context, e *pgExporter) error {
				e.payloads = newPayloadOptions(ToolPayloadsConfig{Enabled: true, RedactKeys: []string{"api_key"}})
				td, span := rtSpan(ptrace.SpanKindClient)
				span.Attributes().PutStr(mcpconv.MethodName, "tools/call")
				span.Attributes().PutStr(mcpconv.ToolArguments, `{"city":"Paris","api_key":"k-1"}`)
				span.Attributes().PutStr(mcpconv.ToolResult, `{"temp_c":21}`)
				return e.pushTraces(ctx, td)
			},
			want: map[string]any{
				"ts": start, "trace_id": rtTraceHex, "span_id": rtSpanHex,
				"arguments": `{"city": "Paris", "api_key": "[REDACTED]"}`, "result": `{"temp_c": 21}`,
			},
		},
		{
			name: "error log record", table: errorLog,
			write: rtLogs(func(rs plog.LogRecordSlice) {
				lr := putEvent(rs, mcpconv.EventError, "err-1", t1)
				lr.SetTraceID(testTraceID)
				lr.SetSpanID(testSpanID)
				lr.SetSeverityNumber(plog.SeverityNumberError)
				lr.SetSeverityText("ERROR")
				lr.Body().SetStr("the body gives way to exception.message")
				a := lr.Attributes()
				a.PutStr(mcpconv.JSONRPCRequestID, "req-1")
				a.PutStr(mcpconv.SessionID, "sess-1")
				a.PutStr(mcpconv.ServerKey, "weather-1")
				a.PutStr(mcpconv.MethodName, "tools/call")
				a.PutStr(mcpconv.ToolName, "get_weather")
				a.PutStr(mcpconv.ErrorType, "parse_error")
				a.PutStr(mcpconv.ExceptionType, "SyntaxError")
				a.PutStr(mcpconv.ExceptionMessage, "unexpected token")
				a.PutStr(mcpconv.ExceptionStacktrace, "at parse (json.js:1)")
				a.PutStr(mcpconv.SamplingThreshold, "8") // adjusted count 2
				a.PutStr("region", "eu")
			}),
			want: map[string]any{
				"ts": tsText(t1), "event_id": "err-1", "source": "log", "event_name": mcpconv.EventError,
				"trace_id": rtTraceHex, "span_id": rtSpanHex, "request_id": "req-1", "session_id": "sess-1",
				"server_key": "weather-1", "method": "tools/call", "tool_name": "get_weather", "error_type": "parse_error",
				"message": "unexpected token", "stacktrace": "at parse (json.js:1)", "severity_number": "17",
				"severity_text": "ERROR", "service_name": "mcp-router", "adjusted_count": "2",
				"attributes": `{"region": "eu", "exception.type": "SyntaxError"}`,
			},
		},
		{
			name: "exception event", table: errorLog,
			write: func(ctx context.Context, e *pgExporter) error {
				td, span := rtSpan(ptrace.SpanKindInternal)
				a := span.Attributes()
				a.PutStr(mcpconv.JSONRPCRequestID, "req-2")
				a.PutStr(mcpconv.SessionID, "sess-2")
				a.PutStr(mcpconv.ServerKey, "weather-2")
				a.PutStr(mcpconv.ToolName, "get_forecast")
				ev := span.Events().AppendEmpty()
				ev.SetName(mcpconv.ExceptionEventName)
				ev.SetTimestamp(pcommon.NewTimestampFromTime(testStart.Add(2 * time.Millisecond)))
				ev.Attributes().PutStr(mcpconv.ExceptionType, "net.OpError")
				ev.Attributes().PutStr(mcpconv.ExceptionMessage, "dial tcp: connection refused")
				ev.Attributes().PutStr(mcpconv.ExceptionStacktrace, "goroutine 1 [running]")
				ev.Attributes().PutStr(mcpconv.SessionID, "the event's own stays")
				return e.pushTraces(ctx, td)
			},
			want: map[string]any{
				"ts": tsText(testStart.Add(2 * time.Millisecond)), "event_id": "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
				"source": "exception", "event_name": nil, "trace_id": rtTraceHex, "span_id": rtSpanHex,
				"request_id": "req-2", "session_id": "sess-2", "server_key": "weather-2", "method": nil,
				"tool_name": "get_forecast", "error_type": "net.OpError", "message": "dial tcp: connection refused",
				"stacktrace": "goroutine 1 [running]", "severity_number": nil, "severity_text": nil,
				"service_name": "mcp-router", "adjusted_count": "4",
				"attributes": `{"exception.type": "net.OpError", "mcp.session.id": "the event's own stays"}`,
			},
		},
		{
			name: "failed span", table: errorLog,
			write: func(ctx context.Context, e *pgExporter) error {
				td, span := rtSpan(ptrace.SpanKindInternal)
				span.Status().SetCode(ptrace.StatusCodeError)
				span.Status().SetMessage("deadline exceeded")
				a := span.Attributes()
				a.PutStr(mcpconv.JSONRPCRequestID, "req-3")
				a.PutStr(mcpconv.SessionID, "sess-3")
				a.PutStr(mcpconv.ServerKey, "weather-3")
				a.PutStr(mcpconv.MethodName, "resources/read")
				a.PutStr(mcpconv.ToolName, "get_alerts")
				a.PutStr(mcpconv.ErrorType, "deadline")
				a.PutStr(mcpconv.ExceptionMessage, "a span's exception.message stays")
				return e.pushTraces(ctx, td)
			},
			want: map[string]any{
				"ts": end, "event_id": "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "source": "span_status",
				"event_name": nil, "trace_id": rtTraceHex, "span_id": rtSpanHex, "request_id": "req-3",
				"session_id": "sess-3", "server_key": "weather-3", "method": "resources/read", "tool_name": "get_alerts",
				"error_type": "deadline", "message": "deadline exceeded", "stacktrace": nil, "severity_number": nil,
				"severity_text": nil, "service_name": "mcp-router", "adjusted_count": "4",
				"attributes": `{"exception.message": "a span's exception.message stays"}`,
			},
		},
		{
			name: "health check", table: healthCheckRecord,
			write: rtLogs(func(rs plog.LogRecordSlice) {
				lr := putEvent(rs, mcpconv.EventHealthCheck, "hc-1", t1)
				lr.Body().SetStr("connection refused")
				a := lr.Attributes()
				a.PutStr(mcpconv.ServerKey, "weather-1")
				a.PutStr(mcpconv.HealthStatus, mcpconv.HealthUnhealthy)
				a.PutStr(mcpconv.HealthCheck, "ping")
				a.PutDouble(mcpconv.HealthLatency, 0.0125)
				a.PutStr(mcpconv.ErrorType, "connection_refused")
				a.PutStr(mcpconv.SamplingThreshold, "8")
				a.PutStr("region", "eu")
			}),
			want: map[string]any{
				"ts": tsText(t1), "event_id": "hc-1", "server_key": "weather-1", "healthy": "false",
				"status": "unhealthy", "check_type": "ping", "latency_us": "12500", "error_type": "connection_refused",
				"message": "connection refused", "service_name": "mcp-router", "adjusted_count": "2",
				"attributes": `{"region": "eu"}`,
			},
		},
		{
			name: "load-balancer decision", table: lbDecision,
			write: rtLogs(func(rs plog.LogRecordSlice) {
				lr := putEvent(rs, mcpconv.EventLBDecision, "lb-1", t1)
				lr.SetTraceID(testTraceID)
				lr.SetSpanID(testSpanID)
				a := lr.Attributes()
				a.PutStr(mcpconv.JSONRPCRequestID, "req-1")
				a.PutStr(mcpconv.SessionID, "sess-1")
				a.PutStr(mcpconv.MethodName, "tools/call")
				a.PutStr(mcpconv.ToolName, "get_weather")
				a.PutStr(mcpconv.Strategy, "least_conn")
				a.PutStr(mcpconv.ServerKey, "weather-2")
				_ = a.PutEmptySlice(mcpconv.LBCandidates).FromRaw([]any{"weather-1", "weather-2"}) // strings only: FromRaw cannot fail
				a.PutStr(mcpconv.LBReason, "fewest in-flight")
				a.PutStr(mcpconv.SamplingThreshold, "8")
				a.PutStr("region", "eu")
			}),
			want: map[string]any{
				"ts": tsText(t1), "event_id": "lb-1", "trace_id": rtTraceHex, "span_id": rtSpanHex,
				"request_id": "req-1", "session_id": "sess-1", "method": "tools/call", "tool_name": "get_weather",
				"strategy": "least_conn", "server_key": "weather-2", "candidates": "{weather-1,weather-2}",
				"reason": "fewest in-flight", "service_name": "mcp-router", "adjusted_count": "2",
				"attributes": `{"region": "eu"}`,
			},
		},
		{
			name: "breaker state change", table: circuitBreakerEvent,
			write: rtLogs(func(rs plog.LogRecordSlice) {
				lr := putEvent(rs, mcpconv.EventBreakerStateChange, "cb-1", t1)
				lr.Body().SetStr("5 consecutive failures")
				a := lr.Attributes()
				a.PutStr(mcpconv.ServerKey, "weather-1")
				a.PutStr(mcpconv.BreakerFromState, mcpconv.BreakerClosed)
				a.PutStr(mcpconv.BreakerToState, mcpconv.BreakerOpen)
				a.PutInt(mcpconv.BreakerFailureCount, 5)
				a.PutStr(mcpconv.SamplingThreshold, "8")
				a.PutStr("region", "eu")
			}),
			want: map[string]any{
				"ts": tsText(t1), "event_id": "cb-1", "server_key": "weather-1", "from_state": "closed",
				"to_state": "open", "failure_count": "5", "reason": "5 consecutive failures",
				"service_name": "mcp-router", "adjusted_count": "2", "attributes": `{"region": "eu"}`,
			},
		},
		{
			// Registered, then its health changed, then deregistered: the
			// upsert merges the three. updated_at is the newest event's
			// time, which that event also writes into its own column.
			name: "server registry", table: mcpServer,
			write: rtLogs(func(rs plog.LogRecordSlice) {
				a := serverEvent(rs, mcpconv.EventServerRegistered, t1, "").Attributes()
				a.PutStr(mcpconv.ServerName, "Weather")
				a.PutStr(mcpconv.ServerURL, "http://weather:8080/mcp")
				a.PutStr(mcpconv.ServerVersion, "1.2.0")
				a.PutStr(mcpconv.ServerTransport, "streamable_http")
				_ = a.PutEmptySlice(mcpconv.ServerTools).FromRaw([]any{"get_weather", "get_alerts"}) // strings only: FromRaw cannot fail
				serverEvent(rs, mcpconv.EventServerHealthChanged, t2, mcpconv.HealthUnhealthy)
				serverEvent(rs, mcpconv.EventServerDeregistered, t3, "").Attributes().PutStr("region", "eu")
			}),
			want: map[string]any{
				"server_key": "weather-1", "name": "Weather", "url": "http://weather:8080/mcp", "version": "1.2.0",
				"transport": "streamable_http", "tools": "{get_weather,get_alerts}", "registered_at": tsText(t1),
				"deregistered_at": tsText(t3), "health_status": "unhealthy", "health_changed_at": tsText(t2),
				"updated_at": tsText(t3), "service_name": "mcp-router", "attributes": `{"region": "eu"}`,
			},
			ties: [][2]string{{"deregistered_at", "updated_at"}},
		},
		{
			name: "session", table: sessionRecord,
			write: rtLogs(func(rs plog.LogRecordSlice) {
				a := putEvent(rs, mcpconv.EventSessionStart, "", t1).Attributes()
				a.PutStr(mcpconv.SessionID, "sess-1")
				a.PutStr(mcpconv.SessionTransport, "sse")
				a.PutStr(mcpconv.ProtocolVersion, "2025-06-18")
				a.PutStr(mcpconv.ClientAddress, "10.0.0.7")
				a.PutStr(mcpconv.ServerKey, "weather-1")
				a = putEvent(rs, mcpconv.EventSessionEnd, "", t2).Attributes()
				a.PutStr(mcpconv.SessionID, "sess-1")
				a.PutStr(mcpconv.SessionCloseReason, "client_closed")
				a = putEvent(rs, mcpconv.EventSessionStats, "", t3).Attributes()
				a.PutStr(mcpconv.SessionID, "sess-1")
				a.PutInt(mcpconv.SessionRequestCount, 40)
				a.PutInt(mcpconv.SessionErrorCount, 2)
				a.PutStr("region", "eu")
			}),
			want: map[string]any{
				"session_id": "sess-1", "transport": "sse", "protocol_version": "2025-06-18",
				"client_address": "10.0.0.7", "server_key": "weather-1", "started_at": tsText(t1),
				"ended_at": tsText(t2), "last_seen_at": tsText(t3), "request_count": "40", "error_count": "2",
				"close_reason": "client_closed", "service_name": "mcp-router", "attributes": `{"region": "eu"}`,
			},
		},
		{
			name: "gauge point", table: metricPoint,
			write: rtMetric(func(m pmetric.Metric) {
				m.SetName("mcp.router.pool.connections")
				dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
				dp.SetTimestamp(pcommon.NewTimestampFromTime(testStart.Add(time.Minute)))
				dp.SetDoubleValue(7.5)
				putPointAttrs(dp.Attributes())
			}),
			want: pointWant("mcp.router.pool.connections", "gauge", map[string]any{"value": "7.5"}),
		},
		{
			name: "sum point", table: metricPoint,
			write: rtMetric(func(m pmetric.Metric) {
				m.SetName("mcp.router.requests")
				m.SetUnit("{request}")
				sum := m.SetEmptySum()
				sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
				sum.SetIsMonotonic(true)
				dp := sum.DataPoints().AppendEmpty()
				dp.SetStartTimestamp(pcommon.NewTimestampFromTime(t4))
				dp.SetTimestamp(pcommon.NewTimestampFromTime(testStart.Add(time.Minute)))
				dp.SetIntValue(12)
				putPointAttrs(dp.Attributes())
			}),
			want: pointWant("mcp.router.requests", "sum", map[string]any{"temporality": "delta", "is_monotonic": "true",
				"unit": "{request}", "start_ts": tsText(t4), "value": "12"}),
		},
		{
			name: "histogram point", table: metricPoint,
			write: rtMetric(func(m pmetric.Metric) {
				m.SetName("mcp.client.operation.duration")
				m.SetUnit("s")
				h := m.SetEmptyHistogram()
				h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
				dp := h.DataPoints().AppendEmpty()
				dp.SetStartTimestamp(pcommon.NewTimestampFromTime(t4))
				dp.SetTimestamp(pcommon.NewTimestampFromTime(testStart.Add(time.Minute)))
				dp.SetCount(10)
				dp.SetSum(1.5)
				dp.SetMin(0.005)
				dp.SetMax(2.5)
				dp.ExplicitBounds().FromRaw([]float64{0.01, 0.1, 1})
				dp.BucketCounts().FromRaw([]uint64{2, 6, 1, 1})
				putPointAttrs(dp.Attributes())
			}),
			want: pointWant("mcp.client.operation.duration", "histogram", map[string]any{"temporality": "cumulative",
				"unit": "s", "start_ts": tsText(t4), "count": "10", "sum": "1.5", "min": "0.005", "max": "2.5",
				"bucket_bounds": "{0.01,0.1,1}", "bucket_counts": "{2,6,1,1}"}),
		},
		{
			name: "exponential histogram point", table: metricPoint,
			write: rtMetric(func(m pmetric.Metric) {
				m.SetName("rpc.latency")
				h := m.SetEmptyExponentialHistogram()
				h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
				dp := h.DataPoints().AppendEmpty()
				dp.SetTimestamp(pcommon.NewTimestampFromTime(testStart.Add(time.Minute)))
				dp.SetScale(3)
				dp.SetZeroCount(1)
				dp.SetCount(9)
				dp.SetSum(0.25)
				dp.SetMin(0.0625)
				dp.SetMax(0.75)
				dp.Positive().SetOffset(-2)
				dp.Positive().BucketCounts().FromRaw([]uint64{4, 2})
				dp.Negative().SetOffset(-5)
				dp.Negative().BucketCounts().FromRaw([]uint64{2})
				putPointAttrs(dp.Attributes())
			}),
			want: pointWant("rpc.latency", "exponential_histogram", map[string]any{"temporality": "delta",
				"count": "9", "sum": "0.25", "min": "0.0625", "max": "0.75", "exp_scale": "3", "exp_zero_count": "1",
				"exp_positive_offset": "-2", "exp_positive_counts": "{4,2}", "exp_negative_offset": "-5",
				"exp_negative_counts": "{2}"}),
		},
		{
			name: "summary point", table: metricPoint,
			write: rtMetric(func(m pmetric.Metric) {
				m.SetName("gc.pause")
				dp := m.SetEmptySummary().DataPoints().AppendEmpty()
				dp.SetTimestamp(pcommon.NewTimestampFromTime(testStart.Add(time.Minute)))
				dp.SetCount(3)
				dp.SetSum(0.3)
				for q, v := range map[float64]float64{0.5: 0.1, 0.99: 0.2} {
					qv := dp.QuantileValues().AppendEmpty()
					qv.SetQuantile(q)
					qv.SetValue(v)
				}
				dp.QuantileValues().Sort(func(a, b pmetric.SummaryDataPointValueAtQuantile) bool {
					return a.Quantile() < b.Quantile()
				})
			}),
			want: func() map[string]any {
				w := pointWant("gc.pause", "summary", map[string]any{"count": "3", "sum": "0.3",
					"quantiles": "{0.5,0.99}", "quantile_values": "{0.1,0.2}"})
				w["server_key"], w["tool_name"], w["method"], w["attributes"] = nil, nil, nil, nil
				return w
			}(),
		},
	}
}

// TestEveryColumnRoundTrips writes, for every table, items whose columns
// each get a value of their own through the exporter into PostgreSQL, and
// reads every column back by name: a description whose entry fills a
// column with another column's value, or names the wrong column, fails
// here. Every described column must be checked by every case of its table
// and hold a value (not NULL) in at least one.
func TestEveryColumnRoundTrips(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testDB.DSN)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer pool.Close()

	filled := map[tableID]map[string]bool{}
	for _, rt := range roundTrips() {
		t.Run(rt.name, func(t *testing.T) {
			tbl := tables[rt.table]
			if filled[rt.table] == nil {
				filled[rt.table] = map[string]bool{}
			}
			wantCols := make([]string, 0, len(rt.want))
			for c := range rt.want {
				wantCols = append(wantCols, c)
			}
			require.ElementsMatch(t, tbl.columns, wantCols, "the case names every column of %s", tbl.name)
			seen := map[string]string{}
			for _, c := range tbl.columns {
				v, _ := rt.want[c].(string)
				if rt.want[c] == nil || v == anyValue {
					continue
				}
				if other, dup := seen[v]; dup && !slices.Contains(rt.ties, [2]string{other, c}) {
					t.Fatalf("the case gives %s and %s the same value %q: give each column its own", other, c, v)
				}
				seen[v] = c
			}

			s := freshSchema("roundtrip")
			e := startDirect(t, s)
			require.NoError(t, rt.write(ctx, e))

			exprs := make([]string, len(tbl.columns))
			for i, c := range tbl.columns {
				exprs[i] = pgx.Identifier{c}.Sanitize() + "::text"
			}
			query := "SELECT " + strings.Join(exprs, ", ") + " FROM " + pgx.Identifier{s, tbl.name}.Sanitize()
			rows, err := pool.Query(ctx, query)
			require.NoError(t, err)
			got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]*string, error) {
				vals := make([]*string, len(tbl.columns))
				ptrs := make([]any, len(vals))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				return vals, r.Scan(ptrs...)
			})
			require.NoError(t, err)
			require.Len(t, got, 1, "one row in %s", tbl.name)
			for i, c := range tbl.columns {
				var have any
				if got[0][i] != nil {
					have = *got[0][i]
					filled[rt.table][c] = true
				}
				if rt.want[c] == anyValue {
					assert.NotNil(t, have, "column %s.%s", tbl.name, c)
					continue
				}
				assert.Equal(t, rt.want[c], have, "column %s.%s", tbl.name, c)
			}
		})
	}
	for id, tbl := range tables {
		for _, c := range tbl.columns {
			assert.True(t, filled[tableID(id)][c], "no case gives %s.%s a value", tbl.name, c)
		}
	}
}
