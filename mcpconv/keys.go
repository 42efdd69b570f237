package mcpconv

import (
	"strings"

	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
)

// Attribute keys from the OpenTelemetry semantic conventions.
const (
	MethodName            = string(semconv.McpMethodNameKey)
	SessionID             = string(semconv.McpSessionIDKey)
	ProtocolVersion       = string(semconv.McpProtocolVersionKey)
	ResourceURI           = string(semconv.McpResourceURIKey)
	JSONRPCRequestID      = string(semconv.JSONRPCRequestIDKey)
	ToolName              = string(semconv.GenAIToolNameKey)
	PromptName            = string(semconv.GenAIPromptNameKey)
	ToolCallID            = string(semconv.GenAIToolCallIDKey)
	OperationName         = string(semconv.GenAIOperationNameKey)
	ErrorType             = string(semconv.ErrorTypeKey)
	RPCResponseStatusCode = string(semconv.RPCResponseStatusCodeKey)
	NetworkTransport      = string(semconv.NetworkTransportKey)
	NetworkProtocolName   = string(semconv.NetworkProtocolNameKey)
	ClientAddress         = string(semconv.ClientAddressKey)
	ServerAddress         = string(semconv.ServerAddressKey)
	ServerPort            = string(semconv.ServerPortKey)
	ExceptionType         = string(semconv.ExceptionTypeKey)
	ExceptionMessage      = string(semconv.ExceptionMessageKey)
	ExceptionStacktrace   = string(semconv.ExceptionStacktraceKey)
	ServiceName           = string(semconv.ServiceNameKey)
	ServiceInstanceID     = string(semconv.ServiceInstanceIDKey)
)

// Values of the semantic conventions that the classification relies on.
const (
	MethodToolsCall      = "tools/call"
	MethodPromptsGet     = "prompts/get"
	OperationExecuteTool = "execute_tool"
	// ExceptionEventName is the span event name of a recorded exception.
	ExceptionEventName = "exception"
)

// Attribute keys that are not (yet) in the semantic conventions.
const (
	// EventID identifies one log event; a client's retry carries the same id,
	// so the stored row is recognised rather than duplicated.
	EventID = "event.id"
	// EventNameAttr carries the event name on log records from SDKs that
	// cannot set the LogRecord EventName field.
	EventNameAttr = "event.name"
	// SamplingThreshold is the OpenTelemetry consistent-probability threshold
	// (hex, as in tracestate ot=th) applied to a log record.
	SamplingThreshold = "sampling.threshold"
	// SamplingRandomness is explicit randomness (hex, as in tracestate
	// ot=rv) for consistent sampling of a log record.
	SamplingRandomness = "sampling.randomness"
)

// Router attributes under mcp.router.*.
const (
	ServerKey       = "mcp.router.server.key"       // the upstream server chosen for a request
	ServerName      = "mcp.router.server.name"      // display name of an upstream server
	ServerURL       = "mcp.router.server.url"       // endpoint of an upstream server
	ServerVersion   = "mcp.router.server.version"   // upstream server implementation version
	ServerTools     = "mcp.router.server.tools"     // string slice: tools an upstream offers
	ServerTransport = "mcp.router.server.transport" // how the router reaches the upstream: stdio, sse, streamable_http
	Strategy        = "mcp.router.strategy"         // load-balancing strategy (round_robin, least_conn, ...)
	Attempt         = "mcp.router.attempt"          // 1-based attempt number of a routed request

	LBCandidates = "mcp.router.lb.candidates" // string slice: servers considered
	LBReason     = "mcp.router.lb.reason"     // why the chosen server won

	HealthStatus  = "mcp.router.health.status"  // HealthHealthy or HealthUnhealthy
	HealthCheck   = "mcp.router.health.check"   // kind of probe: ping, tools_list, http
	HealthLatency = "mcp.router.health.latency" // probe latency in seconds (double)

	BreakerFromState    = "mcp.router.circuit_breaker.from_state"
	BreakerToState      = "mcp.router.circuit_breaker.to_state"
	BreakerFailureCount = "mcp.router.circuit_breaker.failure_count"

	SessionTransport    = "mcp.router.session.transport" // sse, streamable_http, stdio
	SessionRequestCount = "mcp.router.session.request_count"
	SessionErrorCount   = "mcp.router.session.error_count"
	SessionCloseReason  = "mcp.router.session.close_reason"

	PoolState = "mcp.router.pool.state" // active, idle, pending

	ToolArguments = "mcp.router.tool.arguments" // opt-in JSON text of a tool call's arguments
	ToolResult    = "mcp.router.tool.result"    // opt-in JSON text of a tool call's result
)

