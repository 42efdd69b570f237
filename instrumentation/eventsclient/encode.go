package eventsclient

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/mcp-bridge/otelcol-mcp/internal/jsonstr"
)

// Resource identifies the router that sends: the service_name and
// service_instance_id of every event (resource attributes service.name and
// service.instance.id). Empty fields are not sent.
type Resource struct {
	ServiceName       string
	ServiceInstanceID string
}

// AppendJSON appends e to b as one JSON object, without a newline. A nil
// Event appends nothing.
//
// The encoder writes the fields of each type itself (no reflection): strings
// are escaped as encoding/json would read them back, invalid UTF-8 becomes
// U+FFFD, times are unix nanoseconds, durations milliseconds.
func AppendJSON(b []byte, res Resource, e Event) []byte {
	// A type switch rather than a method of Event: the concrete calls let an
	// event passed by the caller stay on its stack.
	switch e := e.(type) {
	case *Routing:
		return e.appendJSON(b, &res)
	case Routing:
		return e.appendJSON(b, &res)
	case *ToolCall:
		return e.appendJSON(b, &res)
	case ToolCall:
		return e.appendJSON(b, &res)
	case *HealthCheck:
		return e.appendJSON(b, &res)
	case HealthCheck:
		return e.appendJSON(b, &res)
	case *ServerRegistered:
		return e.appendJSON(b, &res)
	case ServerRegistered:
		return e.appendJSON(b, &res)
	case *ServerDeregistered:
		return e.appendJSON(b, &res)
	case ServerDeregistered:
		return e.appendJSON(b, &res)
	case *ServerHealthChanged:
		return e.appendJSON(b, &res)
	case ServerHealthChanged:
		return e.appendJSON(b, &res)
	case *SessionStart:
		return e.appendJSON(b, &res)
	case SessionStart:
		return e.appendJSON(b, &res)
	case *SessionStats:
		return e.appendJSON(b, &res)
	case SessionStats:
		return e.appendJSON(b, &res)
	case *SessionEnd:
		return e.appendJSON(b, &res)
	case SessionEnd:
		return e.appendJSON(b, &res)
	case *LBDecision:
		return e.appendJSON(b, &res)
	case LBDecision:
		return e.appendJSON(b, &res)
	case *BreakerStateChange:
		return e.appendJSON(b, &res)
	case BreakerStateChange:
		return e.appendJSON(b, &res)
	case *ErrorEvent:
		return e.appendJSON(b, &res)
	case ErrorEvent:
		return e.appendJSON(b, &res)
	case *PoolStats:
		return e.appendJSON(b, &res)
	case PoolStats:
		return e.appendJSON(b, &res)
	}
	return b
}

// AppendNDJSON appends the events to b, one line each: a body for
// Content-Type application/x-ndjson.
func AppendNDJSON(b []byte, res Resource, events ...Event) []byte {
	for _, e := range events {
		if e != nil {
			b = append(AppendJSON(b, res, e), '\n')
		}
	}
	return b
}

