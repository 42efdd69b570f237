package mcppgexporter

import (
	"encoding/hex"
	"encoding/json"
	"strconv"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// Tool payloads are left out of every attributes column by attributesJSON.
var routingPromoted = keySet(mcpconv.MethodName, mcpconv.ToolName, mcpconv.ResourceURI, mcpconv.SessionID,
	mcpconv.JSONRPCRequestID, mcpconv.ServerKey, mcpconv.Strategy, mcpconv.Attempt,
	mcpconv.ErrorType, mcpconv.RPCResponseStatusCode, mcpconv.ProtocolVersion,
	mcpconv.NetworkTransport, mcpconv.ClientAddress,
)

var toolCallPromoted = keySet(mcpconv.MethodName, mcpconv.ToolName, mcpconv.ToolCallID, mcpconv.SessionID,
	mcpconv.JSONRPCRequestID, mcpconv.ServerKey, mcpconv.ServerAddress, mcpconv.Attempt,
	mcpconv.ErrorType, mcpconv.RPCResponseStatusCode, mcpconv.OperationName,
)

var spanErrorPromoted = keySet(mcpconv.JSONRPCRequestID, mcpconv.SessionID, mcpconv.ServerKey, mcpconv.MethodName,
	mcpconv.ToolName, mcpconv.ErrorType,
)

// exception.type stays in the attributes: error_type prefers error.type.
var exceptionPromoted = keySet(mcpconv.ExceptionMessage, mcpconv.ExceptionStacktrace)

// Values of the status column.
const (
	statusUnset = "unset"
	statusOK    = "ok"
	statusError = "error"
)

func statusText(code ptrace.StatusCode) string {
	switch code {
	case ptrace.StatusCodeOk:
		return statusOK
	case ptrace.StatusCodeError:
		return statusError
	}
	return statusUnset
}

// Values of error_log.source.
const (
	sourceException  = "exception"   // a span event named exception
	sourceSpanStatus = "span_status" // an error-status span without exception event
	sourceLog        = "log"         // an error log record
)

// appendTraces maps every span onto its rows: routing spans and tool calls
// onto their tables, and failures of any span onto error_log.
func appendTraces(b *rowBatch, td ptrace.Traces, payloads *payloadOptions) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := resourceColumnsOf(rs.Resource())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			scope := sss.At(j).Scope()
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				kind := mcpconv.ClassifySpan(span)
				if problem := spanProblem(span); problem != "" {
					b.reject(spanTable(kind), causeMalformed, problem, spanPayload(span))
					continue
				}
				switch kind {
				case mcpconv.KindRouting:
					b.add(routingLog, routingRow(span, res, b.promoter(routingLog)))
				case mcpconv.KindToolCall:
					b.add(toolCallRecord, toolCallRow(span, res, b.promoter(toolCallRecord)))
				}
				if payloads.enabled && kind != mcpconv.KindOther {
					appendToolPayload(b, span, payloads)
				}
				appendSpanErrors(b, span, res)
				if reason, ok := spanUnmapped(span, kind); ok {
					b.unmapped.add(reason, scope, span.Name())
				}
			}
		}
	}
}

// spanProblem says why a span cannot become a row, "" when it can.
func spanProblem(span ptrace.Span) string {
	switch {
	case span.StartTimestamp() == 0:
		return "span start time is unset"
	case span.EndTimestamp() < span.StartTimestamp():
		return "span ends before it starts"
	}
	return ""
}

// spanTable is the table a span's rows would have gone to.
func spanTable(kind mcpconv.Kind) tableID {
	switch kind {
	case mcpconv.KindRouting:
		return routingLog
	case mcpconv.KindToolCall:
		return toolCallRecord
	}
	return errorLog
}

// spanPayload renders a refused span for rejected_event.
func spanPayload(span ptrace.Span) string {
	tid, sid := span.TraceID(), span.SpanID()
	buf := []byte(`{"name":`)
	buf = appendJSONString(buf, span.Name())
	buf = append(buf, `,"kind":`...)
	buf = appendJSONString(buf, span.Kind().String())
	buf = append(buf, `,"trace_id":`...)
	buf = appendJSONString(buf, hex.EncodeToString(tid[:]))
	buf = append(buf, `,"span_id":`...)
	buf = appendJSONString(buf, hex.EncodeToString(sid[:]))
	buf = append(buf, `,"start_time_unix_nano":`...)
	buf = strconv.AppendUint(buf, uint64(span.StartTimestamp()), 10)
	buf = append(buf, `,"end_time_unix_nano":`...)
	buf = strconv.AppendUint(buf, uint64(span.EndTimestamp()), 10)
	buf = append(buf, `,"attributes":`...)
	if js, ok := attributesJSON(span.Attributes(), nil).(json.RawMessage); ok {
		buf = append(buf, js...)
	} else {
		buf = append(buf, "{}"...)
	}
	return string(append(buf, '}'))
}

func durationMicros(span ptrace.Span) int64 {
	return (int64(span.EndTimestamp()) - int64(span.StartTimestamp())) / 1000
}

