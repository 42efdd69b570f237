package mcpeventsreceiver

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/receiver/mcpeventsreceiver/internal/metadata"
)

var (
	allPipelines = [numSignals]bool{true, true, true}
	testNow      = time.Date(2025, 6, 18, 12, 5, 0, 0, time.UTC)
	// eventTime is the time the examples carry: 2025-06-18T12:00:00.5Z.
	eventTime = pcommon.Timestamp(time.Date(2025, 6, 18, 12, 0, 0, 500_000_000, time.UTC).UnixNano())
)

func testLimits() decodeLimits { return createDefaultConfig().(*Config).limits() }

// decodeBody decodes a body with the default limits and every pipeline.
func decodeBody(t *testing.T, format bodyFormat, body string) *decoder {
	t.Helper()
	d := newDecoder(testLimits(), allPipelines)
	d.decode([]byte(body), format, testNow)
	return d
}

// decodeValid decodes a body that must be valid.
func decodeValid(t *testing.T, format bodyFormat, body string) *batch {
	t.Helper()
	d := decodeBody(t, format, body)
	require.Empty(t, d.problems)
	require.Zero(t, d.invalidEvents)
	require.False(t, d.tooMany)
	return &d.out
}

// spanView is what a span says, for whole-value comparisons.
type spanView struct {
	Resource      map[string]any
	Scope         string
	Name          string
	Kind          ptrace.SpanKind
	TraceID       string
	SpanID        string
	ParentSpanID  string
	TraceState    string
	Start, End    pcommon.Timestamp
	StatusCode    ptrace.StatusCode
	StatusMessage string
	Attributes    map[string]any
	Events        []eventView
}

type eventView struct {
	Name       string
	Time       pcommon.Timestamp
	Attributes map[string]any
}

type logView struct {
	Resource       map[string]any
	Scope          string
	EventName      string
	Time, Observed pcommon.Timestamp
	SeverityNumber plog.SeverityNumber
	SeverityText   string
	Body           string
	TraceID        string
	SpanID         string
	Attributes     map[string]any
}

type pointView struct {
	Resource   map[string]any
	Metric     string
	Unit       string
	Type       pmetric.MetricType
	Time       pcommon.Timestamp
	Value      int64
	Attributes map[string]any
}

func idHex(b []byte) string {
	for _, c := range b {
		if c != 0 {
			return hex.EncodeToString(b)
		}
	}
	return ""
}

func spanViews(td ptrace.Traces) []spanView {
	var out []spanView
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				sp := ss.Spans().At(k)
				tid, sid, pid := sp.TraceID(), sp.SpanID(), sp.ParentSpanID()
				v := spanView{
					Resource: rs.Resource().Attributes().AsRaw(), Scope: ss.Scope().Name(),
					Name: sp.Name(), Kind: sp.Kind(), TraceID: idHex(tid[:]), SpanID: idHex(sid[:]),
					ParentSpanID: idHex(pid[:]), TraceState: sp.TraceState().AsRaw(),
					Start: sp.StartTimestamp(), End: sp.EndTimestamp(),
					StatusCode: sp.Status().Code(), StatusMessage: sp.Status().Message(),
					Attributes: sp.Attributes().AsRaw(),
				}
				for e := 0; e < sp.Events().Len(); e++ {
					ev := sp.Events().At(e)
					v.Events = append(v.Events, eventView{Name: ev.Name(), Time: ev.Timestamp(), Attributes: ev.Attributes().AsRaw()})
				}
				out = append(out, v)
			}
		}
	}
	return out
}