func (e *Routing) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"routing"`, e.ID, e.Time, res)
	b = str(b, `,"method":`, e.Method)
	b = millis(b, `,"duration_ms":`, e.Duration)
	b = str(b, `,"target":`, e.Target)
	b = traceID(b, e.TraceID)
	b = spanID(b, `,"span_id":`, e.SpanID)
	b = spanID(b, `,"parent_span_id":`, e.ParentSpanID)
	b = str(b, `,"tool":`, e.Tool)
	b = str(b, `,"resource_uri":`, e.ResourceURI)
	b = str(b, `,"session_id":`, e.SessionID)
	b = str(b, `,"request_id":`, e.RequestID)
	b = str(b, `,"server_key":`, e.ServerKey)
	b = str(b, `,"strategy":`, e.Strategy)
	b = positive(b, `,"attempt":`, int64(e.Attempt))
	b = str(b, `,"status":`, e.Status)
	b = str(b, `,"error_type":`, e.ErrorType)
	b = str(b, `,"error_message":`, e.ErrorMessage)
	b = str(b, `,"rpc_status_code":`, e.RPCStatusCode)
	b = str(b, `,"protocol_version":`, e.ProtocolVersion)
	b = str(b, `,"transport":`, e.Transport)
	b = str(b, `,"client_address":`, e.ClientAddress)
	b = exception(b, e.Exception)
	b = str(b, `,"sampling_threshold":`, e.SamplingThreshold)
	return tail(b, e.Attributes)
}

func (e *ToolCall) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"tool_call"`, e.ID, e.Time, res)
	b = str(b, `,"tool":`, e.Tool)
	b = millis(b, `,"duration_ms":`, e.Duration)
	b = traceID(b, e.TraceID)
	b = spanID(b, `,"span_id":`, e.SpanID)
	b = spanID(b, `,"parent_span_id":`, e.ParentSpanID)
	b = str(b, `,"tool_call_id":`, e.ToolCallID)
	b = str(b, `,"session_id":`, e.SessionID)
	b = str(b, `,"request_id":`, e.RequestID)
	b = str(b, `,"server_key":`, e.ServerKey)
	b = str(b, `,"server_address":`, e.ServerAddress)
	b = positive(b, `,"server_port":`, int64(e.ServerPort))
	b = positive(b, `,"attempt":`, int64(e.Attempt))
	b = str(b, `,"status":`, e.Status)
	b = str(b, `,"error_type":`, e.ErrorType)
	b = str(b, `,"error_message":`, e.ErrorMessage)
	b = str(b, `,"rpc_status_code":`, e.RPCStatusCode)
	b = raw(b, `,"arguments":`, e.Arguments)
	b = raw(b, `,"result":`, e.Result)
	b = exception(b, e.Exception)
	b = str(b, `,"sampling_threshold":`, e.SamplingThreshold)
	return tail(b, e.Attributes)
}

func (e *HealthCheck) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"health_check"`, e.ID, e.Time, res)
	b = str(b, `,"server_key":`, e.ServerKey)
	b = health(b, e.Healthy)
	b = str(b, `,"check":`, e.Check)
	if e.Latency != 0 {
		b = millis(b, `,"latency_ms":`, e.Latency)
	}
	b = str(b, `,"error_type":`, e.ErrorType)
	b = str(b, `,"message":`, e.Message)
	b = str(b, `,"severity":`, e.Severity)
	b = str(b, `,"sampling_threshold":`, e.SamplingThreshold)
	return tail(b, e.Attributes)
}

func (e *ServerRegistered) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"server_registered"`, e.ID, e.Time, res)
	b = str(b, `,"server_key":`, e.ServerKey)
	b = str(b, `,"name":`, e.Name)
	b = str(b, `,"url":`, e.URL)
	b = str(b, `,"version":`, e.Version)
	b = str(b, `,"transport":`, e.Transport)
	b = list(b, `,"tools":`, e.Tools)
	b = str(b, `,"health_status":`, e.Health)
	b = str(b, `,"severity":`, e.Severity)
	b = str(b, `,"sampling_threshold":`, e.SamplingThreshold)
	return tail(b, e.Attributes)
}

func (e *ServerDeregistered) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"server_deregistered"`, e.ID, e.Time, res)
	b = str(b, `,"server_key":`, e.ServerKey)
	b = str(b, `,"severity":`, e.Severity)
	b = str(b, `,"sampling_threshold":`, e.SamplingThreshold)
	return tail(b, e.Attributes)
}

func (e *ServerHealthChanged) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"server_health_changed"`, e.ID, e.Time, res)
	b = str(b, `,"server_key":`, e.ServerKey)
	b = health(b, e.Healthy)
	b = str(b, `,"severity":`, e.Severity)
	b = str(b, `,"sampling_threshold":`, e.SamplingThreshold)
	return tail(b, e.Attributes)
}

