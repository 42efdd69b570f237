package mcppgexporter

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

type tableID int

const (
	routingLog tableID = iota
	toolCallRecord
	errorLog
	healthCheckRecord
	lbDecision
	circuitBreakerEvent
	mcpServer
	sessionRecord
	metricPoint
	toolCallPayload
	numTables
)

// tables are the tables the exporter writes, by id; their descriptions
// follow.
var tables = [numTables]*table{
	routingLog:          &routingLogTable.table,
	toolCallRecord:      &toolCallTable.table,
	errorLog:            &errorLogTable.table,
	healthCheckRecord:   &healthCheckTable.table,
	lbDecision:          &lbDecisionTable.table,
	circuitBreakerEvent: &breakerTable.table,
	mcpServer:           &serverTable.table,
	sessionRecord:       &sessionTable.table,
	metricPoint:         &metricPointTable.table,
	toolCallPayload:     &toolPayloadTable.table,
}

// Columns of span rows that several tables share.
var (
	spanStart = column[spanItem]{name: "ts", typ: pgTimestamptz,
		value: func(s *spanItem) any { return timestampOf(s.span.StartTimestamp()) }}
	spanTraceID = column[spanItem]{name: "trace_id", typ: pgBytea,
		value: func(s *spanItem) any { return traceIDBytes(s.span.TraceID()) }}
	spanSpanID = column[spanItem]{name: "span_id", typ: pgBytea,
		value: func(s *spanItem) any { return spanIDBytes(s.span.SpanID()) }}
	spanParentID = column[spanItem]{name: "parent_span_id", typ: pgBytea,
		value: func(s *spanItem) any { return spanIDBytes(s.span.ParentSpanID()) }}
	spanDuration = column[spanItem]{name: "duration_us", typ: pgBigint,
		value: func(s *spanItem) any { return durationMicros(s.span) }}
	spanStatus = column[spanItem]{name: "status", typ: pgText,
		value: func(s *spanItem) any { return statusText(s.span.Status().Code()) }}
	spanStatusMessage = column[spanItem]{name: "status_message", typ: pgText,
		value: func(s *spanItem) any { return textOrNil(s.span.Status().Message()) }}
	spanServiceName = column[spanItem]{name: "service_name", typ: pgText,
		value: func(s *spanItem) any { return s.res.serviceName }}
	spanAdjustedCount = column[spanItem]{name: "adjusted_count", typ: pgFloat8,
		value: func(s *spanItem) any { return mcpconv.SpanAdjustedCount(s.span) }}
	spanAttributes = column[spanItem]{name: "attributes", typ: pgJSONB, attributes: true}
)

// routingLogTable: a serving side's request (SERVER span with mcp.method.name).
var routingLogTable = describe(routingLog, layout{name: "routing_log", time: "ts"}, []column[spanItem]{
	spanStart,
	spanTraceID,
	spanSpanID,
	spanParentID,
	spanDuration,
	{name: "span_name", typ: pgText, value: func(s *spanItem) any { return s.span.Name() }},
	{name: "method", typ: pgText, attr: mcpconv.MethodName},
	{name: "tool_name", typ: pgText, attr: mcpconv.ToolName},
	{name: "resource_uri", typ: pgText, attr: mcpconv.ResourceURI},
	{name: "session_id", typ: pgText, attr: mcpconv.SessionID},
	{name: "request_id", typ: pgText, attr: mcpconv.JSONRPCRequestID},
	{name: "server_key", typ: pgText, attr: mcpconv.ServerKey},
	{name: "strategy", typ: pgText, attr: mcpconv.Strategy},
	{name: "attempt", typ: pgInteger, attr: mcpconv.Attempt, as: asAttempt},
	spanStatus,
	spanStatusMessage,
	{name: "error_type", typ: pgText, attr: mcpconv.ErrorType},
	{name: "rpc_status_code", typ: pgText, attr: mcpconv.RPCResponseStatusCode},
	{name: "protocol_version", typ: pgText, attr: mcpconv.ProtocolVersion},
	{name: "transport", typ: pgText, attr: mcpconv.NetworkTransport},
	{name: "client_address", typ: pgText, attr: mcpconv.ClientAddress},
	spanServiceName,
	{name: "service_instance", typ: pgText, value: func(s *spanItem) any { return s.res.serviceInstance }},
	spanAdjustedCount,
	spanAttributes,
})