func logViews(ld plog.Logs) []logView {
	var out []logView
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			for k := 0; k < sl.LogRecords().Len(); k++ {
				lr := sl.LogRecords().At(k)
				tid, sid := lr.TraceID(), lr.SpanID()
				out = append(out, logView{
					Resource: rl.Resource().Attributes().AsRaw(), Scope: sl.Scope().Name(),
					EventName: lr.EventName(), Time: lr.Timestamp(), Observed: lr.ObservedTimestamp(),
					SeverityNumber: lr.SeverityNumber(), SeverityText: lr.SeverityText(), Body: lr.Body().AsString(),
					TraceID: idHex(tid[:]), SpanID: idHex(sid[:]), Attributes: lr.Attributes().AsRaw(),
				})
			}
		}
	}
	return out
}

func pointViews(md pmetric.Metrics) []pointView {
	var out []pointView
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			ms := rm.ScopeMetrics().At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				points := m.Gauge().DataPoints()
				for p := 0; p < points.Len(); p++ {
					dp := points.At(p)
					out = append(out, pointView{Resource: rm.Resource().Attributes().AsRaw(), Metric: m.Name(),
						Unit: m.Unit(), Type: m.Type(), Time: dp.Timestamp(), Value: dp.IntValue(),
						Attributes: dp.Attributes().AsRaw()})
				}
			}
		}
	}
	return out
}

var routerResource = map[string]any{mcpconv.ServiceName: "mcp-router", mcpconv.ServiceInstanceID: "router-1"}

const resourceFields = `"service_name":"mcp-router","service_instance_id":"router-1",`