func routingRow(span ptrace.Span, res resourceColumns, p *promoter) []any {
	attrs := span.Attributes()
	attempt := p.integer(attrs, mcpconv.Attempt, attemptRange)
	return []any{
		timestampOf(span.StartTimestamp()),
		traceIDBytes(span.TraceID()),
		spanIDBytes(span.SpanID()),
		spanIDBytes(span.ParentSpanID()),
		durationMicros(span),
		span.Name(),
		strOrNil(attrs, mcpconv.MethodName),
		strOrNil(attrs, mcpconv.ToolName),
		strOrNil(attrs, mcpconv.ResourceURI),
		strOrNil(attrs, mcpconv.SessionID),
		strOrNil(attrs, mcpconv.JSONRPCRequestID),
		strOrNil(attrs, mcpconv.ServerKey),
		strOrNil(attrs, mcpconv.Strategy),
		attempt,
		statusText(span.Status().Code()),
		textOrNil(span.Status().Message()),
		strOrNil(attrs, mcpconv.ErrorType),
		strOrNil(attrs, mcpconv.RPCResponseStatusCode),
		strOrNil(attrs, mcpconv.ProtocolVersion),
		strOrNil(attrs, mcpconv.NetworkTransport),
		strOrNil(attrs, mcpconv.ClientAddress),
		res.serviceName,
		res.serviceInstance,
		mcpconv.SpanAdjustedCount(span),
		attributesJSON(attrs, routingPromoted, p.kept...),
	}
}

func toolCallRow(span ptrace.Span, res resourceColumns, p *promoter) []any {
	attrs := span.Attributes()
	attempt := p.integer(attrs, mcpconv.Attempt, attemptRange)
	return []any{
		timestampOf(span.StartTimestamp()),
		traceIDBytes(span.TraceID()),
		spanIDBytes(span.SpanID()),
		spanIDBytes(span.ParentSpanID()),
		durationMicros(span),
		strOrNil(attrs, mcpconv.ToolName),
		strOrNil(attrs, mcpconv.MethodName),
		strOrNil(attrs, mcpconv.ToolCallID),
		strOrNil(attrs, mcpconv.SessionID),
		strOrNil(attrs, mcpconv.JSONRPCRequestID),
		strOrNil(attrs, mcpconv.ServerKey),
		strOrNil(attrs, mcpconv.ServerAddress),
		attempt,
		statusText(span.Status().Code()),
		textOrNil(span.Status().Message()),
		strOrNil(attrs, mcpconv.ErrorType),
		strOrNil(attrs, mcpconv.RPCResponseStatusCode),
		res.serviceName,
		mcpconv.SpanAdjustedCount(span),
		attributesJSON(attrs, toolCallPromoted, p.kept...),
	}
}

// appendToolPayload stores the redacted arguments and result of a tool call,
// seen from either side (a server instrumented alone has no CLIENT span).
func appendToolPayload(b *rowBatch, span ptrace.Span, payloads *payloadOptions) {
	args := payloads.payloadJSON(span.Attributes(), mcpconv.ToolArguments)
	result := payloads.payloadJSON(span.Attributes(), mcpconv.ToolResult)
	if args == nil && result == nil {
		return
	}
	b.add(toolCallPayload, []any{
		timestampOf(span.StartTimestamp()), traceIDBytes(span.TraceID()), spanIDBytes(span.SpanID()), args, result,
	})
}

// appendSpanErrors adds one error_log row per exception event of the span,
// or one for the span itself when it failed without recording an exception.
func appendSpanErrors(b *rowBatch, span ptrace.Span, res resourceColumns) {
	events := span.Events()
	exceptions := 0
	spanErrType := strOrNil(span.Attributes(), mcpconv.ErrorType)
	for i := 0; i < events.Len(); i++ {
		ev := events.At(i)
		if ev.Name() != mcpconv.ExceptionEventName {
			continue
		}
		exceptions++
		evAttrs := ev.Attributes()
		// error.type is the low-cardinality class the conventions define;
		// exception.type (a language type name) only stands in for it.
		errType := spanErrType
		if errType == nil {
			errType = strOrNil(evAttrs, mcpconv.ExceptionType)
		}
		// An unset event time is the span's end, not 1970 (which the
		// event-time window would refuse).
		at := ev.Timestamp()
		if at == 0 {
			at = span.EndTimestamp()
		}
		b.add(errorLog, spanErrorRow(span, res, timestampOf(at),
			spanEventID(span.TraceID(), span.SpanID(), i), sourceException, errType,
			strOrNil(evAttrs, mcpconv.ExceptionMessage), strOrNil(evAttrs, mcpconv.ExceptionStacktrace),
			attributesJSON(evAttrs, exceptionPromoted)))
	}
	if exceptions > 0 || !mcpconv.IsFailedSpan(span) {
		return
	}
	b.add(errorLog, spanErrorRow(span, res, timestampOf(span.EndTimestamp()),
		spanEventID(span.TraceID(), span.SpanID(), -1), sourceSpanStatus,
		spanErrType, textOrNil(span.Status().Message()), nil,
		attributesJSON(span.Attributes(), spanErrorPromoted)))
}

func spanErrorRow(span ptrace.Span, res resourceColumns, ts any, eventID, source string, errType, message, stack, attrs any) []any {
	spanAttrs := span.Attributes()
	return []any{
		ts,
		eventID,
		source,
		nil, // event_name: spans have none
		traceIDBytes(span.TraceID()),
		spanIDBytes(span.SpanID()),
		strOrNil(spanAttrs, mcpconv.JSONRPCRequestID),
		strOrNil(spanAttrs, mcpconv.SessionID),
		strOrNil(spanAttrs, mcpconv.ServerKey),
		strOrNil(spanAttrs, mcpconv.MethodName),
		strOrNil(spanAttrs, mcpconv.ToolName),
		errType,
		message,
		stack,
		nil, // severity_number: spans have none
		nil, // severity_text
		res.serviceName,
		mcpconv.SpanAdjustedCount(span),
		attrs,
	}
}