// toolCallTable: a calling side's operation (CLIENT span with
// mcp.method.name). gen_ai.operation.name says the operation is a tool
// call, which the table says already: it is dropped, like a promoted key.
var toolCallTable = describe(toolCallRecord, layout{name: "tool_call_record", time: "ts",
	drops: []string{mcpconv.OperationName}}, []column[spanItem]{
	spanStart,
	spanTraceID,
	spanSpanID,
	spanParentID,
	spanDuration,
	{name: "tool_name", typ: pgText, attr: mcpconv.ToolName},
	{name: "method", typ: pgText, attr: mcpconv.MethodName},
	{name: "tool_call_id", typ: pgText, attr: mcpconv.ToolCallID},
	{name: "session_id", typ: pgText, attr: mcpconv.SessionID},
	{name: "request_id", typ: pgText, attr: mcpconv.JSONRPCRequestID},
	{name: "server_key", typ: pgText, attr: mcpconv.ServerKey},
	{name: "server_address", typ: pgText, attr: mcpconv.ServerAddress},
	{name: "attempt", typ: pgInteger, attr: mcpconv.Attempt, as: asAttempt},
	spanStatus,
	spanStatusMessage,
	{name: "error_type", typ: pgText, attr: mcpconv.ErrorType},
	{name: "rpc_status_code", typ: pgText, attr: mcpconv.RPCResponseStatusCode},
	spanServiceName,
	spanAdjustedCount,
	spanAttributes,
})

// toolPayloadTable: the redacted arguments and result of an operation,
// opt-in (payload.go); spanItem.args and result are set before the row is
// made, and no row is made when both are NULL.
var toolPayloadTable = describe(toolCallPayload, layout{name: "tool_call_payload", time: "ts"}, []column[spanItem]{
	spanStart,
	spanTraceID,
	spanSpanID,
	{name: "arguments", typ: pgJSONB, attr: mcpconv.ToolArguments, value: func(s *spanItem) any { return s.args }},
	{name: "result", typ: pgJSONB, attr: mcpconv.ToolResult, value: func(s *spanItem) any { return s.result }},
})

// errorContext is an error_log column filled from an attribute of the span
// or record the error is about: the item's own attributes, but for an
// exception event those of its span (the event's own stay in attributes).
func errorContext(name, key string) column[errorItem] {
	return column[errorItem]{name: name, typ: pgText, attr: key, from: fromSpan | fromLog,
		value: func(e *errorItem) any { return strOrNil(e.ctx, key) }}
}