func TestSpanEventsMapToPdata(t *testing.T) {
	tests := []struct {
		name  string
		event string
		want  spanView
	}{
		{
			name: "routing, every field",
			event: `{"type":"routing","id":"req-17",` + resourceFields + `"time":"2025-06-18T12:00:00.5Z","duration_ms":12.5,
				"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","parent_span_id":"00f067aa0ba902b6",
				"method":"tools/call","target":"get_weather","tool":"get_weather","resource_uri":"file:///a",
				"session_id":"sess-1","request_id":17,"server_key":"weather-1","strategy":"least_conn","attempt":2,
				"status":"error","error_type":"timeout","error_message":"upstream timed out","rpc_status_code":-32603,
				"protocol_version":"2025-06-18","transport":"tcp","client_address":"10.0.0.7",
				"exception":{"type":"TimeoutError","message":"no answer in 10s","stacktrace":"at call()"},
				"sampling_threshold":"e6666666666666","attributes":{"tenant":"acme","retries":[1,2],"ratio":0.5,"cached":false}}`,
			want: spanView{
				Resource: routerResource, Scope: metadata.ScopeName, Name: "tools/call get_weather", Kind: ptrace.SpanKindServer,
				TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", ParentSpanID: "00f067aa0ba902b6",
				TraceState: "ot=th:e6666666666666", Start: eventTime, End: eventTime + 12_500_000,
				StatusCode: ptrace.StatusCodeError, StatusMessage: "upstream timed out",
				Attributes: map[string]any{
					mcpconv.MethodName: "tools/call", mcpconv.ToolName: "get_weather", mcpconv.ResourceURI: "file:///a",
					mcpconv.SessionID: "sess-1", mcpconv.JSONRPCRequestID: "17", mcpconv.ServerKey: "weather-1",
					mcpconv.Strategy: "least_conn", mcpconv.Attempt: int64(2), mcpconv.ErrorType: "timeout",
					mcpconv.RPCResponseStatusCode: "-32603", mcpconv.ProtocolVersion: "2025-06-18",
					mcpconv.NetworkTransport: "tcp", mcpconv.ClientAddress: "10.0.0.7",
					"tenant": "acme", "retries": []any{int64(1), int64(2)}, "ratio": 0.5, "cached": false,
				},
				Events: []eventView{{Name: "exception", Time: eventTime + 12_500_000, Attributes: map[string]any{
					mcpconv.ExceptionType: "TimeoutError", mcpconv.ExceptionMessage: "no answer in 10s",
					mcpconv.ExceptionStacktrace: "at call()"}}},
			},
		},
		{
			name:  "routing, least: name is the method, ids derived from the id, status unset",
			event: `{"type":"routing","id":"req-1","time":1750248000500000000,"method":"tools/list","duration_ms":3}`,
			want: spanView{
				Resource: map[string]any{}, Scope: metadata.ScopeName, Name: "tools/list", Kind: ptrace.SpanKindServer,
				// Derived from the id: pinned, as a retry after an upgrade
				// must get the same ones.
				TraceID: "44ad815a525bbcd726f07d54d401c186", SpanID: "0a766625ee808a37",
				Start: eventTime, End: eventTime + 3_000_000, Attributes: map[string]any{mcpconv.MethodName: "tools/list"},
			},
		},
		{
			name:  "routing: the tool is the default target; error_type alone makes the status error",
			event: `{"type":"routing","id":"r","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","time":"1750248000500000000","method":"tools/call","tool":"search","duration_ms":0,"error_type":"tool_error"}`,
			want: spanView{
				Resource: map[string]any{}, Scope: metadata.ScopeName, Name: "tools/call search", Kind: ptrace.SpanKindServer,
				TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
				Start: eventTime, End: eventTime, StatusCode: ptrace.StatusCodeError,
				Attributes: map[string]any{mcpconv.MethodName: "tools/call", mcpconv.ToolName: "search", mcpconv.ErrorType: "tool_error"},
			},
		},
		{
			name:  "routing: status ok",
			event: `{"type":"routing","id":"r","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","time":"2025-06-18T14:00:00.5+02:00","method":"initialize","duration_ms":1,"status":"ok"}`,
			want: spanView{
				Resource: map[string]any{}, Scope: metadata.ScopeName, Name: "initialize", Kind: ptrace.SpanKindServer,
				TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
				Start: eventTime, End: eventTime + 1_000_000, StatusCode: ptrace.StatusCodeOk,
				Attributes: map[string]any{mcpconv.MethodName: "initialize"},
			},
		},
		{
			name: "tool_call, every field",
			event: `{"type":"tool_call","id":"call-9",` + resourceFields + `"time":"2025-06-18T12:00:00.500000000Z","duration_ms":250,
				"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b8","parent_span_id":"00f067aa0ba902b7",
				"tool":"get_weather","tool_call_id":"call_abc","session_id":"sess-1","request_id":"17","server_key":"weather-1",
				"server_address":"weather.internal","server_port":8080,"attempt":1,"status":"error","error_type":"-32602",
				"rpc_status_code":"-32602","arguments":{"city": "Paris", "api_key": "secret"},"result":[1, "two"],
				"exception":{"message":"invalid params"},"sampling_threshold":"0","attributes":{"upstream.region":"eu"}}`,
			want: spanView{
				Resource: routerResource, Scope: metadata.ScopeName, Name: "tools/call get_weather", Kind: ptrace.SpanKindClient,
				TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b8", ParentSpanID: "00f067aa0ba902b7",
				TraceState: "ot=th:0", Start: eventTime, End: eventTime + 250_000_000, StatusCode: ptrace.StatusCodeError,
				Attributes: map[string]any{
					mcpconv.MethodName: "tools/call", mcpconv.OperationName: "execute_tool", mcpconv.ToolName: "get_weather",
					mcpconv.ToolCallID: "call_abc", mcpconv.SessionID: "sess-1", mcpconv.JSONRPCRequestID: "17",
					mcpconv.ServerKey: "weather-1", mcpconv.ServerAddress: "weather.internal", mcpconv.ServerPort: int64(8080),
					mcpconv.Attempt: int64(1), mcpconv.ErrorType: "-32602", mcpconv.RPCResponseStatusCode: "-32602",
					mcpconv.ToolArguments: `{"city": "Paris", "api_key": "secret"}`, mcpconv.ToolResult: `[1, "two"]`,
					"upstream.region": "eu",
				},
				Events: []eventView{{Name: "exception", Time: eventTime + 250_000_000,
					Attributes: map[string]any{mcpconv.ExceptionMessage: "invalid params"}}},
			},
		},
		{
			name:  "tool_call, least",
			event: `{"type":"tool_call","id":"call-1","time":"2025-06-18T12:00:00.5Z","tool":"search","duration_ms":0.001}`,
			want: spanView{
				Resource: map[string]any{}, Scope: metadata.ScopeName, Name: "tools/call search", Kind: ptrace.SpanKindClient,
				TraceID: "4b9cdbd873bf775205512f6a66527e6d", SpanID: "17540aed226d9552",
				Start: eventTime, End: eventTime + 1000,
				Attributes: map[string]any{mcpconv.MethodName: "tools/call", mcpconv.OperationName: "execute_tool",
					mcpconv.ToolName: "search"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := decodeValid(t, formatNDJSON, strings.ReplaceAll(strings.ReplaceAll(tt.event, "\n", ""), "\t", ""))
			assert.Equal(t, []spanView{tt.want}, spanViews(b.traces))
			assert.Equal(t, 1, b.spans)
			assert.Zero(t, b.records+b.points)
			// The classification the sampler and the exporter apply.
			want := mcpconv.KindRouting
			if tt.want.Kind == ptrace.SpanKindClient {
				want = mcpconv.KindToolCall
			}
			assert.Equal(t, want, mcpconv.ClassifySpan(b.traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)))
		})
	}
}

