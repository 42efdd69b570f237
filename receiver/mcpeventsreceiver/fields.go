package mcpeventsreceiver

import (
	"math"
	"slices"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// fieldID names a top-level field of an event: its index in fields. Every
// event type uses a subset; the decoder reads any of them into the same
// event value, so the "type" field may come anywhere in the object.
type fieldID uint8

// fieldNone marks an unknown field name.
const fieldNone fieldID = 255

// maxFields bounds the fields: each is a bit of an event's masks.
const maxFields = 64

// fieldKind says how a field's JSON value is read and checked.
type fieldKind uint8

const (
	kindType       fieldKind = iota // one of the event type names
	kindTime                        // RFC 3339 string, or unix nanoseconds (integer or digit string)
	kindShort                       // string up to max_field_length
	kindText                        // string up to max_text_length
	kindEnum                        // one of spec.enum
	kindStrOrInt                    // string up to max_field_length, or an integer (stored as its text)
	kindInt                         // integer within [spec.min, spec.max]
	kindMillis                      // number of milliseconds within [0, spec.max]
	kindTraceID                     // 32 hex digits
	kindSpanID                      // 16 hex digits
	kindShortList                   // array of strings up to max_field_length
	kindRawJSON                     // any JSON value, kept as its text (up to max_text_length)
	kindException                   // {"type", "message", "stacktrace"}
	kindAttributes                  // object of extra attributes
	kindThreshold                   // OpenTelemetry sampling threshold: 1 to 14 lowercase hex digits
)

// kindWants says what JSON a field kind takes, for a value of another kind.
var kindWants = [...]string{
	kindType: "a string", kindTime: "an RFC 3339 string or unix nanoseconds", kindShort: "a string",
	kindText: "a string", kindEnum: "a string", kindStrOrInt: "a string or an integer", kindInt: "an integer",
	kindMillis: "a number", kindTraceID: "a string", kindSpanID: "a string", kindShortList: "an array of strings",
	kindException: "an object", kindAttributes: "an object", kindThreshold: "a string",
}

// exceptionKeys are the members of an exception object, and exceptionAttrs
// the attributes they become.
var (
	exceptionKeys  = [...]string{"type", "message", "stacktrace"}
	exceptionAttrs = [...]string{mcpconv.ExceptionType, mcpconv.ExceptionMessage, mcpconv.ExceptionStacktrace}
)

// fieldSpec describes one field.
type fieldSpec struct {
	name     string
	kind     fieldKind
	enum     []string
	min, max int64
	doc      string
}

// maxMillis is the largest duration or latency accepted: one day.
const maxMillis = 86_400_000

var (
	severityNames = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
	statusNames   = []string{"ok", "error", "unset"}
	healthNames   = []string{mcpconv.HealthHealthy, mcpconv.HealthUnhealthy}
	breakerNames  = []string{mcpconv.BreakerClosed, mcpconv.BreakerOpen, mcpconv.BreakerHalfOpen}
)

// fields is the table of fields, in the order of their ids: field adds
// one and returns its id, so the ids are the order of the declarations
// below (the content id hashes them: append, never reorder).
var fields []fieldSpec

func field(spec fieldSpec) fieldID {
	fields = append(fields, spec)
	return fieldID(len(fields) - 1)
}

var (
	fType              = field(fieldSpec{name: "type", kind: kindType, doc: "Event type."})
	fID                = field(fieldSpec{name: "id", kind: kindShort, doc: "Idempotency key chosen by the client (a UUID, say). A retry with the same id is stored once: it becomes the event id of log events and seeds trace_id/span_id of spans when those are absent. Without it the receiver derives one from the event's content."})
	fTime              = field(fieldSpec{name: "time", kind: kindTime, doc: "Event time (spans: start time). RFC 3339 with up to nanosecond precision and a zone (2025-06-18T12:00:00.123Z), or unix nanoseconds as an integer or a string of digits. Between 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z."})
	fServiceName       = field(fieldSpec{name: "service_name", kind: kindShort, doc: "Resource attribute service.name of the router."})
	fServiceInstanceID = field(fieldSpec{name: "service_instance_id", kind: kindShort, doc: "Resource attribute service.instance.id of the router."})
	fAttributes        = field(fieldSpec{name: "attributes", kind: kindAttributes, doc: "Extra attributes: string, number or boolean values, or arrays of those. Keys that a field of the event sets are refused."})
	fSamplingThreshold = field(fieldSpec{name: "sampling_threshold", kind: kindThreshold, doc: "OpenTelemetry sampling threshold (tracestate ot=th) when the router sampled the event itself; the row's adjusted_count is derived from it."})
	fSeverity          = field(fieldSpec{name: "severity", kind: kindEnum, enum: severityNames, doc: "Log severity."})
	fTraceID           = field(fieldSpec{name: "trace_id", kind: kindTraceID, doc: "Trace id, 32 hex digits, not all zero."})
	fSpanID            = field(fieldSpec{name: "span_id", kind: kindSpanID, doc: "Span id, 16 hex digits, not all zero."})
	fParentSpanID      = field(fieldSpec{name: "parent_span_id", kind: kindSpanID, doc: "Parent span id, 16 hex digits, not all zero."})
	fDurationMs        = field(fieldSpec{name: "duration_ms", kind: kindMillis, max: maxMillis, doc: "Duration in milliseconds (fractions allowed), at most one day."})
	fMethod            = field(fieldSpec{name: "method", kind: kindShort, doc: "MCP method (mcp.method.name), e.g. tools/call."})
	fTarget            = field(fieldSpec{name: "target", kind: kindShort, doc: "Low-cardinality target of the span name {method} {target}; defaults to tool."})
	fTool              = field(fieldSpec{name: "tool", kind: kindShort, doc: "Tool name (gen_ai.tool.name)."})
	fResourceURI       = field(fieldSpec{name: "resource_uri", kind: kindText, doc: "Resource URI (mcp.resource.uri)."})
	fSessionID         = field(fieldSpec{name: "session_id", kind: kindShort, doc: "MCP session id (mcp.session.id)."})
	fRequestID         = field(fieldSpec{name: "request_id", kind: kindStrOrInt, doc: "JSON-RPC request id (jsonrpc.request.id), string or integer."})
	fServerKey         = field(fieldSpec{name: "server_key", kind: kindShort, doc: "Upstream server key (mcp.router.server.key)."})
	fStrategy          = field(fieldSpec{name: "strategy", kind: kindShort, doc: "Load-balancing strategy (mcp.router.strategy)."})
	fAttempt           = field(fieldSpec{name: "attempt", kind: kindInt, min: 1, max: math.MaxInt32, doc: "1-based attempt number (mcp.router.attempt)."})
	fStatus            = field(fieldSpec{name: "status", kind: kindEnum, enum: statusNames, doc: "Span status; defaults to error when error_type, error_message or exception is set, else unset."})
	fErrorType         = field(fieldSpec{name: "error_type", kind: kindShort, doc: "Low-cardinality error class (error.type)."})
	fErrorMessage      = field(fieldSpec{name: "error_message", kind: kindText, doc: "Span status description; only with status error."})
	fRPCStatusCode     = field(fieldSpec{name: "rpc_status_code", kind: kindStrOrInt, doc: "JSON-RPC error code (rpc.response.status_code), string or integer."})
	fProtocolVersion   = field(fieldSpec{name: "protocol_version", kind: kindShort, doc: "MCP protocol version (mcp.protocol.version)."})
	fTransport         = field(fieldSpec{name: "transport", kind: kindShort, doc: "Transport."})
	fClientAddress     = field(fieldSpec{name: "client_address", kind: kindShort, doc: "Client address (client.address)."})
	fException         = field(fieldSpec{name: "exception", kind: kindException, doc: "Exception: type, message (one of them required) and stacktrace."})
	fToolCallID        = field(fieldSpec{name: "tool_call_id", kind: kindShort, doc: "Tool call id (gen_ai.tool.call.id)."})
	fServerAddress     = field(fieldSpec{name: "server_address", kind: kindShort, doc: "Upstream host (server.address)."})
	fServerPort        = field(fieldSpec{name: "server_port", kind: kindInt, min: 1, max: 65535, doc: "Upstream port (server.port)."})
	fArguments         = field(fieldSpec{name: "arguments", kind: kindRawJSON, doc: "Tool arguments, any JSON value (mcp.router.tool.arguments; stored only when the exporter's tool_payloads is enabled)."})
	fResult            = field(fieldSpec{name: "result", kind: kindRawJSON, doc: "Tool result, any JSON value (mcp.router.tool.result; stored only when the exporter's tool_payloads is enabled)."})
	fHealthStatus      = field(fieldSpec{name: "health_status", kind: kindEnum, enum: healthNames, doc: "Health (mcp.router.health.status)."})
	fCheck             = field(fieldSpec{name: "check", kind: kindShort, doc: "Kind of probe: ping, tools_list, http (mcp.router.health.check)."})
	fLatencyMs         = field(fieldSpec{name: "latency_ms", kind: kindMillis, max: maxMillis, doc: "Probe latency in milliseconds (stored as mcp.router.health.latency in seconds)."})
	fMessage           = field(fieldSpec{name: "message", kind: kindText, doc: "Human-readable message (the log body)."})
	fName              = field(fieldSpec{name: "name", kind: kindShort, doc: "Display name (mcp.router.server.name)."})
	fURL               = field(fieldSpec{name: "url", kind: kindText, doc: "Endpoint (mcp.router.server.url)."})
	fVersion           = field(fieldSpec{name: "version", kind: kindShort, doc: "Implementation version (mcp.router.server.version)."})
	fTools             = field(fieldSpec{name: "tools", kind: kindShortList, doc: "Tools the server offers (mcp.router.server.tools)."})
	fRequestCount      = field(fieldSpec{name: "request_count", kind: kindInt, min: 0, max: math.MaxInt64, doc: "Requests since the session started (mcp.router.session.request_count)."})
	fErrorCount        = field(fieldSpec{name: "error_count", kind: kindInt, min: 0, max: math.MaxInt64, doc: "Failed requests since the session started (mcp.router.session.error_count)."})
	fCloseReason       = field(fieldSpec{name: "close_reason", kind: kindShort, doc: "Why the session ended (mcp.router.session.close_reason)."})
	fCandidates        = field(fieldSpec{name: "candidates", kind: kindShortList, doc: "Servers considered (mcp.router.lb.candidates)."})
	fReason            = field(fieldSpec{name: "reason", kind: kindText, doc: "Reason."})
	fToState           = field(fieldSpec{name: "to_state", kind: kindEnum, enum: breakerNames, doc: "New breaker state (mcp.router.circuit_breaker.to_state)."})
	fFromState         = field(fieldSpec{name: "from_state", kind: kindEnum, enum: breakerNames, doc: "Previous breaker state (mcp.router.circuit_breaker.from_state)."})
	fFailureCount      = field(fieldSpec{name: "failure_count", kind: kindInt, min: 0, max: math.MaxInt64, doc: "Consecutive failures (mcp.router.circuit_breaker.failure_count)."})
	fActive            = field(fieldSpec{name: "active", kind: kindInt, min: 0, max: math.MaxInt64, doc: "Connections in use."})
	fIdle              = field(fieldSpec{name: "idle", kind: kindInt, min: 0, max: math.MaxInt64, doc: "Idle connections."})
	fPending           = field(fieldSpec{name: "pending", kind: kindInt, min: 0, max: math.MaxInt64, doc: "Requests waiting for a connection."})
)

func bit(f fieldID) uint64 { return 1 << f }

// signal is the pipeline an event type goes to.
type signal uint8

const (
	signalTraces signal = iota
	signalLogs
	signalMetrics
	numSignals
)

var signalNames = [numSignals]string{signalTraces: "traces", signalLogs: "logs", signalMetrics: "metrics"}

// typeField is a field an event type takes and the attribute it fills
// ("" when the mapping handles it: body, ids, status, ...).
type typeField struct {
	id       fieldID
	attr     string
	required bool
	// doc replaces the field's general description for this type.
	doc string
}

// typeSpec describes an event type.
type typeSpec struct {
	name   string
	signal signal
	// eventName is the log record's EventName (log events only).
	eventName string
	// body is the field that becomes the log body (log events only).
	body fieldID
	// spanKind is the kind of the span (span events only): a tool_call is
	// the CLIENT span of a tools/call.
	spanKind ptrace.SpanKind
	fields   []typeField
	doc      string

	// Derived at init.
	allowed  uint64
	required uint64
	reserved map[string]string // attribute key -> field (or fixed value) that sets it
}

func req(id fieldID, attr string) typeField { return typeField{id: id, attr: attr, required: true} }
func opt(id fieldID, attr string) typeField { return typeField{id: id, attr: attr} }

// Every event type takes the common fields first, and ends with the fields
// of its signal.
var commonFields = []typeField{
	req(fType, ""), opt(fID, ""), req(fTime, ""),
	opt(fServiceName, mcpconv.ServiceName), opt(fServiceInstanceID, mcpconv.ServiceInstanceID),
	opt(fAttributes, ""),
}

var signalFields = [numSignals][]typeField{
	signalTraces: {opt(fException, ""), opt(fSamplingThreshold, "")},
	signalLogs:   {opt(fSeverity, ""), opt(fSamplingThreshold, mcpconv.SamplingThreshold)},
}

// Attribute keys the receiver sets itself (or that mean something else) and
// that the attributes object therefore may not carry.
var commonReserved = []string{mcpconv.EventID, mcpconv.EventNameAttr, mcpconv.SamplingThreshold}

var sessionFields = []typeField{
	req(fSessionID, mcpconv.SessionID),
	{id: fTransport, attr: mcpconv.SessionTransport, doc: "Session transport (mcp.router.session.transport): sse, streamable_http, stdio."},
	opt(fProtocolVersion, mcpconv.ProtocolVersion),
	opt(fClientAddress, mcpconv.ClientAddress),
	opt(fServerKey, mcpconv.ServerKey),
	opt(fRequestCount, mcpconv.SessionRequestCount),
	opt(fErrorCount, mcpconv.SessionErrorCount),
	opt(fCloseReason, mcpconv.SessionCloseReason),
}

var types = []typeSpec{
	{name: "routing", signal: signalTraces, spanKind: ptrace.SpanKindServer,
		doc: "A request the router received: a SERVER span named {method} {target} (routing_log).",
		fields: []typeField{
			req(fMethod, mcpconv.MethodName), opt(fTarget, ""), req(fDurationMs, ""),
			opt(fTraceID, ""), opt(fSpanID, ""), opt(fParentSpanID, ""),
			opt(fTool, mcpconv.ToolName), opt(fResourceURI, mcpconv.ResourceURI),
			opt(fSessionID, mcpconv.SessionID), opt(fRequestID, mcpconv.JSONRPCRequestID),
			opt(fServerKey, mcpconv.ServerKey), opt(fStrategy, mcpconv.Strategy), opt(fAttempt, mcpconv.Attempt),
			opt(fStatus, ""), opt(fErrorType, mcpconv.ErrorType), opt(fErrorMessage, ""),
			opt(fRPCStatusCode, mcpconv.RPCResponseStatusCode), opt(fProtocolVersion, mcpconv.ProtocolVersion),
			{id: fTransport, attr: mcpconv.NetworkTransport, doc: "Network transport (network.transport): tcp, pipe, ..."},
			opt(fClientAddress, mcpconv.ClientAddress),
		}},
	{name: "tool_call", signal: signalTraces, spanKind: ptrace.SpanKindClient,
		doc: "A tools/call to an upstream server: a CLIENT span named tools/call {tool} (tool_call_record).",
		fields: []typeField{
			req(fTool, mcpconv.ToolName), req(fDurationMs, ""),
			opt(fTraceID, ""), opt(fSpanID, ""), opt(fParentSpanID, ""),
			opt(fToolCallID, mcpconv.ToolCallID), opt(fSessionID, mcpconv.SessionID),
			opt(fRequestID, mcpconv.JSONRPCRequestID), opt(fServerKey, mcpconv.ServerKey),
			opt(fServerAddress, mcpconv.ServerAddress), opt(fServerPort, mcpconv.ServerPort),
			opt(fAttempt, mcpconv.Attempt),
			opt(fStatus, ""), opt(fErrorType, mcpconv.ErrorType), opt(fErrorMessage, ""),
			opt(fRPCStatusCode, mcpconv.RPCResponseStatusCode),
			opt(fArguments, mcpconv.ToolArguments), opt(fResult, mcpconv.ToolResult),
		}},
	{name: "health_check", signal: signalLogs, eventName: mcpconv.EventHealthCheck, body: fMessage,
		doc: "One probe of an upstream server (health_check_record).",
		fields: []typeField{
			req(fServerKey, mcpconv.ServerKey), req(fHealthStatus, mcpconv.HealthStatus),
			opt(fCheck, mcpconv.HealthCheck), opt(fLatencyMs, mcpconv.HealthLatency),
			opt(fErrorType, mcpconv.ErrorType), opt(fMessage, ""),
		}},
	{name: "server_registered", signal: signalLogs, eventName: mcpconv.EventServerRegistered, body: fieldNone,
		doc: "An upstream server joined the registry (mcp_server upsert).",
		fields: []typeField{
			req(fServerKey, mcpconv.ServerKey), opt(fName, mcpconv.ServerName), opt(fURL, mcpconv.ServerURL),
			opt(fVersion, mcpconv.ServerVersion),
			{id: fTransport, attr: mcpconv.ServerTransport, doc: "How the router reaches the server (mcp.router.server.transport): stdio, sse, streamable_http."},
			opt(fTools, mcpconv.ServerTools), opt(fHealthStatus, mcpconv.HealthStatus),
		}},
	{name: "server_deregistered", signal: signalLogs, eventName: mcpconv.EventServerDeregistered, body: fieldNone,
		doc: "An upstream server left the registry (mcp_server upsert).",
		fields: []typeField{
			req(fServerKey, mcpconv.ServerKey),
		}},
	{name: "server_health_changed", signal: signalLogs, eventName: mcpconv.EventServerHealthChanged, body: fieldNone,
		doc: "An upstream server's health changed (mcp_server upsert).",
		fields: []typeField{
			req(fServerKey, mcpconv.ServerKey), req(fHealthStatus, mcpconv.HealthStatus),
		}},
	{name: "session_start", signal: signalLogs, eventName: mcpconv.EventSessionStart, body: fieldNone,
		doc: "A client session opened (session_record upsert).", fields: sessionFields},
	{name: "session_stats", signal: signalLogs, eventName: mcpconv.EventSessionStats, body: fieldNone,
		doc: "Periodic session counters, cumulative (session_record upsert).", fields: sessionFields},
	{name: "session_end", signal: signalLogs, eventName: mcpconv.EventSessionEnd, body: fieldNone,
		doc: "A client session closed (session_record upsert).", fields: sessionFields},
	{name: "lb_decision", signal: signalLogs, eventName: mcpconv.EventLBDecision, body: fieldNone,
		doc: "A load-balancer choice (lb_decision).",
		fields: []typeField{
			opt(fTraceID, ""), opt(fSpanID, ""),
			opt(fRequestID, mcpconv.JSONRPCRequestID), opt(fSessionID, mcpconv.SessionID),
			opt(fMethod, mcpconv.MethodName), opt(fTool, mcpconv.ToolName),
			opt(fStrategy, mcpconv.Strategy), {id: fServerKey, attr: mcpconv.ServerKey, doc: "The server chosen (mcp.router.server.key)."},
			opt(fCandidates, mcpconv.LBCandidates), {id: fReason, attr: mcpconv.LBReason, doc: "Why the chosen server won (mcp.router.lb.reason)."},
		}},
	{name: "circuit_breaker_state_change", signal: signalLogs, eventName: mcpconv.EventBreakerStateChange, body: fReason,
		doc: "A circuit breaker changed state (circuit_breaker_event).",
		fields: []typeField{
			req(fServerKey, mcpconv.ServerKey), req(fToState, mcpconv.BreakerToState),
			opt(fFromState, mcpconv.BreakerFromState), opt(fFailureCount, mcpconv.BreakerFailureCount),
			{id: fReason, doc: "Why the state changed (the log body)."},
		}},
	{name: "error", signal: signalLogs, eventName: mcpconv.EventError, body: fMessage,
		doc: "An error that belongs to no span (error_log).",
		fields: []typeField{
			req(fMessage, ""), opt(fErrorType, mcpconv.ErrorType), opt(fException, ""),
			opt(fTraceID, ""), opt(fSpanID, ""),
			opt(fRequestID, mcpconv.JSONRPCRequestID), opt(fSessionID, mcpconv.SessionID),
			opt(fServerKey, mcpconv.ServerKey), opt(fMethod, mcpconv.MethodName), opt(fTool, mcpconv.ToolName),
		}},
	{name: "pool_stats", signal: signalMetrics,
		doc: "Connection-pool sizes of one upstream server: the gauge mcp.router.pool.connections, one point per state given (metric_point). At least one of active, idle, pending.",
		fields: []typeField{
			req(fServerKey, mcpconv.ServerKey),
			opt(fActive, ""), opt(fIdle, ""), opt(fPending, ""),
		}},
}

// fieldByName and typeByName look the names of the JSON up.
var (
	fieldByName = map[string]fieldID{}
	typeByName  = map[string]*typeSpec{}
)

func init() {
	if len(fields) > maxFields {
		panic("more fields than an event's masks hold")
	}
	for i, f := range fields {
		fieldByName[f.name] = fieldID(i)
	}
	for i := range types {
		t := &types[i]
		typeByName[t.name] = t
		t.fields = slices.Concat(commonFields, t.fields, signalFields[t.signal])
		t.reserved = map[string]string{}
		for _, k := range commonReserved {
			t.reserved[k] = "the receiver"
		}
		for _, f := range t.fields {
			t.allowed |= bit(f.id)
			if f.required {
				t.required |= bit(f.id)
			}
			if f.attr != "" {
				t.reserved[f.attr] = "the field " + fields[f.id].name
			}
			if f.id == fException && t.signal == signalLogs {
				for _, k := range exceptionAttrs {
					t.reserved[k] = "the field exception"
				}
			}
		}
		if t.spanKind == ptrace.SpanKindClient {
			t.reserved[mcpconv.MethodName] = "the receiver (tools/call)"
			t.reserved[mcpconv.OperationName] = "the receiver (execute_tool)"
		}
	}
}
