package mcppgexporter

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

var (
	testTraceID  = pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	testSpanID   = pcommon.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	testParentID = pcommon.SpanID{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8}
	testStart    = time.Date(2026, 11, 25, 10, 30, 15, 123456000, time.UTC)
)

// newTestTraces builds one resource with one scope and returns its span slice.
func newTestTraces() (ptrace.Traces, ptrace.SpanSlice) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(mcpconv.ServiceName, "mcp-router")
	rs.Resource().Attributes().PutStr(mcpconv.ServiceInstanceID, "router-1")
	return td, rs.ScopeSpans().AppendEmpty().Spans()
}

// putRoutingSpan fills a SERVER tools/call span with every promoted attribute.
func putRoutingSpan(span ptrace.Span, traceID pcommon.TraceID, spanID pcommon.SpanID, start time.Time) {
	span.SetTraceID(traceID)
	span.SetSpanID(spanID)
	span.SetParentSpanID(testParentID)
	span.SetName("tools/call get_weather")
	span.SetKind(ptrace.SpanKindServer)
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(42*time.Millisecond + 7*time.Microsecond)))
	a := span.Attributes()
	a.PutStr(mcpconv.MethodName, "tools/call")
	a.PutStr(mcpconv.ToolName, "get_weather")
	a.PutStr(mcpconv.SessionID, "sess-1")
	a.PutInt(mcpconv.JSONRPCRequestID, 17)
	a.PutStr(mcpconv.ServerKey, "weather-1")
	a.PutStr(mcpconv.Strategy, "round_robin")
	a.PutInt(mcpconv.Attempt, 2)
	a.PutStr(mcpconv.ProtocolVersion, "2025-06-18")
	a.PutStr(mcpconv.NetworkTransport, "tcp")
	a.PutStr(mcpconv.ClientAddress, "10.0.0.7")
	a.PutStr("tenant", "acme")
}

func TestRoutingRowEveryColumn(t *testing.T) {
	td, spans := newTestTraces()
	span := spans.AppendEmpty()
	putRoutingSpan(span, testTraceID, testSpanID, testStart)
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Status().SetMessage("upstream timed out")
	span.Attributes().PutStr(mcpconv.ErrorType, "timeout")
	span.Attributes().PutStr(mcpconv.RPCResponseStatusCode, "-32001")
	span.TraceState().FromRaw("ot=th:c") // kept with probability 1/4

	var b rowBatch
	appendTraces(&b, td, &payloadOptions{})

	require.Len(t, b.rows[routingLog], 1)
	assert.Equal(t, map[string]any{
		"ts":               testStart,
		"trace_id":         testTraceID[:],
		"span_id":          testSpanID[:],
		"parent_span_id":   testParentID[:],
		"duration_us":      int64(42007),
		"span_name":        "tools/call get_weather",
		"method":           "tools/call",
		"tool_name":        "get_weather",
		"resource_uri":     nil,
		"session_id":       "sess-1",
		"request_id":       "17",
		"server_key":       "weather-1",
		"strategy":         "round_robin",
		"attempt":          int64(2),
		"status":           "error",
		"status_message":   "upstream timed out",
		"error_type":       "timeout",
		"rpc_status_code":  "-32001",
		"protocol_version": "2025-06-18",
		"transport":        "tcp",
		"client_address":   "10.0.0.7",
		"service_name":     "mcp-router",
		"service_instance": "router-1",
		"adjusted_count":   4.0,
		"attributes":       json.RawMessage(`{"tenant":"acme"}`),
	}, byName(tables[routingLog], b.rows[routingLog][0]))

	// The failed span recorded no exception: one error row from its status.
	require.Len(t, b.rows[errorLog], 1)
	assert.Equal(t, map[string]any{
		"ts":              testStart.Add(42*time.Millisecond + 7*time.Microsecond),
		"event_id":        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
		"source":          "span_status",
		"event_name":      nil,
		"trace_id":        testTraceID[:],
		"span_id":         testSpanID[:],
		"request_id":      "17",
		"session_id":      "sess-1",
		"server_key":      "weather-1",
		"method":          "tools/call",
		"tool_name":       "get_weather",
		"error_type":      "timeout",
		"message":         "upstream timed out",
		"stacktrace":      nil,
		"severity_number": nil,
		"severity_text":   nil,
		"service_name":    "mcp-router",
		"adjusted_count":  4.0,
		"attributes":      json.RawMessage(`{"mcp.router.strategy":"round_robin","mcp.router.attempt":2,"mcp.protocol.version":"2025-06-18","network.transport":"tcp","client.address":"10.0.0.7","tenant":"acme","rpc.response.status_code":"-32001"}`),
	}, byName(tables[errorLog], b.rows[errorLog][0]))
	assert.Empty(t, b.rows[toolCallRecord])
}

