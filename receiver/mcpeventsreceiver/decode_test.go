package mcpeventsreceiver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// A valid event of each kind, to break in the cases below.
const (
	okHealth  = `"type":"health_check","time":"2025-06-18T12:00:00.5Z","server_key":"w1","health_status":"healthy"`
	okRouting = `"type":"routing","time":"2025-06-18T12:00:00.5Z","method":"tools/call","duration_ms":1`
	okTool    = `"type":"tool_call","time":"2025-06-18T12:00:00.5Z","tool":"search","duration_ms":1`
)

func TestValidationProblems(t *testing.T) {
	long := strings.Repeat("x", 1025)
	longText := strings.Repeat("y", 65537)
	p := func(index, line int, path, reason string) problem {
		return problem{Index: index, Line: line, Path: path, Reason: reason}
	}
	tests := []struct {
		name   string
		format bodyFormat
		body   string
		want   []problem
	}{
		// The event type.
		{"unknown type", formatNDJSON, `{"type":"healthcheck","time":"2025-06-18T12:00:00Z"}`,
			[]problem{p(0, 1, "type", `unknown event type "healthcheck"`)}},
		{"missing type", formatNDJSON, `{"time":"2025-06-18T12:00:00Z","server_key":"w1"}`,
			[]problem{p(0, 1, "type", "required field missing")}},
		{"unknown field without a type", formatNDJSON, `{"time":"2025-06-18T12:00:00Z","sever_key":"w1"}`,
			[]problem{p(0, 1, "sever_key", "unknown field"), p(0, 1, "type", "required field missing")}},
		{"empty type", formatNDJSON, `{"type":"","time":"2025-06-18T12:00:00Z"}`,
			[]problem{p(0, 1, "type", "must not be empty")}},
		{"null type", formatNDJSON, `{"type":null,"time":"2025-06-18T12:00:00Z"}`,
			[]problem{p(0, 1, "type", "required field missing")}},
		{"type of the wrong JSON type", formatNDJSON, `{"type":7,"time":"2025-06-18T12:00:00Z"}`,
			[]problem{p(0, 1, "type", "must be a string, got number")}},
		{"type named last", formatNDJSON, `{"time":"2025-06-18T12:00:00.5Z","server_key":"w1","health_status":"healthy","check":3,"type":"health_check"}`,
			[]problem{p(0, 1, "check", "must be a string, got number")}},

		// Missing, unknown and repeated fields.
		{"missing required field", formatNDJSON, `{"type":"health_check","time":"2025-06-18T12:00:00Z","health_status":"healthy"}`,
			[]problem{p(0, 1, "server_key", "required field missing")}},
		{"every required field missing", formatNDJSON, `{"type":"circuit_breaker_state_change"}`,
			[]problem{p(0, 1, "time", "required field missing"), p(0, 1, "server_key", "required field missing"),
				p(0, 1, "to_state", "required field missing")}},
		{"required field empty", formatNDJSON, `{` + strings.Replace(okHealth, `"server_key":"w1"`, `"server_key":""`, 1) + `}`,
			[]problem{p(0, 1, "server_key", "must not be empty")}},
		{"required field null", formatNDJSON, `{` + strings.Replace(okHealth, `"server_key":"w1"`, `"server_key":null`, 1) + `}`,
			[]problem{p(0, 1, "server_key", "required field missing")}},
		{"unknown field", formatNDJSON, `{` + okHealth + `,"sever_key":"w1"}`,
			[]problem{p(0, 1, "sever_key", "unknown field for event type health_check")}},
		{"field of another type", formatNDJSON, `{` + okHealth + `,"duration_ms":5}`,
			[]problem{p(0, 1, "duration_ms", "unknown field for event type health_check")}},
		{"field of another type with a bad value too", formatNDJSON, `{` + okHealth + `,"duration_ms":"5"}`,
			[]problem{p(0, 1, "duration_ms", "unknown field for event type health_check")}},
		{"duplicate field", formatNDJSON, `{` + okHealth + `,"server_key":"w2"}`,
			[]problem{p(0, 1, "server_key", "duplicate field")}},

		// Wrong JSON types.
		{"string expected", formatNDJSON, `{` + okHealth + `,"check":true}`,
			[]problem{p(0, 1, "check", "must be a string, got boolean")}},
		{"integer expected", formatNDJSON, `{` + okRouting + `,"attempt":"2"}`,
			[]problem{p(0, 1, "attempt", "must be an integer, got string")}},
		{"integer, not a fraction", formatNDJSON, `{` + okRouting + `,"attempt":1.5}`,
			[]problem{p(0, 1, "attempt", "must be an integer, got 1.5")}},
		{"number expected", formatNDJSON, `{"type":"routing","time":"2025-06-18T12:00:00.5Z","method":"ping","duration_ms":"12"}`,
			[]problem{p(0, 1, "duration_ms", "must be a number, got string")}},
		{"string or integer expected", formatNDJSON, `{` + okRouting + `,"request_id":true,"rpc_status_code":-32.5}`,
			[]problem{p(0, 1, "request_id", "must be a string or an integer, got boolean"),
				p(0, 1, "rpc_status_code", "must be a string or an integer, got -32.5")}},
		{"array expected", formatNDJSON, `{"type":"server_registered","time":"2025-06-18T12:00:00Z","server_key":"w1","tools":"get_weather"}`,
			[]problem{p(0, 1, "tools", "must be an array of strings, got string")}},
		{"array of strings expected", formatNDJSON, `{"type":"server_registered","time":"2025-06-18T12:00:00Z","server_key":"w1","tools":["a",2,""]}`,
			[]problem{p(0, 1, "tools[1]", "must be a string, got number"), p(0, 1, "tools[2]", "must not be empty")}},
		{"object expected", formatNDJSON, `{` + okRouting + `,"exception":"boom","attributes":["a"]}`,
			[]problem{p(0, 1, "exception", "must be an object, got string"), p(0, 1, "attributes", "must be an object, got array")}},
		{"an event that is not an object", formatJSON, `[{` + okHealth + `}, 42, {` + okHealth + `}]`,
			[]problem{p(1, 1, "", "an event must be a JSON object, got number")}},

		// Ranges and value sets.
		{"integer out of range", formatNDJSON, `{` + okTool + `,"attempt":0,"server_port":70000}`,
			[]problem{p(0, 1, "attempt", "must be between 1 and 2147483647, got 0"),
				p(0, 1, "server_port", "must be between 1 and 65535, got 70000")}},
		{"integer beyond int64", formatNDJSON, `{"type":"session_stats","time":"2025-06-18T12:00:00Z","session_id":"s","request_count":9223372036854775808}`,
			[]problem{p(0, 1, "request_count", "must be between 0 and 9223372036854775807, got 9223372036854775808")}},
		{"negative counter", formatNDJSON, `{"type":"pool_stats","time":"2025-06-18T12:00:00Z","server_key":"w1","active":-1}`,
			[]problem{p(0, 1, "active", "must be between 0 and 9223372036854775807, got -1")}},
		{"duration out of range", formatNDJSON, `{"type":"routing","time":"2025-06-18T12:00:00.5Z","method":"ping","duration_ms":-1}`,
			[]problem{p(0, 1, "duration_ms", "must be between 0 and 86400000, got -1")}},
		{"latency out of range", formatNDJSON, `{` + okHealth + `,"latency_ms":1e9}`,
			[]problem{p(0, 1, "latency_ms", "must be between 0 and 86400000, got 1e9")}},
		{"enum", formatNDJSON, `{"type":"health_check","time":"2025-06-18T12:00:00Z","server_key":"w1","health_status":"up","severity":"warning"}`,
			[]problem{p(0, 1, "health_status", `must be one of "healthy", "unhealthy", got "up"`),
				p(0, 1, "severity", `must be one of "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", got "warning"`)}},
		{"breaker states", formatNDJSON, `{"type":"circuit_breaker_state_change","time":"2025-06-18T12:00:00Z","server_key":"w1","to_state":"half-open"}`,
			[]problem{p(0, 1, "to_state", `must be one of "closed", "open", "half_open", got "half-open"`)}},
		{"span status", formatNDJSON, `{` + okRouting + `,"status":"failed"}`,
			[]problem{p(0, 1, "status", `must be one of "ok", "error", "unset", got "failed"`)}},
		{"error_message without status error", formatNDJSON, `{` + okRouting + `,"status":"ok","error_message":"boom"}`,
			[]problem{p(0, 1, "error_message", `only allowed with status "error"`)}},
		{"pool_stats without a count", formatNDJSON, `{"type":"pool_stats","time":"2025-06-18T12:00:00Z","server_key":"w1"}`,
			[]problem{p(0, 1, "", "one of active, idle, pending is required")}},
		{"trace and span ids", formatNDJSON, `{` + okRouting + `,"trace_id":"4bf92f3577b34da6a3ce929d0e0e473","span_id":"0000000000000000","parent_span_id":"00f067aa0ba902bz"}`,
			[]problem{p(0, 1, "trace_id", "must be 32 hex digits, not all zero"), p(0, 1, "span_id", "must be 16 hex digits, not all zero"),
				p(0, 1, "parent_span_id", "must be 16 hex digits, not all zero")}},
		{"sampling threshold", formatNDJSON, `{` + okHealth + `,"sampling_threshold":"E666"}`,
			[]problem{p(0, 1, "sampling_threshold", "must be 1 to 14 lowercase hex digits (an OpenTelemetry sampling threshold)")}},

		// Sizes and content.
		{"oversize field", formatNDJSON, `{"type":"health_check","time":"2025-06-18T12:00:00Z","server_key":"` + long + `","health_status":"healthy"}`,
			[]problem{p(0, 1, "server_key", "longer than 1024 bytes (max_field_length)")}},
		{"oversize text", formatNDJSON, `{` + okHealth + `,"message":"` + longText + `"}`,
			[]problem{p(0, 1, "message", "longer than 65536 bytes (max_text_length)")}},
		{"oversize tool arguments", formatNDJSON, `{` + okTool + `,"arguments":{"q":"` + longText + `"}}`,
			[]problem{p(0, 1, "arguments", "longer than 65536 bytes (max_text_length)")}},
		{"oversize list element", formatNDJSON, `{"type":"lb_decision","time":"2025-06-18T12:00:00Z","candidates":["a","` + long + `"]}`,
			[]problem{p(0, 1, "candidates[1]", "longer than 1024 bytes (max_field_length)")}},
		{"oversize exception type", formatNDJSON, `{` + okRouting + `,"exception":{"type":"` + long + `"}}`,
			[]problem{p(0, 1, "exception.type", "longer than 1024 bytes (max_field_length)")}},
		{"NUL character", formatNDJSON, `{"type":"health_check","time":"2025-06-18T12:00:00Z","server_key":"w\u00001","health_status":"healthy"}`,
			[]problem{p(0, 1, "server_key", `must not contain NUL characters (\u0000)`)}},
		{"NUL character in tool arguments", formatNDJSON, `{` + okTool + `,"arguments":{"q":"\u0000"}}`,
			[]problem{p(0, 1, "arguments", `must not contain NUL characters (\u0000)`)}},

		// Timestamps.
		{"timestamp not RFC 3339", formatNDJSON, `{"type":"server_deregistered","time":"2025-06-18 12:00:00","server_key":"w1"}`,
			[]problem{p(0, 1, "time", `invalid timestamp "2025-06-18 12:00:00": use RFC 3339 (2025-06-18T12:00:00.5Z) or unix nanoseconds`)}},
		{"timestamp without zone", formatNDJSON, `{"type":"server_deregistered","time":"2025-06-18T12:00:00","server_key":"w1"}`,
			[]problem{p(0, 1, "time", `invalid timestamp "2025-06-18T12:00:00": use RFC 3339 (2025-06-18T12:00:00.5Z) or unix nanoseconds`)}},
		{"timestamp finer than nanoseconds", formatNDJSON, `{"type":"server_deregistered","time":"2025-06-18T12:00:00.1234567891Z","server_key":"w1"}`,
			[]problem{p(0, 1, "time", `invalid timestamp "2025-06-18T12:00:00.1234567891Z": use RFC 3339 (2025-06-18T12:00:00.5Z) or unix nanoseconds`)}},
		{"impossible date", formatNDJSON, `{"type":"server_deregistered","time":"2025-02-30T12:00:00Z","server_key":"w1"}`,
			[]problem{p(0, 1, "time", `invalid timestamp "2025-02-30T12:00:00Z": use RFC 3339 (2025-06-18T12:00:00.5Z) or unix nanoseconds`)}},
		{"unix milliseconds", formatNDJSON, `{"type":"server_deregistered","time":1750248000500,"server_key":"w1"}`,
			[]problem{p(0, 1, "time", "timestamp 1970-01-01T00:29:10.2480005Z is out of range [2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z); integers are unix nanoseconds")}},
		{"unix seconds as a string", formatNDJSON, `{"type":"server_deregistered","time":"1750248000","server_key":"w1"}`,
			[]problem{p(0, 1, "time", "timestamp 1970-01-01T00:00:01.750248Z is out of range [2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z); integers are unix nanoseconds")}},
		{"before 2000", formatNDJSON, `{"type":"server_deregistered","time":"1999-12-31T23:59:59.999999999Z","server_key":"w1"}`,
			[]problem{p(0, 1, "time", "timestamp 1999-12-31T23:59:59.999999999Z is out of range [2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z)")}},
		{"2100 and later", formatNDJSON, `{"type":"server_deregistered","time":"2100-01-01T00:00:00Z","server_key":"w1"}`,
			[]problem{p(0, 1, "time", "timestamp 2100-01-01T00:00:00Z is out of range [2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z)")}},
		{"fractional nanoseconds", formatNDJSON, `{"type":"server_deregistered","time":1.7502480005e18,"server_key":"w1"}`,
			[]problem{p(0, 1, "time", "invalid timestamp 1.7502480005e18: use RFC 3339 (2025-06-18T12:00:00.5Z) or unix nanoseconds as an integer")}},
		{"timestamp of the wrong JSON type", formatNDJSON, `{"type":"server_deregistered","time":{"s":1},"server_key":"w1"}`,
			[]problem{p(0, 1, "time", "must be an RFC 3339 string or unix nanoseconds, got object")}},

		// The attributes object.
		{"attribute problems", formatNDJSON, `{` + okHealth + `,"attributes":{"":1,"nested":{"a":1},"deep":[[1]],"mcp.router.server.key":"w9","event.id":"x","tenant":"a","tenant":"b","huge":1e400,"fine":null}}`,
			[]problem{
				p(0, 1, "attributes", "an attribute key must not be empty"),
				p(0, 1, "attributes.nested", "must be a string, number, boolean or array of those, got object"),
				p(0, 1, "attributes.deep[0]", "must be a string, number or boolean, got array"),
				p(0, 1, "attributes.tenant", "duplicate attribute"),
				p(0, 1, "attributes.huge", "number out of range: 1e400"),
				p(0, 1, "attributes.mcp.router.server.key", "reserved: set by the field server_key"),
				p(0, 1, "attributes.event.id", "reserved: set by the receiver"),
			}},
		{"attribute reserved by tool_call", formatNDJSON, `{` + okTool + `,"attributes":{"mcp.method.name":"x","service.name":"y"}}`,
			[]problem{p(0, 1, "attributes.mcp.method.name", "reserved: set by the receiver (tools/call)"),
				p(0, 1, "attributes.service.name", "reserved: set by the field service_name")}},

		// The exception object.
		{"exception problems", formatNDJSON, `{` + okRouting + `,"exception":{"kind":"x","type":1}}`,
			[]problem{p(0, 1, "exception.kind", "unknown field"), p(0, 1, "exception.type", "must be a string, got number")}},
		{"exception without type or message", formatNDJSON, `{` + okRouting + `,"exception":{"stacktrace":"at main"}}`,
			[]problem{p(0, 1, "exception", "one of type, message is required")}},

		// Malformed JSON.
		{"NDJSON: a bad line does not hide the next", formatNDJSON, "{" + okHealth + "}\n{\"type\":\n{" + okHealth + ",\"x\":1}\n",
			[]problem{p(1, 2, "type", "invalid JSON: unexpected end of input, expected a value"),
				p(2, 3, "x", "unknown field for event type health_check")}},
		{"NDJSON: two events on a line", formatNDJSON, "{" + okHealth + "} {" + okHealth + "}",
			[]problem{p(0, 1, "", "invalid JSON: unexpected data after the event; NDJSON takes one event per line")}},
		{"NDJSON: a line that is not an object", formatNDJSON, "{" + okHealth + "}\n[1]\n",
			[]problem{p(1, 2, "", "an event must be a JSON object, got array")}},
		{"array: missing comma", formatJSON, "[\n{" + okHealth + "}\n{" + okHealth + "}\n]",
			[]problem{p(1, 3, "", "invalid JSON: unexpected character '{', expected ',' or ']' after an event")}},
		{"array: unterminated", formatJSON, "[{" + okHealth + "},",
			[]problem{p(1, 1, "", "invalid JSON: unexpected end of input, expected an event object")}},
		{"array: trailing data", formatJSON, "[{" + okHealth + "}] x",
			[]problem{p(1, 1, "", "invalid JSON: unexpected data after the events")}},
		{"array: trailing data after an empty array", formatJSON, "[] 0",
			[]problem{p(0, 1, "", "invalid JSON: unexpected data after the events")}},
		{"not JSON at all", formatJSON, "hello",
			[]problem{p(0, 1, "", "invalid JSON: the body must be a JSON array of events or one event object")}},
		{"unterminated string", formatNDJSON, `{"type":"health_check","server_key":"w1`,
			[]problem{p(0, 1, "server_key", "invalid JSON: unexpected end of input in string")}},
		{"invalid UTF-8", formatNDJSON, "{\"type\":\"health_check\",\"server_key\":\"w\xff1\"}",
			[]problem{p(0, 1, "server_key", "invalid JSON: invalid UTF-8 in string")}},
		{"control character", formatNDJSON, "{\"type\":\"health_check\",\"server_key\":\"w\t1\"}",
			[]problem{p(0, 1, "server_key", "invalid JSON: control character in string (escape it)")}},
		{"bad escape", formatNDJSON, `{"type":"health_check","server_key":"w\x31"}`,
			[]problem{p(0, 1, "server_key", `invalid JSON: invalid escape '\x'`)}},
		{"unpaired surrogate", formatNDJSON, `{"type":"health_check","server_key":"w\ud83d1"}`,
			[]problem{p(0, 1, "server_key", `invalid JSON: unpaired surrogate in \u escape`)}},
		{"bad number", formatNDJSON, `{"type":"health_check","latency_ms":01}`,
			[]problem{p(0, 1, "latency_ms", "invalid JSON: unexpected character '1', expected ',' or '}'")}},
		{"long values are quoted in part", formatNDJSON, `{"type":"` + strings.Repeat("é", 40) + `","latency_ms":` + strings.Repeat("9", 100) + `}`,
			[]problem{p(0, 1, "type", `unknown event type "`+strings.Repeat("é", 32)+`"...`),
				p(0, 1, "latency_ms", "must be between 0 and 86400000, got "+strings.Repeat("9", 64)+"...")}},
		{"bad literal", formatNDJSON, `{"type":"health_check","latency_ms":nul}`,
			[]problem{p(0, 1, "latency_ms", "invalid JSON: unexpected character 'n'")}},
		{"nesting too deep", formatNDJSON, `{` + okTool + `,"arguments":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
			[]problem{p(0, 1, "arguments", "invalid JSON: nesting deeper than 64 levels")}},
		{"array: lines are counted", formatJSON, "[\n  {" + okHealth + "},\n  {\"type\": \"health_check\",\n   \"time\": \"2025-06-18T12:00:00Z\",\n   \"health_status\": \"up\",\n   \"server_key\": \"w1\"}\n]",
			[]problem{p(1, 5, "health_status", `must be one of "healthy", "unhealthy", got "up"`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decodeBody(t, tt.format, tt.body)
			assert.Equal(t, tt.want, withoutPointers(d.problems), "pointers: TestProblemPointers")
			assert.Positive(t, d.invalidEvents)
			assert.False(t, d.tooMany)
		})
	}
}

// withoutPointers drops the pointers of problems, for the tests that
// check the other positions (TestProblemPointers checks the pointers).
func withoutPointers(problems []problem) []problem {
	out := make([]problem, len(problems))
	for i, p := range problems {
		p.Pointer = ""
		out[i] = p
	}
	return out
}

func TestValidBodies(t *testing.T) {
	tests := []struct {
		name   string
		format bodyFormat
		body   string
		events int
	}{
		{"empty array", formatJSON, " [ ] ", 0},
		{"empty body", formatJSON, "", 0},
		{"blank NDJSON", formatNDJSON, "\n \r\n\n", 0},
		{"one object as application/json", formatJSON, "{" + okHealth + "}", 1},
		{"array", formatJSON, "[{" + okHealth + "},{" + okRouting + "},{" + okTool + "}]", 3},
		{"NDJSON with CRLF, blank lines, no final newline", formatNDJSON, "{" + okHealth + "}\r\n\r\n{" + okRouting + "}\n{" + okTool + "}", 3},
		{"escapes and unicode", formatNDJSON, `{"type":"health_check","time":"2025-06-18T12:00:00Z","server_key":"w\u00e9\ud83d\ude00\n\"\\\/","health_status":"healthy","message":"ünïcødé ✓"}`, 1},
		{"nulls and empty strings are absent", formatNDJSON, `{` + okHealth + `,"check":null,"message":"","latency_ms":null,"attributes":null,"exception":null}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decodeBody(t, tt.format, tt.body)
			if tt.name == "nulls and empty strings are absent" {
				// exception is not a health_check field, null or not.
				assert.Equal(t, []problem{{Index: 0, Line: 1, Path: "exception", Pointer: "/exception", Reason: "unknown field for event type health_check"}}, d.problems)
				return
			}
			require.Empty(t, d.problems)
			assert.Equal(t, tt.events, d.events)
			assert.Equal(t, tt.events, d.out.spans+d.out.records+d.out.points)
		})
	}
	d := decodeBody(t, formatNDJSON, `{"type":"health_check","time":"2025-06-18T12:00:00Z","server_key":"w\u00e9\ud83d\ude00\n\"\\\/","health_status":"healthy"}`)
	v, _ := d.out.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().Get(mcpconv.ServerKey)
	assert.Equal(t, "wé😀\n\"\\/", v.Str())
}

