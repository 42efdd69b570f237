package mcpconv

import (
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Kind is the kind of router telemetry an item carries; each kind has its own
// table and its own sampling rule.
type Kind uint8

const (
	KindOther Kind = iota
	KindRouting
	KindToolCall
	KindHealthCheck
	KindServer
	KindSession
	KindLBDecision
	KindCircuitBreaker
	KindError
)

var kindNames = [...]string{
	KindOther:          "other",
	KindRouting:        "routing",
	KindToolCall:       "tool_call",
	KindHealthCheck:    "health_check",
	KindServer:         "server",
	KindSession:        "session",
	KindLBDecision:     "lb_decision",
	KindCircuitBreaker: "circuit_breaker",
	KindError:          "error",
}

// String returns the kind's configuration name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Kinds lists every kind in declaration order.
func Kinds() []Kind {
	out := make([]Kind, len(kindNames))
	for i := range kindNames {
		out[i] = Kind(i)
	}
	return out
}

// ParseKind returns the kind with the given configuration name.
func ParseKind(name string) (Kind, bool) {
	for i, n := range kindNames {
		if n == name {
			return Kind(i), true
		}
	}
	return KindOther, false
}

// ClassifySpan tells what a span is by the side it shows: the serving side
// (SERVER with mcp.method.name: a server, or a router's inbound request) is
// a routing span; the calling side (CLIENT with mcp.method.name: a client,
// or a router's call to an upstream, of any method) is a tool call, the
// kind of tool_call_record. Anything else is KindOther (its exceptions still
// count as errors, see IsFailedSpan and HasExceptionEvent).
func ClassifySpan(span ptrace.Span) Kind {
	method, ok := span.Attributes().Get(MethodName)
	if !ok || method.AsString() == "" {
		return KindOther
	}
	switch span.Kind() {
	case ptrace.SpanKindServer:
		return KindRouting
	case ptrace.SpanKindClient:
		return KindToolCall
	}
	return KindOther
}

// IsFailedSpan reports a span that ended in error: status error or error.type set.
func IsFailedSpan(span ptrace.Span) bool {
	if span.Status().Code() == ptrace.StatusCodeError {
		return true
	}
	v, ok := span.Attributes().Get(ErrorType)
	return ok && v.AsString() != ""
}

// HasExceptionEvent reports a span that recorded an exception (an
// "exception" span event), whatever its status says: each such event is an
// error_log row, so a sampler keeps the span as it keeps failures.
func HasExceptionEvent(span ptrace.Span) bool {
	events := span.Events()
	for i := 0; i < events.Len(); i++ {
		if events.At(i).Name() == ExceptionEventName {
			return true
		}
	}
	return false
}

// LogEventName returns the event name of a log record: the EventName field,
// else the event.name attribute.
func LogEventName(lr plog.LogRecord) string {
	if n := lr.EventName(); n != "" {
		return n
	}
	if v, ok := lr.Attributes().Get(EventNameAttr); ok {
		return v.Str()
	}
	return ""
}

// ClassifyEvent maps an event name to its kind.
func ClassifyEvent(eventName string) Kind {
	switch eventName {
	case EventHealthCheck:
		return KindHealthCheck
	case EventServerRegistered, EventServerDeregistered, EventServerHealthChanged:
		return KindServer
	case EventSessionStart, EventSessionStats, EventSessionEnd:
		return KindSession
	case EventLBDecision:
		return KindLBDecision
	case EventBreakerStateChange:
		return KindCircuitBreaker
	case EventError:
		return KindError
	}
	return KindOther
}

// ClassifyLog tells what a log record is. A record of no known event name with
// ERROR severity or worse, or with an exception, is an error.
func ClassifyLog(lr plog.LogRecord) Kind {
	if k := ClassifyEvent(LogEventName(lr)); k != KindOther {
		return k
	}
	if isErrorSeverity(lr) {
		return KindError
	}
	if _, ok := lr.Attributes().Get(ExceptionType); ok {
		return KindError
	}
	return KindOther
}

// IsFailedLog reports a log record that describes a failure: ERROR severity or
// worse, error.type set, a failed health check, or a breaker opening.
func IsFailedLog(lr plog.LogRecord) bool {
	if isErrorSeverity(lr) {
		return true
	}
	attrs := lr.Attributes()
	if v, ok := attrs.Get(ErrorType); ok && v.AsString() != "" {
		return true
	}
	switch LogEventName(lr) {
	case EventHealthCheck, EventServerHealthChanged:
		v, ok := attrs.Get(HealthStatus)
		return ok && v.Str() != HealthHealthy
	case EventBreakerStateChange:
		v, ok := attrs.Get(BreakerToState)
		return ok && v.Str() == BreakerOpen
	case EventError:
		return true
	}
	return false
}

func isErrorSeverity(lr plog.LogRecord) bool {
	return lr.SeverityNumber() >= plog.SeverityNumberError
}