// errorLogTable: a failure, from an exception event of a span (fromEvent),
// a failed span without one (fromSpan) or an error log record (fromLog).
var errorLogTable = describe(errorLog, layout{name: "error_log", time: "ts"}, []column[errorItem]{
	{name: "ts", typ: pgTimestamptz, value: func(e *errorItem) any {
		switch e.origin {
		case fromEvent:
			// An unset event time is the span's end, not 1970 (which the
			// event-time window would refuse).
			if at := e.event.Timestamp(); at != 0 {
				return timestampOf(at)
			}
		case fromLog:
			return e.log.ts
		}
		return timestampOf(e.span.EndTimestamp())
	}},
	{name: "event_id", typ: pgText, attr: mcpconv.EventID, from: fromLog, value: func(e *errorItem) any {
		switch e.origin {
		case fromEvent:
			return spanEventID(e.span.TraceID(), e.span.SpanID(), e.eventIndex)
		case fromLog:
			return e.log.eventID()
		}
		return spanEventID(e.span.TraceID(), e.span.SpanID(), -1)
	}},
	{name: "source", typ: pgText, value: func(e *errorItem) any {
		switch e.origin {
		case fromEvent:
			return sourceException
		case fromLog:
			return sourceLog
		}
		return sourceSpanStatus
	}},
	{name: "event_name", typ: pgText, attr: mcpconv.EventNameAttr, from: fromLog, value: func(e *errorItem) any {
		if e.origin != fromLog {
			return nil // spans have none
		}
		return textOrNil(e.log.eventName)
	}},
	{name: "trace_id", typ: pgBytea, value: func(e *errorItem) any {
		if e.origin == fromLog {
			return traceIDBytes(e.log.lr.TraceID())
		}
		return traceIDBytes(e.span.TraceID())
	}},
	{name: "span_id", typ: pgBytea, value: func(e *errorItem) any {
		if e.origin == fromLog {
			return spanIDBytes(e.log.lr.SpanID())
		}
		return spanIDBytes(e.span.SpanID())
	}},
	errorContext("request_id", mcpconv.JSONRPCRequestID),
	errorContext("session_id", mcpconv.SessionID),
	errorContext("server_key", mcpconv.ServerKey),
	errorContext("method", mcpconv.MethodName),
	errorContext("tool_name", mcpconv.ToolName),
	// error.type is the low-cardinality class the conventions define;
	// exception.type (a language type name) only stands in for it, and
	// stays in attributes.
	{name: "error_type", typ: pgText, attr: mcpconv.ErrorType, from: fromSpan | fromLog, value: func(e *errorItem) any {
		if t := strOrNil(e.ctx, mcpconv.ErrorType); t != nil || e.origin == fromSpan {
			return t
		}
		return strOrNil(e.attrs, mcpconv.ExceptionType)
	}},
	{name: "message", typ: pgText, attr: mcpconv.ExceptionMessage, from: fromEvent | fromLog, value: func(e *errorItem) any {
		switch e.origin {
		case fromSpan:
			return textOrNil(e.span.Status().Message())
		case fromLog:
			if m := strOrNil(e.attrs, mcpconv.ExceptionMessage); m != nil {
				return m
			}
			return e.log.body()
		}
		return strOrNil(e.attrs, mcpconv.ExceptionMessage)
	}},
	{name: "stacktrace", typ: pgText, attr: mcpconv.ExceptionStacktrace, from: fromEvent | fromLog, value: func(e *errorItem) any {
		if e.origin == fromSpan {
			return nil
		}
		return strOrNil(e.attrs, mcpconv.ExceptionStacktrace)
	}},
	{name: "severity_number", typ: pgSmallint, value: func(e *errorItem) any {
		if e.origin != fromLog {
			return nil // spans have none
		}
		return e.p.severity(int32(e.log.lr.SeverityNumber()))
	}},
	{name: "severity_text", typ: pgText, value: func(e *errorItem) any {
		if e.origin != fromLog {
			return nil
		}
		return textOrNil(e.log.lr.SeverityText())
	}},
	{name: "service_name", typ: pgText, value: func(e *errorItem) any { return e.serviceName }},
	{name: "adjusted_count", typ: pgFloat8, attr: mcpconv.SamplingThreshold, also: []string{mcpconv.SamplingRandomness},
		from: fromLog, value: func(e *errorItem) any {
			if e.origin == fromLog {
				return mcpconv.LogAdjustedCount(e.log.lr)
			}
			return mcpconv.SpanAdjustedCount(e.span)
		}},
	{name: "attributes", typ: pgJSONB, attributes: true},
})