func TestProblemsAreCapped(t *testing.T) {
	var b strings.Builder
	for range 150 {
		b.WriteString(`{"type":"nope"}` + "\n")
	}
	d := decodeBody(t, formatNDJSON, b.String())
	assert.Len(t, d.problems, maxDetails)
	assert.Equal(t, 50, d.moreProblems)
	assert.Equal(t, 150, d.invalidEvents)
	assert.Equal(t, problem{Index: 99, Line: 100, Path: "type", Pointer: "/type", Reason: `unknown event type "nope"`}, d.problems[99])
}

func TestTooManyEvents(t *testing.T) {
	limits := testLimits()
	limits.maxEvents = 3
	for _, format := range []bodyFormat{formatJSON, formatNDJSON} {
		t.Run(format.String(), func(t *testing.T) {
			events := make([]string, 4)
			for i := range events {
				events[i] = "{" + okHealth + "}"
			}
			body := strings.Join(events, "\n")
			if format == formatJSON {
				body = "[" + strings.Join(events, ",") + "]"
			}
			d := newDecoder(limits, allPipelines)
			d.decode([]byte(body), format, testNow)
			assert.True(t, d.tooMany)

			d.decode([]byte(strings.Join(events[:3], "\n")), formatNDJSON, testNow)
			assert.False(t, d.tooMany, "a reused decoder starts afresh")
			assert.Equal(t, 3, d.out.records)
		})
	}
}

