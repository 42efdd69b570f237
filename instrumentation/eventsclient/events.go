package eventsclient

import (
	"encoding/json"
	"time"
)

// Event is one event of the receiver's format: a value (or pointer) of
// Routing, ToolCall, HealthCheck, ServerRegistered, ServerDeregistered,
// ServerHealthChanged, SessionStart, SessionStats, SessionEnd, LBDecision,
// BreakerStateChange, ErrorEvent or PoolStats.
//
// Every type has ID, Time and Attributes:
//   - ID is the event's idempotency key (a UUID, NewID, ...): a retried
//     event with the same id is stored once, and it is the event.id of the
//     row a log event becomes. Empty: the receiver derives one from the
//     event's content (identical events then collapse into one row).
//   - Time is the event time (spans: their start); zero means now.
//   - Attributes are extra attributes (the row's attributes column); a key
//     that a field of the event sets is refused by the receiver.
//
// Fields left at their zero value are not sent, except where a type says
// otherwise. See receiver/mcpeventsreceiver/README.md for the format.
type Event interface {
	// EventType is the event's "type", e.g. "routing".
	EventType() string
	event()
}

// Health values of HealthCheck, ServerRegistered and ServerHealthChanged
// (mcpconv.HealthHealthy and HealthUnhealthy).
const (
	Healthy   = "healthy"
	Unhealthy = "unhealthy"
)

// Circuit-breaker states (mcpconv.BreakerClosed, BreakerOpen, BreakerHalfOpen).
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half_open"
)

// Severity values of log events.
const (
	SeverityTrace = "TRACE"
	SeverityDebug = "DEBUG"
	SeverityInfo  = "INFO"
	SeverityWarn  = "WARN"
	SeverityError = "ERROR"
	SeverityFatal = "FATAL"
)

// Span status values of Routing and ToolCall; the default is "error" when
// ErrorType, ErrorMessage or Exception is set, else "unset".
const (
	StatusOK    = "ok"
	StatusError = "error"
	StatusUnset = "unset"
)

// TraceID and SpanID are span ids; the zero value is not sent.
// (go.opentelemetry.io/otel/trace's TraceID and SpanID convert to them.)
type (
	TraceID [16]byte
	SpanID  [8]byte
)

// Exception is an exception recorded with a span or an error event: Type or
// Message is required.
type Exception struct {
	Type, Message, Stacktrace string
}

// Routing is a request the router received: a SERVER span
// "{method} {target}" (routing_log). Method and Duration are required.
type Routing struct {
	ID     string
	Time   time.Time // start
	Method string
	// Duration is sent as duration_ms (0 to one day).
	Duration             time.Duration
	Target               string // the span name's target; default Tool
	TraceID              TraceID
	SpanID, ParentSpanID SpanID
	Tool, ResourceURI    string
	SessionID, RequestID string
	ServerKey, Strategy  string
	Attempt              int // 1-based; 0: not sent
	Status               string
	ErrorType            string
	ErrorMessage         string
	RPCStatusCode        string
	ProtocolVersion      string
	Transport            string // network.transport: tcp, pipe, ...
	ClientAddress        string
	Exception            *Exception
	SamplingThreshold    string
	Attributes           []Attribute
}

// ToolCall is a tools/call to an upstream server: a CLIENT span
// "tools/call {tool}" (tool_call_record). Tool and Duration are required;
// give it the TraceID of its Routing event and that event's SpanID as
// ParentSpanID.
type ToolCall struct {
	ID                   string
	Time                 time.Time // start
	Tool                 string
	Duration             time.Duration
	TraceID              TraceID
	SpanID, ParentSpanID SpanID
	ToolCallID           string
	SessionID, RequestID string
	ServerKey            string
	ServerAddress        string
	ServerPort           int // 0: not sent
	Attempt              int // 0: not sent
	Status               string
	ErrorType            string
	ErrorMessage         string
	RPCStatusCode        string
	// Arguments and Result are JSON values, stored (redacted) only when the
	// exporter's tool_payloads is enabled; text that is not valid JSON is
	// sent as a JSON string.
	Arguments, Result json.RawMessage
	Exception         *Exception
	SamplingThreshold string
	Attributes        []Attribute
}

// HealthCheck is one probe of an upstream server (health_check_record).
type HealthCheck struct {
	ID        string
	Time      time.Time
	ServerKey string // required
	Healthy   bool   // always sent, as health_status
	Check     string // ping, tools_list, http
	Latency   time.Duration
	ErrorType string
	Message   string // the log body
	Severity  string
	// SamplingThreshold is the OpenTelemetry sampling threshold when the
	// router sampled the event itself (it sets adjusted_count).
	SamplingThreshold string
	Attributes        []Attribute
}

// ServerRegistered is an upstream server joining the registry (mcp_server).
type ServerRegistered struct {
	ID                string
	Time              time.Time
	ServerKey         string // required
	Name, URL         string
	Version           string
	Transport         string // stdio, sse, streamable_http
	Tools             []string
	Health            string // Healthy, Unhealthy or empty
	Severity          string
	SamplingThreshold string
	Attributes        []Attribute
}

// ServerDeregistered is an upstream server leaving the registry.
type ServerDeregistered struct {
	ID                string
	Time              time.Time
	ServerKey         string // required
	Severity          string
	SamplingThreshold string
	Attributes        []Attribute
}