// Columns of log rows that several tables share. event.id and the
// sampler's attributes fill event_id and adjusted_count; event.name is the
// table's kind (logKind), dropped.
var (
	logKind = []string{mcpconv.EventNameAttr}
	// logMerged: the tables one row per key merges events into keep none
	// of an event's identity, kind or weight.
	logMerged = []string{mcpconv.EventID, mcpconv.EventNameAttr, mcpconv.SamplingThreshold, mcpconv.SamplingRandomness}

	logTS      = column[logItem]{name: "ts", typ: pgTimestamptz, value: func(r *logItem) any { return r.ts }}
	logEventID = column[logItem]{name: "event_id", typ: pgText, attr: mcpconv.EventID,
		value: func(r *logItem) any { return r.eventID() }}
	logTraceID = column[logItem]{name: "trace_id", typ: pgBytea,
		value: func(r *logItem) any { return traceIDBytes(r.lr.TraceID()) }}
	logSpanID = column[logItem]{name: "span_id", typ: pgBytea,
		value: func(r *logItem) any { return spanIDBytes(r.lr.SpanID()) }}
	logBody        = func(r *logItem) any { return r.body() }
	logServiceName = column[logItem]{name: "service_name", typ: pgText,
		value: func(r *logItem) any { return r.serviceName }}
	logAdjustedCount = column[logItem]{name: "adjusted_count", typ: pgFloat8, attr: mcpconv.SamplingThreshold,
		also: []string{mcpconv.SamplingRandomness}, value: func(r *logItem) any { return mcpconv.LogAdjustedCount(r.lr) }}
	logAttributes = column[logItem]{name: "attributes", typ: pgJSONB, attributes: true}
)

var healthCheckTable = describe(healthCheckRecord, layout{name: "health_check_record", time: "ts", drops: logKind},
	[]column[logItem]{
		logTS,
		logEventID,
		{name: "server_key", typ: pgText, attr: mcpconv.ServerKey, required: true},
		{name: "healthy", typ: pgBoolean, attr: mcpconv.HealthStatus,
			value: func(r *logItem) any { return r.str(mcpconv.HealthStatus) == mcpconv.HealthHealthy }},
		{name: "status", typ: pgText, attr: mcpconv.HealthStatus, required: true},
		{name: "check_type", typ: pgText, attr: mcpconv.HealthCheck},
		{name: "latency_us", typ: pgBigint, attr: mcpconv.HealthLatency, as: asMicros},
		{name: "error_type", typ: pgText, attr: mcpconv.ErrorType},
		{name: "message", typ: pgText, value: logBody},
		logServiceName,
		logAdjustedCount,
		logAttributes,
	})

var lbDecisionTable = describe(lbDecision, layout{name: "lb_decision", time: "ts", drops: logKind}, []column[logItem]{
	logTS,
	logEventID,
	logTraceID,
	logSpanID,
	{name: "request_id", typ: pgText, attr: mcpconv.JSONRPCRequestID},
	{name: "session_id", typ: pgText, attr: mcpconv.SessionID},
	{name: "method", typ: pgText, attr: mcpconv.MethodName},
	{name: "tool_name", typ: pgText, attr: mcpconv.ToolName},
	{name: "strategy", typ: pgText, attr: mcpconv.Strategy},
	{name: "server_key", typ: pgText, attr: mcpconv.ServerKey},
	{name: "candidates", typ: pgTextArray, attr: mcpconv.LBCandidates, as: asTextArray},
	{name: "reason", typ: pgText, attr: mcpconv.LBReason},
	logServiceName,
	logAdjustedCount,
	logAttributes,
})

var breakerTable = describe(circuitBreakerEvent, layout{name: "circuit_breaker_event", time: "ts", drops: logKind},
	[]column[logItem]{
		logTS,
		logEventID,
		{name: "server_key", typ: pgText, attr: mcpconv.ServerKey, required: true},
		{name: "from_state", typ: pgText, attr: mcpconv.BreakerFromState},
		{name: "to_state", typ: pgText, attr: mcpconv.BreakerToState, required: true},
		{name: "failure_count", typ: pgBigint, attr: mcpconv.BreakerFailureCount, as: asCount},
		{name: "reason", typ: pgText, value: logBody},
		logServiceName,
		logAdjustedCount,
		logAttributes,
	})