func TestEventsNeedTheirPipeline(t *testing.T) {
	d := newDecoder(testLimits(), [numSignals]bool{signalLogs: true})
	d.decode([]byte("{"+okHealth+"}\n{"+okRouting+"}\n{\"type\":\"pool_stats\",\"time\":\"2025-06-18T12:00:00Z\",\"server_key\":\"w1\",\"idle\":1}"), formatNDJSON, testNow)
	assert.Equal(t, []problem{
		{Index: 1, Line: 2, Path: "type", Pointer: "/type", Reason: "no traces pipeline uses this receiver, so routing events cannot be accepted"},
		{Index: 2, Line: 3, Path: "type", Pointer: "/type", Reason: "no metrics pipeline uses this receiver, so pool_stats events cannot be accepted"},
	}, d.problems)
}

func TestLimitsAreConfigurable(t *testing.T) {
	// Types, times, enums and ids are checked by content, not by length.
	d := newDecoder(decodeLimits{maxEvents: 10, maxFieldLength: 4, maxTextLength: 8}, allPipelines)
	d.decode([]byte(`{"type":"health_check","time":"2025-06-18T12:00:00Z","server_key":"w1234","health_status":"healthy","message":"123456789","attributes":{"k12345":"v","k":"123456789"}}`), formatNDJSON, testNow)
	assert.Equal(t, []problem{
		{Index: 0, Line: 1, Path: "server_key", Pointer: "/server_key", Reason: "longer than 4 bytes (max_field_length)"},
		{Index: 0, Line: 1, Path: "message", Pointer: "/message", Reason: "longer than 8 bytes (max_text_length)"},
		{Index: 0, Line: 1, Path: "attributes", Pointer: "/attributes", Reason: "an attribute key is longer than 4 bytes (max_field_length)"},
		{Index: 0, Line: 1, Path: "attributes.k", Pointer: "/attributes/k", Reason: "longer than 8 bytes (max_text_length)"},
	}, d.problems)
}