func (e *SessionStart) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"session_start"`, e.ID, e.Time, res)
	b = str(b, `,"session_id":`, e.SessionID)
	b = str(b, `,"transport":`, e.Transport)
	b = str(b, `,"protocol_version":`, e.ProtocolVersion)
	b = str(b, `,"client_address":`, e.ClientAddress)
	b = str(b, `,"server_key":`, e.ServerKey)
	b = str(b, `,"severity":`, e.Severity)
	b = str(b, `,"sampling_threshold":`, e.SamplingThreshold)
	return tail(b, e.Attributes)
}

func (e *SessionStats) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"session_stats"`, e.ID, e.Time, res)
	b = str(b, `,"session_id":`, e.SessionID)
	b = integer(b, `,"request_count":`, e.Requests)
	b = integer(b, `,"error_count":`, e.Errors)
	b = str(b, `,"severity":`, e.Severity)
	b = str(b, `,"sampling_threshold":`, e.SamplingThreshold)
	return tail(b, e.Attributes)
}

func (e *SessionEnd) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"session_end"`, e.ID, e.Time, res)
	b = str(b, `,"session_id":`, e.SessionID)
	b = integer(b, `,"request_count":`, e.Requests)
	b = integer(b, `,"error_count":`, e.Errors)
	b = str(b, `,"close_reason":`, e.CloseReason)
	b = str(b, `,"severity":`, e.Severity)
	b = str(b, `,"sampling_threshold":`, e.SamplingThreshold)
	return tail(b, e.Attributes)
}

func (e *LBDecision) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"lb_decision"`, e.ID, e.Time, res)
	b = traceID(b, e.TraceID)
	b = spanID(b, `,"span_id":`, e.SpanID)
	b = str(b, `,"request_id":`, e.RequestID)
	b = str(b, `,"session_id":`, e.SessionID)
	b = str(b, `,"method":`, e.Method)
	b = str(b, `,"tool":`, e.Tool)
	b = str(b, `,"strategy":`, e.Strategy)
	b = str(b, `,"server_key":`, e.ServerKey)
	b = list(b, `,"candidates":`, e.Candidates)
	b = str(b, `,"reason":`, e.Reason)
	b = str(b, `,"severity":`, e.Severity)
	b = str(b, `,"sampling_threshold":`, e.SamplingThreshold)
	return tail(b, e.Attributes)
}

func (e *BreakerStateChange) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"circuit_breaker_state_change"`, e.ID, e.Time, res)
	b = str(b, `,"server_key":`, e.ServerKey)
	b = str(b, `,"to_state":`, e.To)
	b = str(b, `,"from_state":`, e.From)
	b = positive(b, `,"failure_count":`, int64(e.FailureCount))
	b = str(b, `,"reason":`, e.Reason)
	b = str(b, `,"severity":`, e.Severity)
	b = str(b, `,"sampling_threshold":`, e.SamplingThreshold)
	return tail(b, e.Attributes)
}

func (e *ErrorEvent) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"error"`, e.ID, e.Time, res)
	b = str(b, `,"message":`, e.Message)
	b = str(b, `,"error_type":`, e.ErrorType)
	b = exception(b, e.Exception)
	b = traceID(b, e.TraceID)
	b = spanID(b, `,"span_id":`, e.SpanID)
	b = str(b, `,"request_id":`, e.RequestID)
	b = str(b, `,"session_id":`, e.SessionID)
	b = str(b, `,"server_key":`, e.ServerKey)
	b = str(b, `,"method":`, e.Method)
	b = str(b, `,"tool":`, e.Tool)
	b = str(b, `,"severity":`, e.Severity)
	b = str(b, `,"sampling_threshold":`, e.SamplingThreshold)
	return tail(b, e.Attributes)
}