// registration is an mcp_server column only a registration fills.
func registration(name, typ, key string, as conversion) column[logItem] {
	return column[logItem]{name: name, typ: typ, attr: key, value: func(r *logItem) any {
		if r.eventName != mcpconv.EventServerRegistered {
			return nil
		}
		return r.attribute(key, as)
	}}
}

// eventTime is a column holding the event time of the events named, NULL
// for the others.
func eventTime(name string, events ...string) column[logItem] {
	return column[logItem]{name: name, typ: pgTimestamptz, value: func(r *logItem) any {
		if slices.Contains(events, r.eventName) {
			return r.ts
		}
		return nil
	}}
}

// serverTable: the registry, one row per server that each event updates
// with what it knows; the upsert merges them by event time.
var serverTable = describe(mcpServer, layout{name: "mcp_server", time: "updated_at", drops: logMerged,
	upsert: `ON CONFLICT (server_key) DO UPDATE SET
		name = CASE WHEN t.registered_at IS NULL OR EXCLUDED.registered_at >= t.registered_at THEN COALESCE(EXCLUDED.name, t.name) ELSE t.name END,
		url = CASE WHEN t.registered_at IS NULL OR EXCLUDED.registered_at >= t.registered_at THEN COALESCE(EXCLUDED.url, t.url) ELSE t.url END,
		version = CASE WHEN t.registered_at IS NULL OR EXCLUDED.registered_at >= t.registered_at THEN COALESCE(EXCLUDED.version, t.version) ELSE t.version END,
		transport = CASE WHEN t.registered_at IS NULL OR EXCLUDED.registered_at >= t.registered_at THEN COALESCE(EXCLUDED.transport, t.transport) ELSE t.transport END,
		tools = CASE WHEN t.registered_at IS NULL OR EXCLUDED.registered_at >= t.registered_at THEN COALESCE(EXCLUDED.tools, t.tools) ELSE t.tools END,
		registered_at = GREATEST(t.registered_at, EXCLUDED.registered_at),
		deregistered_at = GREATEST(t.deregistered_at, EXCLUDED.deregistered_at),
		health_status = CASE WHEN EXCLUDED.health_changed_at IS NOT NULL AND (t.health_changed_at IS NULL OR EXCLUDED.health_changed_at >= t.health_changed_at) THEN EXCLUDED.health_status ELSE t.health_status END,
		health_changed_at = GREATEST(t.health_changed_at, EXCLUDED.health_changed_at),
		updated_at = GREATEST(t.updated_at, EXCLUDED.updated_at),
		service_name = CASE WHEN EXCLUDED.updated_at >= t.updated_at THEN COALESCE(EXCLUDED.service_name, t.service_name) ELSE COALESCE(t.service_name, EXCLUDED.service_name) END,
		attributes = CASE WHEN EXCLUDED.updated_at >= t.updated_at THEN COALESCE(EXCLUDED.attributes, t.attributes) ELSE t.attributes END`,
}, []column[logItem]{
	{name: "server_key", typ: pgText, attr: mcpconv.ServerKey, required: true},
	registration("name", pgText, mcpconv.ServerName, asText),
	registration("url", pgText, mcpconv.ServerURL, asText),
	registration("version", pgText, mcpconv.ServerVersion, asText),
	registration("transport", pgText, mcpconv.ServerTransport, asText),
	registration("tools", pgTextArray, mcpconv.ServerTools, asTextArray),
	eventTime("registered_at", mcpconv.EventServerRegistered),
	eventTime("deregistered_at", mcpconv.EventServerDeregistered),
	{name: "health_status", typ: pgText, attr: mcpconv.HealthStatus},
	{name: "health_changed_at", typ: pgTimestamptz, value: func(r *logItem) any {
		if r.str(mcpconv.HealthStatus) == nil {
			return nil
		}
		return r.ts
	}},
	{name: "updated_at", typ: pgTimestamptz, value: func(r *logItem) any { return r.ts }},
	logServiceName,
	logAttributes,
})