func TestLogEventsMapToPdata(t *testing.T) {
	observed := pcommon.NewTimestampFromTime(testNow)
	log := func(eventName string, attrs map[string]any) logView {
		return logView{Resource: map[string]any{}, Scope: metadata.ScopeName, EventName: eventName,
			Time: eventTime, Observed: observed, Attributes: attrs}
	}
	withAll := func(v logView, f func(*logView)) logView {
		v.Resource = routerResource
		f(&v)
		return v
	}
	tests := []struct {
		name  string
		event string
		want  logView
		kind  mcpconv.Kind
	}{
		{
			name: "health_check, every field",
			event: `{"type":"health_check","id":"hc-1",` + resourceFields + `"time":"2025-06-18T12:00:00.5Z","server_key":"weather-2",
				"health_status":"unhealthy","check":"ping","latency_ms":2000,"error_type":"timeout","message":"ping timed out after 2s",
				"severity":"WARN","sampling_threshold":"e6666666666666","attributes":{"probe.region":"eu"}}`,
			want: withAll(log(mcpconv.EventHealthCheck, map[string]any{
				mcpconv.EventID: "hc-1", mcpconv.ServerKey: "weather-2", mcpconv.HealthStatus: "unhealthy",
				mcpconv.HealthCheck: "ping", mcpconv.HealthLatency: 2.0, mcpconv.ErrorType: "timeout",
				mcpconv.SamplingThreshold: "e6666666666666", "probe.region": "eu",
			}), func(v *logView) {
				v.SeverityNumber, v.SeverityText, v.Body = plog.SeverityNumberWarn, "WARN", "ping timed out after 2s"
			}),
			kind: mcpconv.KindHealthCheck,
		},
		{
			name:  "health_check, least",
			event: `{"type":"health_check","id":"hc-2","time":"2025-06-18T12:00:00.5Z","server_key":"weather-1","health_status":"healthy"}`,
			want: log(mcpconv.EventHealthCheck, map[string]any{mcpconv.EventID: "hc-2", mcpconv.ServerKey: "weather-1",
				mcpconv.HealthStatus: "healthy"}),
			kind: mcpconv.KindHealthCheck,
		},
		{
			name: "server_registered",
			event: `{"type":"server_registered","id":"reg-1",` + resourceFields + `"time":"2025-06-18T12:00:00.5Z","server_key":"weather-1",
				"name":"Weather","url":"http://weather.internal:8080/mcp","version":"1.4.2","transport":"streamable_http",
				"tools":["get_weather","get_forecast"],"health_status":"healthy","severity":"INFO"}`,
			want: withAll(log(mcpconv.EventServerRegistered, map[string]any{
				mcpconv.EventID: "reg-1", mcpconv.ServerKey: "weather-1", mcpconv.ServerName: "Weather",
				mcpconv.ServerURL: "http://weather.internal:8080/mcp", mcpconv.ServerVersion: "1.4.2",
				mcpconv.ServerTransport: "streamable_http", mcpconv.ServerTools: []any{"get_weather", "get_forecast"},
				mcpconv.HealthStatus: "healthy",
			}), func(v *logView) { v.SeverityNumber, v.SeverityText = plog.SeverityNumberInfo, "INFO" }),
			kind: mcpconv.KindServer,
		},
		{
			name:  "server_deregistered",
			event: `{"type":"server_deregistered","id":"dereg-1","time":"2025-06-18T12:00:00.5Z","server_key":"weather-1"}`,
			want:  log(mcpconv.EventServerDeregistered, map[string]any{mcpconv.EventID: "dereg-1", mcpconv.ServerKey: "weather-1"}),
			kind:  mcpconv.KindServer,
		},
		{
			name:  "server_health_changed",
			event: `{"type":"server_health_changed","id":"h-1","time":"2025-06-18T12:00:00.5Z","server_key":"weather-1","health_status":"unhealthy","severity":"WARN"}`,
			want: func() logView {
				v := log(mcpconv.EventServerHealthChanged, map[string]any{mcpconv.EventID: "h-1", mcpconv.ServerKey: "weather-1",
					mcpconv.HealthStatus: "unhealthy"})
				v.SeverityNumber, v.SeverityText = plog.SeverityNumberWarn, "WARN"
				return v
			}(),
			kind: mcpconv.KindServer,
		},
		{
			name: "session_start",
			event: `{"type":"session_start","id":"s-1","time":"2025-06-18T12:00:00.5Z","session_id":"sess-1","transport":"sse",
				"protocol_version":"2025-06-18","client_address":"10.0.0.7","server_key":"weather-1"}`,
			want: log(mcpconv.EventSessionStart, map[string]any{mcpconv.EventID: "s-1", mcpconv.SessionID: "sess-1",
				mcpconv.SessionTransport: "sse", mcpconv.ProtocolVersion: "2025-06-18", mcpconv.ClientAddress: "10.0.0.7",
				mcpconv.ServerKey: "weather-1"}),
			kind: mcpconv.KindSession,
		},
		{
			name:  "session_stats",
			event: `{"type":"session_stats","id":"s-2","time":"2025-06-18T12:00:00.5Z","session_id":"sess-1","request_count":42,"error_count":3}`,
			want: log(mcpconv.EventSessionStats, map[string]any{mcpconv.EventID: "s-2", mcpconv.SessionID: "sess-1",
				mcpconv.SessionRequestCount: int64(42), mcpconv.SessionErrorCount: int64(3)}),
			kind: mcpconv.KindSession,
		},
		{
			name:  "session_end",
			event: `{"type":"session_end","id":"s-3","time":"2025-06-18T12:00:00.5Z","session_id":"sess-1","request_count":57,"error_count":4,"close_reason":"client_closed"}`,
			want: log(mcpconv.EventSessionEnd, map[string]any{mcpconv.EventID: "s-3", mcpconv.SessionID: "sess-1",
				mcpconv.SessionRequestCount: int64(57), mcpconv.SessionErrorCount: int64(4), mcpconv.SessionCloseReason: "client_closed"}),
			kind: mcpconv.KindSession,
		},
		{
			name: "lb_decision",
			event: `{"type":"lb_decision","id":"lb-1","time":"2025-06-18T12:00:00.5Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",
				"span_id":"00f067aa0ba902b7","request_id":17,"session_id":"sess-1","method":"tools/call","tool":"get_weather",
				"strategy":"least_conn","server_key":"weather-1","candidates":["weather-1","weather-2"],
				"reason":"fewest active connections","sampling_threshold":"fd70a3d70a3d71"}`,
			want: func() logView {
				v := log(mcpconv.EventLBDecision, map[string]any{mcpconv.EventID: "lb-1", mcpconv.JSONRPCRequestID: "17",
					mcpconv.SessionID: "sess-1", mcpconv.MethodName: "tools/call", mcpconv.ToolName: "get_weather",
					mcpconv.Strategy: "least_conn", mcpconv.ServerKey: "weather-1",
					mcpconv.LBCandidates: []any{"weather-1", "weather-2"}, mcpconv.LBReason: "fewest active connections",
					mcpconv.SamplingThreshold: "fd70a3d70a3d71"})
				v.TraceID, v.SpanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
				return v
			}(),
			kind: mcpconv.KindLBDecision,
		},
		{
			name: "circuit_breaker_state_change",
			event: `{"type":"circuit_breaker_state_change","id":"cb-1","time":"2025-06-18T12:00:00.5Z","server_key":"weather-2",
				"from_state":"closed","to_state":"open","failure_count":5,"reason":"5 consecutive failures","severity":"WARN"}`,
			want: func() logView {
				v := log(mcpconv.EventBreakerStateChange, map[string]any{mcpconv.EventID: "cb-1", mcpconv.ServerKey: "weather-2",
					mcpconv.BreakerToState: "open", mcpconv.BreakerFromState: "closed", mcpconv.BreakerFailureCount: int64(5)})
				v.SeverityNumber, v.SeverityText, v.Body = plog.SeverityNumberWarn, "WARN", "5 consecutive failures"
				return v
			}(),
			kind: mcpconv.KindCircuitBreaker,
		},
		{
			name: "error",
			event: `{"type":"error","id":"err-1","time":"2025-06-18T12:00:00.5Z","message":"config reload failed",
				"error_type":"config_invalid","exception":{"type":"*yaml.TypeError","message":"line 3: cannot unmarshal","stacktrace":"main.go:12"},
				"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","request_id":"17","session_id":"sess-1",
				"server_key":"weather-1","method":"tools/call","tool":"get_weather","severity":"ERROR"}`,
			want: func() logView {
				v := log(mcpconv.EventError, map[string]any{mcpconv.EventID: "err-1", mcpconv.ErrorType: "config_invalid",
					mcpconv.JSONRPCRequestID: "17", mcpconv.SessionID: "sess-1", mcpconv.ServerKey: "weather-1",
					mcpconv.MethodName: "tools/call", mcpconv.ToolName: "get_weather",
					mcpconv.ExceptionType: "*yaml.TypeError", mcpconv.ExceptionMessage: "line 3: cannot unmarshal",
					mcpconv.ExceptionStacktrace: "main.go:12"})
				v.SeverityNumber, v.SeverityText, v.Body = plog.SeverityNumberError, "ERROR", "config reload failed"
				v.TraceID, v.SpanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
				return v
			}(),
			kind: mcpconv.KindError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := decodeValid(t, formatNDJSON, strings.ReplaceAll(strings.ReplaceAll(tt.event, "\n", ""), "\t", ""))
			assert.Equal(t, []logView{tt.want}, logViews(b.logs))
			assert.Equal(t, 1, b.records)
			assert.Zero(t, b.spans+b.points)
			// The classification the sampler and the exporter apply.
			assert.Equal(t, tt.kind, mcpconv.ClassifyLog(b.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)))
		})
	}
}

