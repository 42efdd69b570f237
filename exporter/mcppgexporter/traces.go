package mcppgexporter

import (
	"encoding/hex"
	"encoding/json"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// spanItem is a span, the item of routing_log, tool_call_record and
// tool_call_payload rows.
type spanItem struct {
	item
	span ptrace.Span
	res  resourceColumns
	// args and result are the redacted tool payloads (tool_call_payload).
	args, result any
}

// errorItem is a failure, the item of an error_log row: a span's exception
// event, a failed span without one, or an error log record (origin says
// which). attrs are the item's own: the event's, the span's or the
// record's; ctx those of the span or record the failure is about.
type errorItem struct {
	item
	ctx         pcommon.Map
	span        ptrace.Span
	event       ptrace.SpanEvent
	eventIndex  int // of event among the span's events
	log         *logItem
	serviceName any
}

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
	// One item of each kind for every row of the batch.
	items := &struct {
		span spanItem
		err  errorItem
	}{span: spanItem{item: item{origin: fromSpan, p: promoter{b: b}}}, err: errorItem{item: item{p: promoter{b: b}}}}
	s, e := &items.span, &items.err
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		s.res = resourceColumnsOf(rs.Resource())
		e.serviceName = s.res.serviceName
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
				s.span, s.attrs = span, span.Attributes()
				switch kind {
				case mcpconv.KindRouting:
					routingLogTable.add(b, s, &s.item)
				case mcpconv.KindToolCall:
					toolCallTable.add(b, s, &s.item)
				}
				if payloads.enabled && kind != mcpconv.KindOther {
					appendToolPayload(b, s, payloads)
				}
				if errorRows := appendSpanErrors(b, e, span); kind == mcpconv.KindOther && !errorRows {
					b.unmapped.add(spanUnmappedReason(span), scope, span.Name())
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

// appendToolPayload stores the redacted arguments and result of a tool call,
// seen from either side (a server instrumented alone has no CLIENT span).
func appendToolPayload(b *rowBatch, s *spanItem, payloads *payloadOptions) {
	s.args = payloads.payloadJSON(s.attrs, mcpconv.ToolArguments)
	s.result = payloads.payloadJSON(s.attrs, mcpconv.ToolResult)
	if s.args == nil && s.result == nil {
		return
	}
	toolPayloadTable.add(b, s, &s.item)
}

// appendSpanErrors adds one error_log row per exception event of the span,
// or one for the span itself when it failed without recording an exception;
// it reports whether the span gave any.
func appendSpanErrors(b *rowBatch, e *errorItem, span ptrace.Span) bool {
	e.span, e.ctx = span, span.Attributes()
	events := span.Events()
	exceptions := 0
	for i := 0; i < events.Len(); i++ {
		ev := events.At(i)
		if ev.Name() != mcpconv.ExceptionEventName {
			continue
		}
		exceptions++
		e.origin, e.event, e.eventIndex, e.attrs = fromEvent, ev, i, ev.Attributes()
		errorLogTable.add(b, e, &e.item)
	}
	if exceptions > 0 {
		return true
	}
	if !mcpconv.IsFailedSpan(span) {
		return false
	}
	e.origin, e.attrs = fromSpan, e.ctx
	errorLogTable.add(b, e, &e.item)
	return true
}