// sessionTable: one row per session that each session event updates.
var sessionTable = describe(sessionRecord, layout{name: "session_record", time: "last_seen_at", drops: logMerged,
	upsert: `ON CONFLICT (session_id) DO UPDATE SET
		transport = COALESCE(t.transport, EXCLUDED.transport),
		protocol_version = COALESCE(t.protocol_version, EXCLUDED.protocol_version),
		client_address = COALESCE(t.client_address, EXCLUDED.client_address),
		server_key = COALESCE(t.server_key, EXCLUDED.server_key),
		started_at = LEAST(t.started_at, EXCLUDED.started_at),
		ended_at = GREATEST(t.ended_at, EXCLUDED.ended_at),
		last_seen_at = GREATEST(t.last_seen_at, EXCLUDED.last_seen_at),
		request_count = GREATEST(t.request_count, EXCLUDED.request_count),
		error_count = GREATEST(t.error_count, EXCLUDED.error_count),
		close_reason = CASE WHEN EXCLUDED.last_seen_at >= t.last_seen_at THEN COALESCE(EXCLUDED.close_reason, t.close_reason) ELSE COALESCE(t.close_reason, EXCLUDED.close_reason) END,
		service_name = COALESCE(t.service_name, EXCLUDED.service_name),
		attributes = CASE WHEN EXCLUDED.last_seen_at >= t.last_seen_at THEN COALESCE(EXCLUDED.attributes, t.attributes) ELSE t.attributes END`,
}, []column[logItem]{
	{name: "session_id", typ: pgText, attr: mcpconv.SessionID, required: true},
	{name: "transport", typ: pgText, attr: mcpconv.SessionTransport},
	{name: "protocol_version", typ: pgText, attr: mcpconv.ProtocolVersion},
	{name: "client_address", typ: pgText, attr: mcpconv.ClientAddress},
	{name: "server_key", typ: pgText, attr: mcpconv.ServerKey},
	eventTime("started_at", mcpconv.EventSessionStart),
	eventTime("ended_at", mcpconv.EventSessionEnd),
	{name: "last_seen_at", typ: pgTimestamptz, value: func(r *logItem) any { return r.ts }},
	{name: "request_count", typ: pgBigint, attr: mcpconv.SessionRequestCount, as: asCount},
	{name: "error_count", typ: pgBigint, attr: mcpconv.SessionErrorCount, as: asCount},
	{name: "close_reason", typ: pgText, attr: mcpconv.SessionCloseReason},
	logServiceName,
	logAttributes,
})

