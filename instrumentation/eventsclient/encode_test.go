package eventsclient

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 6, 18, 12, 0, 0, 500, time.UTC)

var testResource = Resource{ServiceName: "mcp-router", ServiceInstanceID: "router-1"}

// everyType has one event of each type, every field set.
func everyType() []Event {
	tid := TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	sid, child := SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb8}
	attrs := []Attribute{String("tenant", "acme"), Int("shard", 3), Float64("ratio", 0.25), Bool("canary", true), Strings("tags", []string{"a", "b"})}
	exc := &Exception{Type: "TimeoutError", Message: "no answer in 10s", Stacktrace: "at route()"}
	return []Event{
		Routing{ID: "req-1", Time: t0, Method: "tools/call", Duration: 41500 * time.Microsecond, Target: "get_weather",
			TraceID: tid, SpanID: sid, ParentSpanID: SpanID{9}, Tool: "get_weather", ResourceURI: "file:///x",
			SessionID: "sess-1", RequestID: "17", ServerKey: "weather-1", Strategy: "round_robin", Attempt: 2,
			Status: StatusError, ErrorType: "timeout", ErrorMessage: "upstream timed out", RPCStatusCode: "-32603",
			ProtocolVersion: "2025-06-18", Transport: "tcp", ClientAddress: "10.0.0.7", Exception: exc,
			SamplingThreshold: "8", Attributes: attrs},
		&ToolCall{ID: "call-1", Time: t0, Tool: "get_weather", Duration: 38 * time.Millisecond, TraceID: tid, SpanID: child,
			ParentSpanID: sid, ToolCallID: "call_abc", SessionID: "sess-1", RequestID: "17", ServerKey: "weather-1",
			ServerAddress: "weather.internal", ServerPort: 8080, Attempt: 1, Status: StatusOK, ErrorType: "tool_error",
			ErrorMessage: "m", RPCStatusCode: "-32000", Arguments: json.RawMessage(`{"city":"Paris"}`),
			Result: json.RawMessage(`not json`), Exception: &Exception{Message: "only a message"}, SamplingThreshold: "c",
			Attributes: attrs},
		HealthCheck{ID: "hc-1", Time: t0, ServerKey: "weather-2", Healthy: false, Check: "ping", Latency: 2 * time.Second,
			ErrorType: "timeout", Message: "ping timed out", Severity: SeverityWarn, SamplingThreshold: "e6", Attributes: attrs},
		ServerRegistered{ID: "reg-1", Time: t0, ServerKey: "weather-1", Name: "Weather", URL: "http://weather.internal:8080/mcp",
			Version: "1.4.2", Transport: "streamable_http", Tools: []string{"get_weather", "get_forecast"}, Health: Healthy,
			Severity: SeverityInfo, SamplingThreshold: "0", Attributes: attrs},
		ServerDeregistered{ID: "dereg-1", Time: t0, ServerKey: "weather-1", Severity: SeverityInfo, Attributes: attrs},
		ServerHealthChanged{ID: "hch-1", Time: t0, ServerKey: "weather-1", Healthy: true, Severity: SeverityInfo, Attributes: attrs},
		SessionStart{ID: "ss-1", Time: t0, SessionID: "sess-1", Transport: "sse", ProtocolVersion: "2025-06-18",
			ClientAddress: "10.0.0.7", ServerKey: "weather-1", Severity: SeverityDebug, Attributes: attrs},
		SessionStats{ID: "st-1", Time: t0, SessionID: "sess-1", Requests: 0, Errors: 0, Attributes: attrs},
		SessionEnd{ID: "se-1", Time: t0, SessionID: "sess-1", Requests: 12, Errors: 1, CloseReason: "client_closed", Attributes: attrs},
		LBDecision{ID: "lb-1", Time: t0, TraceID: tid, SpanID: sid, RequestID: "17", SessionID: "sess-1", Method: "tools/call",
			Tool: "get_weather", Strategy: "round_robin", ServerKey: "weather-1", Candidates: []string{"weather-1", "weather-2"},
			Reason: "next in turn", SamplingThreshold: "fd70a3d70a3d71", Attributes: []Attribute{Int("mcp.router.attempt", 1)}},
		BreakerStateChange{ID: "cb-1", Time: t0, ServerKey: "weather-2", From: BreakerClosed, To: BreakerOpen,
			FailureCount: 5, Reason: "5 consecutive failures", Severity: SeverityWarn, Attributes: attrs},
		ErrorEvent{ID: "err-1", Time: t0, Message: "no upstream for weather", ErrorType: "no_upstream", Exception: exc,
			TraceID: tid, SpanID: sid, RequestID: "17", SessionID: "sess-1", ServerKey: "weather-1", Method: "tools/call",
			Tool: "get_weather", Severity: SeverityError, Attributes: attrs},
		PoolStats{ID: "pool-1", Time: t0, ServerKey: "weather-1", Active: 3, Idle: 0, Pending: 1, Attributes: attrs},
	}
}

func decode(t *testing.T, line []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(line, &m), "%s", line)
	return m
}