func TestArraysAndAttributesAreBounded(t *testing.T) {
	attrs := make([]string, maxAttributes+2)
	for i := range attrs {
		attrs[i] = fmt.Sprintf(`"k%d":%d`, i, i)
	}
	many := strings.Repeat(`"a",`, maxElements) + `"a"`
	d := decodeBody(t, formatNDJSON, `{"type":"server_registered","time":"2025-06-18T12:00:00Z","server_key":"w1",`+
		`"tools":[`+many+`],"attributes":{"list":[`+strings.Repeat("1,", maxElements)+`1],`+strings.Join(attrs, ",")+`}}`)
	assert.Equal(t, []problem{
		{Index: 0, Line: 1, Path: "tools", Pointer: "/tools", Reason: "more than 1024 elements"},
		{Index: 0, Line: 1, Path: "attributes.list", Pointer: "/attributes/list", Reason: "more than 1024 elements"},
		{Index: 0, Line: 1, Path: "attributes", Pointer: "/attributes", Reason: "more than 128 attributes"},
	}, d.problems)

	// Exactly at the bounds is fine.
	d = decodeBody(t, formatNDJSON, `{"type":"server_registered","time":"2025-06-18T12:00:00Z","server_key":"w1",`+
		`"tools":[`+strings.Repeat(`"a",`, maxElements-1)+`"a"],"attributes":{`+strings.Join(attrs[:maxAttributes], ",")+`}}`)
	require.Empty(t, d.problems)
	attrsOf := d.out.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	assert.Equal(t, maxAttributes+3, attrsOf.Len(), "event.id, server key, tools and the extra attributes")
}