func TestPoolStatsMapToGauge(t *testing.T) {
	b := decodeValid(t, formatNDJSON,
		`{"type":"pool_stats",`+resourceFields+`"time":"2025-06-18T12:00:00.5Z","server_key":"weather-1","active":3,"idle":5,"pending":0}`+"\n"+
			`{"type":"pool_stats",`+resourceFields+`"time":"2025-06-18T12:00:00.5Z","server_key":"weather-2","idle":1,"attributes":{"pool":"http"}}`)
	point := func(server, state string, v int64) pointView {
		return pointView{Resource: routerResource, Metric: mcpconv.MetricPoolConnections, Unit: "{connection}",
			Type: pmetric.MetricTypeGauge, Time: eventTime, Value: v,
			Attributes: map[string]any{mcpconv.ServerKey: server, mcpconv.PoolState: state}}
	}
	extra := point("weather-2", "idle", 1)
	extra.Attributes["pool"] = "http"
	assert.Equal(t, []pointView{
		point("weather-1", "active", 3), point("weather-1", "idle", 5), point("weather-1", "pending", 0), extra,
	}, pointViews(b.metrics))
	assert.Equal(t, 4, b.points)
	assert.Equal(t, 1, b.metrics.ResourceMetrics().Len(), "one resource, one metric, every point")
	assert.Equal(t, 1, b.metrics.MetricCount())
}