// metricPointTable: one row per data point. The columns from value to
// quantile_values are those of the point's type (pointValues); counts are
// uint64 until addPoint has checked that they fit bigint.
var metricPointTable = describe(metricPoint, layout{name: "metric_point", time: "ts"}, []column[pointItem]{
	{name: "ts", typ: pgTimestamptz, value: func(p *pointItem) any { return timestampOf(p.ts) }},
	{name: "metric_name", typ: pgText, value: func(p *pointItem) any { return p.series.name }},
	{name: "series_id", typ: pgBigint, value: func(p *pointItem) any { return seriesID(&p.series, p.attrs) }},
	{name: "metric_type", typ: pgText, value: func(p *pointItem) any { return p.series.kind }},
	{name: "temporality", typ: pgText, value: func(p *pointItem) any { return p.series.temporality }},
	{name: "is_monotonic", typ: pgBoolean, value: func(p *pointItem) any { return p.series.monotonic }},
	{name: "unit", typ: pgText, value: func(p *pointItem) any { return textOrNil(p.series.unit) }},
	{name: "start_ts", typ: pgTimestamptz, value: func(p *pointItem) any {
		if p.start == 0 {
			return nil
		}
		return timestampOf(p.start)
	}},
	{name: "value", typ: pgFloat8, value: func(p *pointItem) any { return p.v.value }},
	{name: "count", typ: pgBigint, value: func(p *pointItem) any { return p.v.count }},
	{name: "sum", typ: pgFloat8, value: func(p *pointItem) any { return p.v.sum }},
	{name: "min", typ: pgFloat8, value: func(p *pointItem) any { return p.v.min }},
	{name: "max", typ: pgFloat8, value: func(p *pointItem) any { return p.v.max }},
	{name: "bucket_bounds", typ: pgFloat8Array, value: func(p *pointItem) any { return p.v.bounds }},
	{name: "bucket_counts", typ: pgBigintArray, value: func(p *pointItem) any { return p.v.counts }},
	{name: "exp_scale", typ: pgInteger, value: func(p *pointItem) any { return p.v.expScale }},
	{name: "exp_zero_count", typ: pgBigint, value: func(p *pointItem) any { return p.v.expZero }},
	{name: "exp_positive_offset", typ: pgInteger, value: func(p *pointItem) any { return p.v.expPosOffset }},
	{name: "exp_positive_counts", typ: pgBigintArray, value: func(p *pointItem) any { return p.v.expPosCounts }},
	{name: "exp_negative_offset", typ: pgInteger, value: func(p *pointItem) any { return p.v.expNegOffset }},
	{name: "exp_negative_counts", typ: pgBigintArray, value: func(p *pointItem) any { return p.v.expNegCounts }},
	{name: "quantiles", typ: pgFloat8Array, value: func(p *pointItem) any { return p.v.quantiles }},
	{name: "quantile_values", typ: pgFloat8Array, value: func(p *pointItem) any { return p.v.quantileValues }},
	{name: "server_key", typ: pgText, attr: mcpconv.ServerKey},
	{name: "tool_name", typ: pgText, attr: mcpconv.ToolName},
	{name: "method", typ: pgText, attr: mcpconv.MethodName},
	{name: "service_name", typ: pgText, value: func(p *pointItem) any { return p.series.res.serviceName }},
	{name: "service_instance", typ: pgText, value: func(p *pointItem) any { return p.series.res.serviceInstance }},
	{name: "attributes", typ: pgJSONB, attributes: true},
})

// rowBatch holds the rows of one exported request, per table, and the items
// refused before they became rows.
type rowBatch struct {
	rows     [numTables][][]any
	rejected []rejection
	// unmapped counts the items that yield no row (unmapped.go).
	unmapped unmappedItems
	// notPromoted counts the numbers kept out of their column (numbers.go).
	notPromoted map[notPromoted]int64
}

// rejection is an item refused as bad data, bound for rejected_event.
type rejection struct {
	table    string
	cause    string // the class of reason, for the telemetry (cause* constants)
	sqlstate string
	reason   string
	payload  string
}

// fingerprint identifies a refusal, so a replay records it once.
func (r rejection) fingerprint() string {
	h := xxhash.New()
	_, _ = h.WriteString(r.table)
	_, _ = h.Write([]byte{0})
	_, _ = h.WriteString(r.payload)
	return strconv.FormatUint(h.Sum64(), 16)
}

func (b *rowBatch) add(t tableID, row []any) { b.rows[t] = append(b.rows[t], row) }

func (b *rowBatch) reject(t tableID, cause, reason, payload string) {
	b.rejected = append(b.rejected, rejection{table: tables[t].name, cause: cause, reason: reason, payload: payload})
}

func (b *rowBatch) len() int {
	n := 0
	for _, r := range b.rows {
		n += len(r)
	}
	return n
}

// keySet builds the set of attribute keys promoted to columns of a table;
// they are left out of its attributes jsonb.
func keySet(keys ...string) map[string]struct{} {
	s := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		s[k] = struct{}{}
	}
	return s
}

// resourceColumns are the resource attributes kept on every row.
type resourceColumns struct {
	serviceName     any
	serviceInstance any
}