// ServerHealthChanged is an upstream server turning healthy or unhealthy.
type ServerHealthChanged struct {
	ID                string
	Time              time.Time
	ServerKey         string // required
	Healthy           bool   // always sent, as health_status
	Severity          string
	SamplingThreshold string
	Attributes        []Attribute
}

// SessionStart is a client session opening (session_record).
type SessionStart struct {
	ID                string
	Time              time.Time
	SessionID         string // required
	Transport         string // sse, streamable_http, stdio
	ProtocolVersion   string
	ClientAddress     string
	ServerKey         string
	Severity          string
	SamplingThreshold string
	Attributes        []Attribute
}

// SessionStats are a session's counters, cumulative since it started; both
// are always sent.
type SessionStats struct {
	ID                string
	Time              time.Time
	SessionID         string // required
	Requests, Errors  int64
	Severity          string
	SamplingThreshold string
	Attributes        []Attribute
}

// SessionEnd is a session closing with its final counters (always sent).
type SessionEnd struct {
	ID                string
	Time              time.Time
	SessionID         string // required
	Requests, Errors  int64
	CloseReason       string
	Severity          string
	SamplingThreshold string
	Attributes        []Attribute
}

// LBDecision is a load-balancer choice (lb_decision).
type LBDecision struct {
	ID                   string
	Time                 time.Time
	TraceID              TraceID
	SpanID               SpanID
	RequestID, SessionID string
	Method, Tool         string
	Strategy             string
	ServerKey            string // the server chosen
	Candidates           []string
	Reason               string
	Severity             string
	SamplingThreshold    string
	Attributes           []Attribute
}

// BreakerStateChange is a circuit-breaker transition (circuit_breaker_event).
type BreakerStateChange struct {
	ID        string
	Time      time.Time
	ServerKey string // required
	// To is required; From and To are BreakerClosed, BreakerOpen or
	// BreakerHalfOpen.
	From, To          string
	FailureCount      int    // consecutive failures; 0: not sent
	Reason            string // the log body
	Severity          string
	SamplingThreshold string
	Attributes        []Attribute
}

// ErrorEvent is an error that belongs to no span (error_log).
type ErrorEvent struct {
	ID                   string
	Time                 time.Time
	Message              string // required: the log body
	ErrorType            string
	Exception            *Exception
	TraceID              TraceID
	SpanID               SpanID
	RequestID, SessionID string
	ServerKey            string
	Method, Tool         string
	Severity             string
	SamplingThreshold    string
	Attributes           []Attribute
}

// PoolStats are the connection-pool sizes toward one upstream server: the
// gauge mcp.router.pool.connections, one point per state (metric_point).
// All three are always sent.
type PoolStats struct {
	ID                    string
	Time                  time.Time
	ServerKey             string // required
	Active, Idle, Pending int64
	Attributes            []Attribute
}

func (Routing) EventType() string             { return "routing" }
func (ToolCall) EventType() string            { return "tool_call" }
func (HealthCheck) EventType() string         { return "health_check" }
func (ServerRegistered) EventType() string    { return "server_registered" }
func (ServerDeregistered) EventType() string  { return "server_deregistered" }
func (ServerHealthChanged) EventType() string { return "server_health_changed" }
func (SessionStart) EventType() string        { return "session_start" }
func (SessionStats) EventType() string        { return "session_stats" }
func (SessionEnd) EventType() string          { return "session_end" }
func (LBDecision) EventType() string          { return "lb_decision" }
func (BreakerStateChange) EventType() string  { return "circuit_breaker_state_change" }
func (ErrorEvent) EventType() string          { return "error" }
func (PoolStats) EventType() string           { return "pool_stats" }

func (Routing) event()             {}
func (ToolCall) event()            {}
func (HealthCheck) event()         {}
func (ServerRegistered) event()    {}
func (ServerDeregistered) event()  {}
func (ServerHealthChanged) event() {}
func (SessionStart) event()        {}
func (SessionStats) event()        {}
func (SessionEnd) event()          {}
func (LBDecision) event()          {}
func (BreakerStateChange) event()  {}
func (ErrorEvent) event()          {}
func (PoolStats) event()           {}

// attrKind is the JSON type of an attribute value.
type attrKind uint8

const (
	attrString attrKind = iota + 1
	attrInt
	attrFloat
	attrBool
	attrStrings
)

// Attribute is one extra attribute: build it with String, Int, Int64,
// Float64, Bool or Strings.
type Attribute struct {
	Key  string
	kind attrKind
	s    string
	n    int64
	f    float64
	ss   []string
}

// String is a string attribute.
func String(key, v string) Attribute { return Attribute{Key: key, kind: attrString, s: v} }

// Int is an integer attribute.
func Int(key string, v int) Attribute { return Attribute{Key: key, kind: attrInt, n: int64(v)} }

// Int64 is an integer attribute.
func Int64(key string, v int64) Attribute { return Attribute{Key: key, kind: attrInt, n: v} }

// Float64 is a number attribute (NaN and infinities, which JSON cannot
// hold, are sent as strings).
func Float64(key string, v float64) Attribute { return Attribute{Key: key, kind: attrFloat, f: v} }

// Bool is a boolean attribute.
func Bool(key string, v bool) Attribute {
	a := Attribute{Key: key, kind: attrBool}
	if v {
		a.n = 1
	}
	return a
}

// Strings is an array-of-strings attribute.
func Strings(key string, v []string) Attribute { return Attribute{Key: key, kind: attrStrings, ss: v} }