func TestEventsGroupedByResource(t *testing.T) {
	b := decodeValid(t, formatJSON, `[
		{"type":"health_check","time":"2025-06-18T12:00:00.5Z","server_key":"a","health_status":"healthy","service_name":"router-a"},
		{"type":"health_check","time":"2025-06-18T12:00:00.5Z","server_key":"b","health_status":"healthy","service_name":"router-b"},
		{"type":"health_check","time":"2025-06-18T12:00:00.6Z","server_key":"a","health_status":"healthy","service_name":"router-a"},
		{"type":"routing","time":"2025-06-18T12:00:00.5Z","method":"ping","duration_ms":1,"service_name":"router-a"}
	]`)
	require.Equal(t, 2, b.logs.ResourceLogs().Len())
	assert.Equal(t, map[string]any{mcpconv.ServiceName: "router-a"}, b.logs.ResourceLogs().At(0).Resource().Attributes().AsRaw())
	assert.Equal(t, 2, b.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().Len())
	assert.Equal(t, map[string]any{mcpconv.ServiceName: "router-b"}, b.logs.ResourceLogs().At(1).Resource().Attributes().AsRaw())
	assert.Equal(t, 1, b.traces.SpanCount())
}

// eventIDOf decodes one log event and returns its event.id.
func eventIDOf(t *testing.T, body string) string {
	t.Helper()
	b := decodeValid(t, formatNDJSON, body)
	v, ok := b.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().Get(mcpconv.EventID)
	require.True(t, ok)
	return v.Str()
}