func TestProblemsPerEventAreBounded(t *testing.T) {
	d := decodeBody(t, formatNDJSON, `{"type":"health_check",`+strings.Repeat(`"x":1,`, 500)+strings.Repeat(`"type":1,`, 500)+`"time":"2025-06-18T12:00:00Z"}`)
	assert.Len(t, d.problems, maxDetails)
	// 1000 unknown or repeated fields, and server_key and health_status missing.
	assert.Equal(t, 1002-maxDetails, d.moreProblems)
	assert.Equal(t, 1, d.invalidEvents)
}

func TestEveryTypeIsDecodable(t *testing.T) {
	for i := range types {
		spec := &types[i]
		t.Run(spec.name, func(t *testing.T) {
			fields := []string{`"type":"` + spec.name + `"`, `"time":"2025-06-18T12:00:00Z"`}
			for _, f := range spec.fields {
				if f.required && f.id != fType && f.id != fTime {
					fields = append(fields, fmt.Sprintf("%q:%s", fieldsByID(f.id).name, sampleValue(f.id)))
				}
			}
			if spec.signal == signalMetrics {
				fields = append(fields, `"idle":1`)
			}
			d := decodeBody(t, formatNDJSON, "{"+strings.Join(fields, ",")+"}")
			require.Empty(t, d.problems)
			assert.Equal(t, 1, d.out.spans+d.out.records+d.out.points)
		})
	}
}