func TestAppendJSONRouting(t *testing.T) {
	got := string(AppendJSON(nil, testResource, everyType()[0]))
	want := `{"type":"routing","id":"req-1","time":1750248000000000500,"service_name":"mcp-router","service_instance_id":"router-1",` +
		`"method":"tools/call","duration_ms":41.5,"target":"get_weather","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",` +
		`"span_id":"00f067aa0ba902b7","parent_span_id":"0900000000000000","tool":"get_weather","resource_uri":"file:///x",` +
		`"session_id":"sess-1","request_id":"17","server_key":"weather-1","strategy":"round_robin","attempt":2,` +
		`"status":"error","error_type":"timeout","error_message":"upstream timed out","rpc_status_code":"-32603",` +
		`"protocol_version":"2025-06-18","transport":"tcp","client_address":"10.0.0.7",` +
		`"exception":{"type":"TimeoutError","message":"no answer in 10s","stacktrace":"at route()"},"sampling_threshold":"8",` +
		`"attributes":{"tenant":"acme","shard":3,"ratio":0.25,"canary":true,"tags":["a","b"]}}`
	assert.Equal(t, want, got)
}

// TestAppendJSONEveryType: every type is one valid JSON object with its
// type, the resource, and only the fields that were set (plus the counts
// that are always sent).
func TestAppendJSONEveryType(t *testing.T) {
	for _, e := range everyType() {
		t.Run(e.EventType(), func(t *testing.T) {
			m := decode(t, AppendJSON(nil, testResource, e))
			assert.Equal(t, e.EventType(), m["type"])
			assert.Equal(t, "mcp-router", m["service_name"])
			assert.Equal(t, "router-1", m["service_instance_id"])
			assert.Equal(t, float64(t0.UnixNano()), m["time"])
			assert.NotEmpty(t, m["id"])
			assert.NotNil(t, m["attributes"])
			// A pointer encodes as its value.
			switch v := e.(type) {
			case Routing:
				assert.Equal(t, m, decode(t, AppendJSON(nil, testResource, &v)))
			case *ToolCall:
				assert.Equal(t, m, decode(t, AppendJSON(nil, testResource, *v)))
			}
		})
	}
	// Zero values are not sent, but the counts that are always sent.
	stats := decode(t, AppendJSON(nil, Resource{}, SessionStats{SessionID: "s", Time: t0}))
	assert.Equal(t, map[string]any{"type": "session_stats", "time": float64(t0.UnixNano()), "session_id": "s",
		"request_count": 0.0, "error_count": 0.0}, stats)
	hc := decode(t, AppendJSON(nil, Resource{}, HealthCheck{ServerKey: "k"}))
	assert.Equal(t, "unhealthy", hc["health_status"])
	assert.InDelta(t, float64(time.Now().UnixNano()), hc["time"], float64(time.Minute), "zero time: now")
	assert.NotContains(t, hc, "latency_ms")
	tc := decode(t, AppendJSON(nil, Resource{}, everyType()[1]))
	assert.Equal(t, map[string]any{"city": "Paris"}, tc["arguments"])
	assert.Equal(t, "not json", tc["result"], "invalid JSON is sent as a string")
	assert.Equal(t, map[string]any{"message": "only a message"}, tc["exception"])
	assert.Empty(t, AppendJSON(nil, testResource, nil))
}

func TestAppendNDJSON(t *testing.T) {
	body := AppendNDJSON(nil, testResource, everyType()...)
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	require.Len(t, lines, len(everyType()))
	for i, e := range everyType() {
		assert.Equal(t, e.EventType(), decode(t, []byte(lines[i]))["type"])
	}
}

func TestAttributeValuesJSONCannotHold(t *testing.T) {
	m := decode(t, AppendJSON(nil, Resource{}, PoolStats{ServerKey: "k", Attributes: []Attribute{
		Float64("nan", nan()), Float64("big", 1e300), Int64("min", -1<<63), Bool("off", false)}}))
	assert.Equal(t, map[string]any{"nan": "NaN", "big": 1e300, "min": -9.223372036854775808e18, "off": false}, m["attributes"])
}

func nan() float64 { var z float64; return z / z }

// appendString must read back, with encoding/json, as the string
// encoding/json itself writes: the same text, invalid bytes as U+FFFD.
func checkAppendString(t *testing.T, s string) {
	t.Helper()
	got := appendString(nil, s)
	require.True(t, json.Valid(got), "%q -> %s", s, got)
	var back, want string
	require.NoError(t, json.Unmarshal(got, &back))
	std, err := json.Marshal(s)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(std, &want))
	require.Equal(t, want, back, "%q", s)
	require.True(t, utf8.ValidString(back))
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `"quoted"`, `back\slash`, "tab\tnew\nline\r\x00\x1f\x7f",
		"é ü 日本 🎉", "\u2028\u2029", "<&>", "bad \xff\xfe utf8", "cut \xe6\x97", "\xed\xa0\x80 surrogate"} {
		checkAppendString(t, s)
	}
	assert.Equal(t, `"a\"b\\c\u0001d\ufffde"`, strings.ReplaceAll(string(appendString(nil, "a\"b\\c\x01d\xffe")), "\ufffd", `\ufffd`))
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "x\"y", "\x00", "\xff", "日本", "\xe6\x97"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkAppendString(t, s) })
}

// The events of one routed request as the simulator sends them: the cost
// of the encoder per event.
func BenchmarkAppendJSON(b *testing.B) {
	events := everyType()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range events {
			buf = AppendJSON(buf[:0], testResource, e)
		}
	}
}

func BenchmarkAppendJSONRouting(b *testing.B) {
	e := &Routing{Time: t0, Method: "tools/call", Duration: 41500 * time.Microsecond, TraceID: TraceID{1}, SpanID: SpanID{2},
		Tool: "get_weather", SessionID: "5c2e0b1e-7a47-4b43-8f0c-1d2e3f405162", RequestID: "17", ServerKey: "weather-1",
		Strategy: "round_robin", Attempt: 1, ProtocolVersion: "2025-06-18", Transport: "tcp", ClientAddress: "10.21.3.4"}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], testResource, e)
	}
}