func TestContentIDIgnoresFormattingNotValues(t *testing.T) {
	base := eventIDOf(t, `{"type":"lb_decision","time":"2025-06-18T12:00:00.5Z","server_key":"w1","candidates":["w1","w2"],"attributes":{"a":1,"b":"x"}}`)
	assert.Regexp(t, `^c-[0-9a-f]{16}$`, base)
	same := []string{
		// field order, whitespace, attribute order, escapes, nanoseconds instead of RFC 3339
		`{ "attributes": {"b":"x", "a":1}, "candidates": ["w1", "w2"], "server_key": "w\u0031", "type": "lb_decision", "time": 1750248000500000000 }`,
		`{"type":"lb_decision","time":"1750248000500000000","server_key":"w1","candidates":["w1","w2"],"attributes":{"a":1,"b":"x"},"reason":""}`,
		`{"type":"lb_decision","time":"2025-06-18T14:00:00.500+02:00","server_key":"w1","candidates":["w1","w2"],"attributes":{"a":1,"b":"x"},"strategy":null}`,
	}
	for _, body := range same {
		assert.Equal(t, base, eventIDOf(t, body), body)
	}
	different := []string{
		`{"type":"lb_decision","time":"2025-06-18T12:00:00.500000001Z","server_key":"w1","candidates":["w1","w2"],"attributes":{"a":1,"b":"x"}}`,
		`{"type":"lb_decision","time":"2025-06-18T12:00:00.5Z","server_key":"w2","candidates":["w1","w2"],"attributes":{"a":1,"b":"x"}}`,
		`{"type":"lb_decision","time":"2025-06-18T12:00:00.5Z","server_key":"w1","candidates":["w2","w1"],"attributes":{"a":1,"b":"x"}}`,
		`{"type":"lb_decision","time":"2025-06-18T12:00:00.5Z","server_key":"w1","candidates":["w1","w2"],"attributes":{"a":"1","b":"x"}}`,
		`{"type":"lb_decision","time":"2025-06-18T12:00:00.5Z","server_key":"w1","candidates":["w1","w2"],"attributes":{"a":1,"b":"x","c":true}}`,
		`{"type":"lb_decision","time":"2025-06-18T12:00:00.5Z","server_key":"w1","candidates":["w1","w2"],"attributes":{"a":1,"b":"x"},"service_name":"r"}`,
	}
	for _, body := range different {
		assert.NotEqual(t, base, eventIDOf(t, body), body)
	}
	// The same content as another type is another event.
	assert.NotEqual(t,
		eventIDOf(t, `{"type":"server_deregistered","time":"2025-06-18T12:00:00.5Z","server_key":"w1"}`),
		eventIDOf(t, `{"type":"server_registered","time":"2025-06-18T12:00:00.5Z","server_key":"w1"}`))
	// A client id wins.
	assert.Equal(t, "0b6f", eventIDOf(t, `{"type":"server_deregistered","id":"0b6f","time":"2025-06-18T12:00:00.5Z","server_key":"w1"}`))
}