func (e *PoolStats) appendJSON(b []byte, res *Resource) []byte {
	b = head(b, `{"type":"pool_stats"`, e.ID, e.Time, res)
	b = str(b, `,"server_key":`, e.ServerKey)
	b = integer(b, `,"active":`, e.Active)
	b = integer(b, `,"idle":`, e.Idle)
	b = integer(b, `,"pending":`, e.Pending)
	return tail(b, e.Attributes)
}

// The helpers below take a field's key as the literal that precedes its
// value (`,"tool":`), so that a field costs one append of its key.

func head(b []byte, open, id string, t time.Time, res *Resource) []byte {
	b = append(b, open...)
	b = str(b, `,"id":`, id)
	if t.IsZero() {
		t = time.Now()
	}
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	b = str(b, `,"service_name":`, res.ServiceName)
	return str(b, `,"service_instance_id":`, res.ServiceInstanceID)
}

func tail(b []byte, attrs []Attribute) []byte {
	if len(attrs) > 0 {
		b = appendAttributes(b, attrs)
	}
	return append(b, '}')
}

func str(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendString(append(b, key...), v)
}

func integer(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(b, key...), v, 10)
}

func positive(b []byte, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	return integer(b, key, v)
}

func millis(b []byte, key string, d time.Duration) []byte {
	return strconv.AppendFloat(append(b, key...), float64(d)/float64(time.Millisecond), 'f', -1, 64)
}

func health(b []byte, healthy bool) []byte {
	if healthy {
		return append(b, `,"health_status":"healthy"`...)
	}
	return append(b, `,"health_status":"unhealthy"`...)
}

func traceID(b []byte, id TraceID) []byte {
	if id == (TraceID{}) {
		return b
	}
	b = append(b, `,"trace_id":"`...)
	b = hex.AppendEncode(b, id[:])
	return append(b, '"')
}

func spanID(b []byte, key string, id SpanID) []byte {
	if id == (SpanID{}) {
		return b
	}
	b = append(b, key...)
	b = append(b, '"')
	b = hex.AppendEncode(b, id[:])
	return append(b, '"')
}

func list(b []byte, key string, vs []string) []byte {
	if len(vs) == 0 {
		return b
	}
	return appendStrings(append(b, key...), vs)
}

func appendStrings(b []byte, vs []string) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	return append(b, ']')
}

func raw(b []byte, key string, v json.RawMessage) []byte {
	if len(v) == 0 {
		return b
	}
	b = append(b, key...)
	if json.Valid(v) {
		return append(b, v...)
	}
	return appendString(b, string(v))
}

func exception(b []byte, e *Exception) []byte {
	if e == nil {
		return b
	}
	b = append(b, `,"exception":{`...)
	sep := ""
	for _, f := range [...]struct{ key, v string }{{`"type":`, e.Type}, {`"message":`, e.Message}, {`"stacktrace":`, e.Stacktrace}} {
		if f.v != "" {
			b = appendString(append(append(b, sep...), f.key...), f.v)
			sep = ","
		}
	}
	return append(b, '}')
}

func appendAttributes(b []byte, attrs []Attribute) []byte {
	b = append(b, `,"attributes":{`...)
	for i := range attrs {
		a := &attrs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, a.Key), ':')
		switch a.kind {
		case attrInt:
			b = strconv.AppendInt(b, a.n, 10)
		case attrFloat:
			if math.IsNaN(a.f) || math.IsInf(a.f, 0) {
				b = appendString(b, strconv.FormatFloat(a.f, 'g', -1, 64))
			} else {
				b = strconv.AppendFloat(b, a.f, 'g', -1, 64)
			}
		case attrBool:
			b = strconv.AppendBool(b, a.n != 0)
		case attrStrings:
			b = appendStrings(b, a.ss)
		default:
			b = appendString(b, a.s)
		}
	}
	return append(b, '}')
}

// appendString appends s as a JSON string (jsonstr.Append, shared with the
// exporter): '"', '\\' and control characters escaped, every byte of
// invalid UTF-8 replaced by U+FFFD (as encoding/json does).
func appendString(b []byte, s string) []byte { return jsonstr.Append(b, s) }