func TestToolCallRowAndExceptions(t *testing.T) {
	td, spans := newTestTraces()
	span := spans.AppendEmpty()
	span.SetTraceID(testTraceID)
	span.SetSpanID(testSpanID)
	span.SetName("tools/call get_weather")
	span.SetKind(ptrace.SpanKindClient)
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(testStart))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(testStart.Add(3 * time.Millisecond)))
	span.Status().SetCode(ptrace.StatusCodeError)
	a := span.Attributes()
	a.PutStr(mcpconv.MethodName, "tools/call")
	a.PutStr(mcpconv.OperationName, "execute_tool")
	a.PutStr(mcpconv.ToolName, "get_weather")
	a.PutStr(mcpconv.ToolCallID, "call-9")
	a.PutStr(mcpconv.JSONRPCRequestID, "req-9")
	a.PutStr(mcpconv.ServerKey, "weather-1")
	a.PutStr(mcpconv.ServerAddress, "weather.internal")
	a.PutInt(mcpconv.Attempt, 1)
	a.PutStr(mcpconv.ErrorType, "connection_refused")
	ev := span.Events().AppendEmpty()
	ev.SetName("log") // not an exception: ignored
	ev = span.Events().AppendEmpty()
	ev.SetName(mcpconv.ExceptionEventName)
	ev.SetTimestamp(pcommon.NewTimestampFromTime(testStart.Add(2 * time.Millisecond)))
	ev.Attributes().PutStr(mcpconv.ExceptionType, "net.OpError")
	ev.Attributes().PutStr(mcpconv.ExceptionMessage, "dial tcp: connection refused")
	ev.Attributes().PutStr(mcpconv.ExceptionStacktrace, "goroutine 1 [running]")

	var b rowBatch
	appendTraces(&b, td, &payloadOptions{})

	require.Len(t, b.rows[toolCallRecord], 1)
	assert.Equal(t, map[string]any{
		"ts":              testStart,
		"trace_id":        testTraceID[:],
		"span_id":         testSpanID[:],
		"parent_span_id":  nil,
		"duration_us":     int64(3000),
		"tool_name":       "get_weather",
		"method":          "tools/call",
		"tool_call_id":    "call-9",
		"session_id":      nil,
		"request_id":      "req-9",
		"server_key":      "weather-1",
		"server_address":  "weather.internal",
		"attempt":         int64(1),
		"status":          "error",
		"status_message":  nil,
		"error_type":      "connection_refused",
		"rpc_status_code": nil,
		"service_name":    "mcp-router",
		"adjusted_count":  1.0,
		"attributes":      nil,
	}, byName(tables[toolCallRecord], b.rows[toolCallRecord][0]))

	// The exception event is the error row, classed by the span's error.type;
	// the failed status adds none.
	require.Len(t, b.rows[errorLog], 1)
	assert.Equal(t, map[string]any{
		"ts":              testStart.Add(2 * time.Millisecond),
		"event_id":        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
		"source":          "exception",
		"event_name":      nil,
		"trace_id":        testTraceID[:],
		"span_id":         testSpanID[:],
		"request_id":      "req-9",
		"session_id":      nil,
		"server_key":      "weather-1",
		"method":          "tools/call",
		"tool_name":       "get_weather",
		"error_type":      "connection_refused",
		"message":         "dial tcp: connection refused",
		"stacktrace":      "goroutine 1 [running]",
		"severity_number": nil,
		"severity_text":   nil,
		"service_name":    "mcp-router",
		"adjusted_count":  1.0,
		"attributes":      json.RawMessage(`{"exception.type":"net.OpError"}`),
	}, byName(tables[errorLog], b.rows[errorLog][0]))
	assert.Empty(t, b.rows[routingLog])
}