func TestSpanIDsAreStableAcrossRetries(t *testing.T) {
	ids := func(body string) (string, string) {
		t.Helper()
		sp := decodeValid(t, formatNDJSON, body).traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		tid, sid := sp.TraceID(), sp.SpanID()
		return hex.EncodeToString(tid[:]), hex.EncodeToString(sid[:])
	}
	// With an id: only the id counts.
	t1, s1 := ids(`{"type":"routing","id":"req-1","time":"2025-06-18T12:00:00.5Z","method":"ping","duration_ms":1}`)
	t2, s2 := ids(`{"type":"routing","id":"req-1","time":"2025-06-18T12:00:00.5Z","method":"ping","duration_ms":2}`)
	assert.Equal(t, [2]string{t1, s1}, [2]string{t2, s2})
	t3, s3 := ids(`{"type":"routing","id":"req-2","time":"2025-06-18T12:00:00.5Z","method":"ping","duration_ms":1}`)
	assert.NotEqual(t, t1, t3)
	assert.NotEqual(t, s1, s3)
	// Without an id: the content counts.
	t4, s4 := ids(`{"type":"routing","time":"2025-06-18T12:00:00.5Z","method":"ping","duration_ms":1}`)
	t5, s5 := ids(`{"duration_ms":1, "method":"ping", "time":1750248000500000000, "type":"routing"}`)
	assert.Equal(t, [2]string{t4, s4}, [2]string{t5, s5})
	t6, s6 := ids(`{"type":"routing","time":"2025-06-18T12:00:00.5Z","method":"ping","duration_ms":1.5}`)
	assert.NotEqual(t, [2]string{t4, s4}, [2]string{t6, s6})
	// A given trace id is kept; only the span id is derived.
	t7, s7 := ids(`{"type":"routing","id":"req-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","time":"2025-06-18T12:00:00.5Z","method":"ping","duration_ms":1}`)
	assert.Equal(t, [2]string{"4bf92f3577b34da6a3ce929d0e0e4736", s1}, [2]string{t7, s7})
}