func resourceColumnsOf(res pcommon.Resource) resourceColumns {
	attrs := res.Attributes()
	return resourceColumns{
		serviceName:     strOrNil(attrs, mcpconv.ServiceName),
		serviceInstance: strOrNil(attrs, mcpconv.ServiceInstanceID),
	}
}

// strOrNil returns the attribute as text, or nil (SQL NULL) when it is absent
// or empty. Non-string values are rendered (a JSON-RPC id may be an integer).
func strOrNil(m pcommon.Map, key string) any {
	v, ok := m.Get(key)
	if !ok {
		return nil
	}
	var s string
	if v.Type() == pcommon.ValueTypeStr {
		s = v.Str()
	} else {
		s = v.AsString()
	}
	if s == "" {
		return nil
	}
	return s
}

func textOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func timestampOf(t pcommon.Timestamp) time.Time { return t.AsTime().UTC() }

// traceIDBytes and spanIDBytes copy an id into a fresh slice, nil for the empty id.
func traceIDBytes(id pcommon.TraceID) any {
	if id.IsEmpty() {
		return nil
	}
	b := make([]byte, len(id))
	copy(b, id[:])
	return b
}

func spanIDBytes(id pcommon.SpanID) any {
	if id.IsEmpty() {
		return nil
	}
	b := make([]byte, len(id))
	copy(b, id[:])
	return b
}

// spanEventID is the natural key of an error row derived from a span: the
// trace and span ids, and the index of the exception event when there is one.
func spanEventID(traceID pcommon.TraceID, spanID pcommon.SpanID, event int) string {
	buf := make([]byte, 0, 32+1+16+4)
	buf = hex.AppendEncode(buf, traceID[:])
	buf = append(buf, '-')
	buf = hex.AppendEncode(buf, spanID[:])
	if event >= 0 {
		buf = append(buf, '-')
		buf = strconv.AppendInt(buf, int64(event), 10)
	}
	return string(buf)
}

// rowPayload renders a row for rejected_event as a JSON object of its
// columns; ids (bytea) as hex, times in RFC 3339, jsonb values
// (json.RawMessage) as their text.
func rowPayload(columns []string, row []any) string {
	buf := []byte{'{'}
	for i, col := range columns {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, col)
		buf = append(buf, ':')
		switch v := row[i].(type) {
		case nil:
			buf = append(buf, "null"...)
		case string:
			buf = appendJSONString(buf, v)
		case json.RawMessage:
			buf = appendJSONString(buf, string(v))
		case []byte:
			buf = appendJSONString(buf, hex.EncodeToString(v))
		case time.Time:
			buf = appendJSONString(buf, v.Format(time.RFC3339Nano))
		case int64:
			buf = strconv.AppendInt(buf, v, 10)
		case int32:
			buf = strconv.AppendInt(buf, int64(v), 10)
		case int16:
			buf = strconv.AppendInt(buf, int64(v), 10)
		case float64:
			buf = appendJSONString(buf, strconv.FormatFloat(v, 'g', -1, 64))
		case uint64:
			buf = strconv.AppendUint(buf, v, 10)
		case []uint64:
			buf = appendJSONArray(buf, v, func(b []byte, n uint64) []byte { return strconv.AppendUint(b, n, 10) })
		case []int64:
			buf = appendJSONArray(buf, v, func(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) })
		case []float64:
			buf = appendJSONArray(buf, v, func(b []byte, f float64) []byte {
				return appendJSONString(b, strconv.FormatFloat(f, 'g', -1, 64))
			})
		case []string:
			buf = appendJSONArray(buf, v, appendJSONString)
		case bool:
			buf = strconv.AppendBool(buf, v)
		default:
			buf = appendJSONString(buf, fmt.Sprint(v))
		}
	}
	return string(append(buf, '}'))
}

func appendJSONArray[T any](buf []byte, xs []T, appendOne func([]byte, T) []byte) []byte {
	buf = append(buf, '[')
	for i, x := range xs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendOne(buf, x)
	}
	return append(buf, ']')
}