func TestSpansWithoutATableAreCountedByReason(t *testing.T) {
	td, spans := newTestTraces()
	td.ResourceSpans().At(0).ScopeSpans().At(0).Scope().SetName("@vendor/mcp")
	internal := spans.AppendEmpty() // no mcp.method.name
	internal.SetKind(ptrace.SpanKindInternal)
	internal.SetName("cache lookup")
	internal.SetStartTimestamp(pcommon.NewTimestampFromTime(testStart))
	internal.SetEndTimestamp(pcommon.NewTimestampFromTime(testStart))
	noRole := spans.AppendEmpty() // an MCP operation, but which side?
	noRole.SetKind(ptrace.SpanKindInternal)
	noRole.SetName("tools/call echo")
	noRole.SetStartTimestamp(pcommon.NewTimestampFromTime(testStart))
	noRole.SetEndTimestamp(pcommon.NewTimestampFromTime(testStart))
	noRole.Attributes().PutStr(mcpconv.MethodName, "tools/call")
	failed := spans.AppendEmpty() // no table, but an error_log row
	failed.SetKind(ptrace.SpanKindInternal)
	failed.SetStartTimestamp(pcommon.NewTimestampFromTime(testStart))
	failed.SetEndTimestamp(pcommon.NewTimestampFromTime(testStart))
	failed.Status().SetCode(ptrace.StatusCodeError)

	var b rowBatch
	appendTraces(&b, td, &payloadOptions{})
	assert.Equal(t, 1, b.len(), "only the failed span's error_log row")
	assert.Len(t, b.rows[errorLog], 1)
	assert.Equal(t, [numUnmappedReasons]int64{reasonNotMCP: 1, reasonNoRole: 1}, b.unmapped.counts)
	assert.Equal(t, []unmappedSample{
		{reason: reasonNotMCP, scope: "@vendor/mcp", name: "cache lookup"},
		{reason: reasonNoRole, scope: "@vendor/mcp", name: "tools/call echo"},
	}, b.unmapped.samples)
}

// Every operation of a calling side is a tool_call_record row with its
// method, not only tools/call.
func TestClientSpansOfEveryMethodAreToolCallRows(t *testing.T) {
	td, spans := newTestTraces()
	for _, method := range []string{"initialize", "tools/list", "prompts/get"} {
		s := spans.AppendEmpty()
		s.SetKind(ptrace.SpanKindClient)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(testStart))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(testStart))
		s.Attributes().PutStr(mcpconv.MethodName, method)
	}
	var b rowBatch
	appendTraces(&b, td, &payloadOptions{})
	require.Len(t, b.rows[toolCallRecord], 3)
	method := tables[toolCallRecord].index("method")
	for i, want := range []string{"initialize", "tools/list", "prompts/get"} {
		assert.Equal(t, want, b.rows[toolCallRecord][i][method])
	}
	assert.Equal(t, [numUnmappedReasons]int64{}, b.unmapped.counts)
}

// No emitter's payload keys reach an attributes column, whatever the table.
func TestPayloadKeysNeverReachAttributes(t *testing.T) {
	m := pcommon.NewMap()
	for _, k := range []string{
		mcpconv.ToolArguments, mcpconv.ToolResult, mcpconv.GenAIToolCallArguments, mcpconv.GenAIToolCallResult,
		mcpconv.TraceloopEntityInput, mcpconv.TraceloopEntityOutput, "gen_ai.input.messages", "gen_ai.output.messages",
		"mcp.request.argument.message", "mcp.tool.result.content", "mcp.tool.result.1.content",
		"mcp.prompt.result.message_content", "mcp.logging.message",
	} {
		m.PutStr(k, `{"secret":"s3cr3t"}`)
	}
	m.PutBool("mcp.tool.result.is_error", false) // not payloads
	m.PutInt("mcp.tool.result.content_count", 1)
	m.PutStr("traceloop.span.kind", "tool")
	got := attributesJSON(m, nil)
	assert.Equal(t, `{"mcp.tool.result.is_error":false,"mcp.tool.result.content_count":1,"traceloop.span.kind":"tool"}`, string(got.(json.RawMessage)))
}

func TestAttributesJSON(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("s", "quote\" backslash\\ newline\n nul\x00 bad\xff é")
	m.PutInt("i", -3)
	m.PutDouble("d", 1.5)
	m.PutDouble("nan", math.NaN())
	m.PutBool("b", true)
	m.PutEmptyBytes("bytes").FromRaw([]byte{1, 2, 3})
	sl := m.PutEmptySlice("slice")
	sl.AppendEmpty().SetStr("a")
	sl.AppendEmpty().SetInt(1)
	m.PutEmptyMap("map").PutStr("k", "v")
	m.PutEmpty("empty")
	m.PutStr("promoted", "x")

	got := attributesJSON(m, keySet("promoted"))
	assert.Equal(t, `{"s":"quote\" backslash\\ newline\n nul\u0000 bad`+"\ufffd"+` é","i":-3,"d":1.5,"nan":"NaN","b":true,"bytes":"AQID","slice":["a",1],"map":{"k":"v"},"empty":null}`, string(got.(json.RawMessage)))
	assert.Nil(t, attributesJSON(m, keySet("s", "i", "d", "nan", "b", "bytes", "slice", "map", "empty", "promoted")))
}