// Attribute keys that carry tool payloads (arguments, results, whole
// JSON-RPC messages) in the conventions and in other emitters' dialects.
// None of them is ever stored in an attributes column; the conventional
// two reach tool_call_payload, redacted, when tool payloads are enabled.
const (
	GenAIToolCallArguments = "gen_ai.tool.call.arguments"
	GenAIToolCallResult    = "gen_ai.tool.call.result"
	TraceloopEntityInput   = "traceloop.entity.input"
	TraceloopEntityOutput  = "traceloop.entity.output"
	// ToolResultIsError is the isError flag of a tools/call result, as
	// some emitters record it (a flag, not a payload).
	ToolResultIsError = "mcp.tool.result.is_error"
	// ErrorTypeToolError is the error.type of a tools/call whose result has
	// isError set.
	ErrorTypeToolError = "tool_error"
)

// IsPayloadKey reports an attribute key that carries a tool payload: the
// keys above, gen_ai.input.messages / gen_ai.output.messages, and the
// families some emitters spread over one key per argument or content item
// (Sentry: mcp.request.argument.*, mcp.tool.result[.N].*,
// mcp.prompt.result[.N].*, mcp.logging.message), the draft keys
// mcp.tool.arguments / mcp.tool.result, except the counts and flags among
// them. It is called for every stored attribute, so it compares
// strings instead of hashing.
func IsPayloadKey(key string) bool {
	switch {
	case strings.HasPrefix(key, "mcp."):
		switch key {
		case ToolArguments, ToolResult, "mcp.logging.message",
			// earlier drafts of the conventions (ToolHive vMCP with
			// useLegacyAttributes, its default, among others)
			"mcp.tool.arguments", "mcp.tool.result":
			return true
		case ToolResultIsError, "mcp.tool.result.content_count", "mcp.prompt.result.message_count":
			return false
		}
		return strings.HasPrefix(key, "mcp.request.argument.") ||
			strings.HasPrefix(key, "mcp.tool.result.") ||
			strings.HasPrefix(key, "mcp.prompt.result.")
	case strings.HasPrefix(key, "gen_ai."):
		return key == GenAIToolCallArguments || key == GenAIToolCallResult ||
			key == "gen_ai.input.messages" || key == "gen_ai.output.messages"
	case strings.HasPrefix(key, "traceloop.entity."):
		return key == TraceloopEntityInput || key == TraceloopEntityOutput
	}
	return false
}

// Values of router attributes.
const (
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"

	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half_open"

	// mcp.router.pool.state, one data point each.
	PoolActive  = "active"
	PoolIdle    = "idle"
	PoolPending = "pending"
)

// Event names of log records not tied to one request.
const (
	EventHealthCheck         = "mcp.router.health_check"
	EventServerRegistered    = "mcp.router.server.registered"
	EventServerDeregistered  = "mcp.router.server.deregistered"
	EventServerHealthChanged = "mcp.router.server.health_changed"
	EventSessionStart        = "mcp.router.session.start"
	EventSessionStats        = "mcp.router.session.stats"
	EventSessionEnd          = "mcp.router.session.end"
	EventLBDecision          = "mcp.router.lb.decision"
	EventBreakerStateChange  = "mcp.router.circuit_breaker.state_change"
	EventError               = "mcp.router.error"
)

// Metric names.
const (
	MetricServerOperationDuration = "mcp.server.operation.duration"
	MetricClientOperationDuration = "mcp.client.operation.duration"
	MetricPoolConnections         = "mcp.router.pool.connections"
)

// DurationBucketsSeconds are the explicit histogram boundaries the semantic
// conventions recommend for the MCP operation-duration histograms.
var DurationBucketsSeconds = []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}