func fieldsByID(id fieldID) *fieldSpec { return &fields[id] }

// sampleValue is a valid JSON value for a field.
func sampleValue(id fieldID) string {
	spec := &fields[id]
	switch spec.kind {
	case kindEnum:
		return `"` + spec.enum[0] + `"`
	case kindInt:
		return fmt.Sprint(spec.min + 1)
	case kindMillis:
		return "1.5"
	}
	return `"x"`
}

// TestProblemPointers checks the JSON pointer of each kind of problem: into
// the body for an array (with the event's index), into the line for NDJSON.
func TestProblemPointers(t *testing.T) {
	tests := []struct {
		name   string
		format bodyFormat
		body   string
		want   []string
	}{
		{"array: field, missing field, event as a whole", formatJSON,
			`[{` + okHealth + `},{"type":"health_check","time":"2025-06-18T12:00:00Z","health_status":"up"},7]`,
			[]string{"/1/health_status", "/1/server_key", "/2"}},
		{"single object", formatJSON, `{"type":"health_check","time":"2025-06-18T12:00:00Z","health_status":"up"}`,
			[]string{"/health_status", "/server_key"}},
		{"NDJSON: elements, members, escaped keys", formatNDJSON,
			`{"type":"server_registered","time":"2025-06-18T12:00:00Z","server_key":"w1","tools":["a",2],` +
				`"attributes":{"a/b~c":{},"deep":[[1]],"":1,"mcp.router.server.key":"x"}}` + "\n" +
				`{` + okRouting + `,"exception":{"kind":"x"}}`,
			[]string{"/tools/1", "/attributes/a~1b~0c", "/attributes/deep/0", "/attributes", "/attributes/mcp.router.server.key", "/exception/kind"}},
		{"malformed JSON: jsontext's pointer", formatJSON, `[{` + okHealth + `},{"type":"health_check","server_key":"w` + "\xff" + `"}]`,
			[]string{"/1/server_key"}},
		{"nesting too deep: the array that opens level 65", formatNDJSON,
			`{` + okTool + `,"arguments":{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}`,
			[]string{"/arguments/a" + strings.Repeat("/0", 62)}},
		{"nesting too deep in an object", formatNDJSON,
			`{` + okTool + `,"arguments":` + strings.Repeat(`{"k":`, 70) + `1` + strings.Repeat("}", 70) + `}`,
			[]string{"/arguments" + strings.Repeat("/k", 63)}},
		{"data after the events", formatJSON, `[{` + okHealth + `}] x`, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decodeBody(t, tt.format, tt.body)
			var got []string
			for _, p := range d.problems {
				got = append(got, p.Pointer)
			}
			assert.Equal(t, tt.want, got, "%+v", d.problems)
		})
	}
}

// TestMalformedAfterTheLastEvent: malformed JSON after as many events as
// a request may hold is a 400 problem (with the next index), not a 413.
func TestMalformedAfterTheLastEvent(t *testing.T) {
	limits := testLimits()
	limits.maxEvents = 2
	d := newDecoder(limits, allPipelines)
	d.decode([]byte("[{"+okHealth+"},{"+okHealth+"} x]"), formatJSON, testNow)
	assert.False(t, d.tooMany)
	assert.Equal(t, []problem{{Index: 2, Line: 1, Reason: "invalid JSON: unexpected character 'x', expected ',' or ']' after an event"}}, d.problems)
	d.decode([]byte(`["s" 1]`), formatJSON, testNow)
	assert.Equal(t, []problem{{Index: 0, Line: 1, Pointer: "/0", Reason: "an event must be a JSON object, got string"},
		{Index: 1, Line: 1, Reason: "invalid JSON: unexpected character '1', expected ',' or ']' after an event"}}, d.problems)
}
