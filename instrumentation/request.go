package instrumentation

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// Attributes that never change, built once.
var (
	operationExecuteTool = attribute.String(mcpconv.OperationName, mcpconv.OperationExecuteTool)
	methodToolsCall      = attribute.String(mcpconv.MethodName, mcpconv.MethodToolsCall)
)

// RequestInfo describes a request the router received.
type RequestInfo struct {
	// Method is mcp.method.name; required (a request without it is no
	// routed request).
	Method string
	// Target completes the span name "{method} {target}": the tool name for
	// tools/call, the prompt name for prompts/get. Empty: Tool is used;
	// leave both empty for methods without a low-cardinality target.
	Target string
	// Tool is gen_ai.tool.name (tools/call).
	Tool string
	// ResourceURI is mcp.resource.uri (resources/*).
	ResourceURI string
	// SessionID (mcp.session.id) and RequestID (jsonrpc.request.id) identify
	// the request; the tool calls carry them too.
	SessionID, RequestID string
	// ProtocolVersion is mcp.protocol.version, e.g. 2025-06-18.
	ProtocolVersion string
	// Transport is network.transport: tcp, pipe, ...
	Transport string
	// ClientAddress is client.address.
	ClientAddress string
	// Start is when the request arrived; zero means now.
	Start time.Time
	// Attributes are extra span attributes (they land in the attributes
	// column).
	Attributes []attribute.KeyValue
}

// Request is a routed request in flight: the router's SERVER span. Its
// methods are not safe for concurrent use.
type Request struct {
	router *Router
	ctx    context.Context
	span   trace.Span
	start  time.Time

	method, tool         string
	sessionID, requestID string
	serverKey, strategy  string
	attempt              int

	// firstCall backs the first ToolCall, saving an allocation per request.
	firstCall ToolCall
	callUsed  bool
}

// StartRequest starts the SERVER span of a request. Use the returned
// context for the request's work: upstream calls started from it become
// children of the request.
func (r *Router) StartRequest(ctx context.Context, info RequestInfo) (context.Context, *Request) {
	q := &Request{
		router:    r,
		start:     info.Start,
		method:    info.Method,
		tool:      info.Tool,
		sessionID: info.SessionID,
		requestID: info.RequestID,
	}
	var buf [10]attribute.KeyValue
	attrs := append(buf[:0], attribute.String(mcpconv.MethodName, info.Method))
	attrs = appendNonEmpty(attrs, mcpconv.ToolName, info.Tool)
	if info.Method == mcpconv.MethodToolsCall {
		attrs = append(attrs, operationExecuteTool)
	}
	attrs = appendNonEmpty(attrs, mcpconv.ResourceURI, info.ResourceURI)
	attrs = appendNonEmpty(attrs, mcpconv.SessionID, info.SessionID)
	attrs = appendNonEmpty(attrs, mcpconv.JSONRPCRequestID, info.RequestID)
	attrs = appendNonEmpty(attrs, mcpconv.ProtocolVersion, info.ProtocolVersion)
	attrs = appendNonEmpty(attrs, mcpconv.NetworkTransport, info.Transport)
	attrs = appendNonEmpty(attrs, mcpconv.ClientAddress, info.ClientAddress)
	attrs = append(attrs, info.Attributes...)

	name := info.Method
	target := info.Target
	if target == "" {
		target = info.Tool
	}
	if target != "" {
		name = info.Method + " " + target
	}
	if q.start.IsZero() {
		q.start = time.Now()
		ctx, q.span = r.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attrs...))
	} else {
		ctx, q.span = r.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attrs...), trace.WithTimestamp(q.start))
	}
	q.ctx = ctx
	return ctx, q
}

// SpanContext identifies the request's SERVER span (routing_log: trace_id,
// span_id).
func (q *Request) SpanContext() trace.SpanContext { return q.span.SpanContext() }

// Span is the request's SERVER span, for attributes or events of your own.
func (q *Request) Span() trace.Span { return q.span }

// Choice is a load-balancer decision: the upstream server a request (or one
// attempt of it) goes to.
type Choice struct {
	// ServerKey is mcp.router.server.key of the chosen upstream; required.
	ServerKey string
	// Strategy is mcp.router.strategy: round_robin, least_conn, ...
	Strategy string
	// Attempt is the 1-based attempt; 0 means the previous attempt + 1.
	Attempt int
	// Candidates are the servers considered (mcp.router.lb.candidates).
	Candidates []string
	// Reason says why the chosen server won (mcp.router.lb.reason).
	Reason string
	// Time of the decision; zero means now.
	Time time.Time
	// EventID of the lb decision event; empty: a new one.
	EventID string
}

// ChooseServer records the upstream chosen for the request (or for its
// next attempt) on the SERVER span and, unless WithLBDecisions(false),
// emits an mcp.router.lb.decision event linked to the request (or, with
// WithLBDecisionSampling, the sampled share of them). It returns the
// event's id, "" when no event was emitted.
func (q *Request) ChooseServer(c Choice) string {
	if c.Attempt <= 0 {
		c.Attempt = q.attempt + 1
	}
	q.serverKey, q.strategy, q.attempt = c.ServerKey, c.Strategy, c.Attempt
	var buf [3]attribute.KeyValue
	attrs := append(buf[:0], attribute.String(mcpconv.ServerKey, c.ServerKey), attribute.Int(mcpconv.Attempt, c.Attempt))
	attrs = appendNonEmpty(attrs, mcpconv.Strategy, c.Strategy)
	q.span.SetAttributes(attrs...)
	r := q.router
	if !r.lbDecisions || (r.lbThreshold != 0 && traceRandomness(q.span.SpanContext().TraceID()) < r.lbThreshold) {
		return ""
	}
	id := r.eventID(c.EventID)
	rec := r.event(mcpconv.EventLBDecision, c.Time, log.SeverityInfo)
	// One AddAttributes call: each call past the record's few inline
	// attributes grows its overflow slice again.
	var lbuf [11]attribute.KeyValue
	la := append(lbuf[:0],
		attribute.String(mcpconv.EventID, id),
		attribute.String(mcpconv.MethodName, q.method),
		attribute.String(mcpconv.ServerKey, c.ServerKey),
		attribute.Int(mcpconv.Attempt, c.Attempt),
	)
	la = appendNonEmpty(la, mcpconv.Strategy, c.Strategy)
	la = appendNonEmpty(la, mcpconv.JSONRPCRequestID, q.requestID)
	la = appendNonEmpty(la, mcpconv.SessionID, q.sessionID)
	la = appendNonEmpty(la, mcpconv.ToolName, q.tool)
	if len(c.Candidates) > 0 {
		la = append(la, attribute.StringSlice(mcpconv.LBCandidates, c.Candidates))
	}
	la = appendNonEmpty(la, mcpconv.LBReason, c.Reason)
	la = appendNonEmpty(la, mcpconv.SamplingThreshold, r.lbTValue)
	rec.AddAttributes(la...)
	r.logger.Emit(q.ctx, rec)
	return id
}

// End ends the request now; see EndAt.
func (q *Request) End(err error) { q.EndAt(time.Time{}, err) }

// EndAt ends the request at end (zero: now). A non-nil err marks it failed:
// status Error with err's message, error.type (ErrorType) and, for a
// JSON-RPC error, rpc.response.status_code. It records
// mcp.server.operation.duration.
func (q *Request) EndAt(end time.Time, err error) {
	errType := ""
	if err != nil {
		errType = setFailure(q.span, err)
	}
	q.router.serverDuration.Record(q.ctx, sinceStart(q.start, end),
		q.router.serverSets.get(metricKey{q.method, q.serverKey, q.tool, errType}))
	endSpan(q.span, end)
}

// ToolCallInfo describes one call of the router to an upstream server's
// tools/call. Empty fields default to the request's values.
type ToolCallInfo struct {
	// Tool is gen_ai.tool.name; default the request's tool.
	Tool string
	// CallID is gen_ai.tool.call.id.
	CallID string
	// ServerKey, default the server of the last ChooseServer.
	ServerKey string
	// ServerAddress and ServerPort are server.address and server.port.
	ServerAddress string
	ServerPort    int
	// Attempt, default the attempt of the last ChooseServer.
	Attempt int
	// Arguments is the JSON text of the arguments (opt-in storage:
	// mcp.router.tool.arguments); empty leaves it out.
	Arguments string
	// Start of the call; zero means now.
	Start time.Time
}

// ToolCall is an upstream tools/call in flight: a CLIENT span.
type ToolCall struct {
	router    *Router
	ctx       context.Context
	span      trace.Span
	start     time.Time
	tool      string
	serverKey string
}

// StartToolCall starts the CLIENT span of a call to the upstream. ctx must
// be the request's context (from StartRequest) or derived from it, so that
// the call is the request's child.
func (q *Request) StartToolCall(ctx context.Context, info ToolCallInfo) (context.Context, *ToolCall) {
	if info.Tool == "" {
		info.Tool = q.tool
	}
	if info.ServerKey == "" {
		info.ServerKey = q.serverKey
	}
	if info.Attempt <= 0 {
		info.Attempt = max(q.attempt, 1)
	}
	c := &q.firstCall
	if q.callUsed {
		c = &ToolCall{}
	}
	q.callUsed = true
	*c = ToolCall{router: q.router, start: info.Start, tool: info.Tool, serverKey: info.ServerKey}
	var buf [12]attribute.KeyValue
	attrs := append(buf[:0], methodToolsCall, operationExecuteTool,
		attribute.String(mcpconv.ToolName, info.Tool),
		attribute.Int(mcpconv.Attempt, info.Attempt))
	attrs = appendNonEmpty(attrs, mcpconv.ToolCallID, info.CallID)
	attrs = appendNonEmpty(attrs, mcpconv.SessionID, q.sessionID)
	attrs = appendNonEmpty(attrs, mcpconv.JSONRPCRequestID, q.requestID)
	attrs = appendNonEmpty(attrs, mcpconv.ServerKey, info.ServerKey)
	attrs = appendNonEmpty(attrs, mcpconv.ServerAddress, info.ServerAddress)
	if info.ServerPort > 0 {
		attrs = append(attrs, attribute.Int(mcpconv.ServerPort, info.ServerPort))
	}
	attrs = appendNonEmpty(attrs, mcpconv.ToolArguments, info.Arguments)
	name := mcpconv.MethodToolsCall + " " + info.Tool
	if c.start.IsZero() {
		c.start = time.Now()
		ctx, c.span = q.router.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attrs...))
	} else {
		ctx, c.span = q.router.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attrs...), trace.WithTimestamp(c.start))
	}
	c.ctx = ctx
	return ctx, c
}

// SpanContext identifies the call's CLIENT span (tool_call_record:
// trace_id, span_id).
func (c *ToolCall) SpanContext() trace.SpanContext { return c.span.SpanContext() }

// Span is the call's CLIENT span.
func (c *ToolCall) Span() trace.Span { return c.span }

// SetResult records the JSON text of the tool's result (opt-in storage:
// mcp.router.tool.result).
func (c *ToolCall) SetResult(json string) {
	c.span.SetAttributes(attribute.String(mcpconv.ToolResult, json))
}

// End ends the call now; see EndAt.
func (c *ToolCall) End(err error) { c.EndAt(time.Time{}, err) }

// EndAt ends the call at end (zero: now). A non-nil err is recorded as an
// exception event (one error_log row) and marks the span failed as in
// Request.EndAt. It records mcp.client.operation.duration.
func (c *ToolCall) EndAt(end time.Time, err error) {
	errType := ""
	if err != nil {
		c.span.RecordError(err, trace.WithTimestamp(orNow(end)))
		errType = setFailure(c.span, err)
	}
	c.router.clientDuration.Record(c.ctx, sinceStart(c.start, end),
		c.router.clientSets.get(metricKey{mcpconv.MethodToolsCall, c.serverKey, c.tool, errType}))
	endSpan(c.span, end)
}

// sinceStart is the duration in seconds from start to end (zero: now).
func sinceStart(start, end time.Time) float64 {
	if end.IsZero() {
		return time.Since(start).Seconds()
	}
	return end.Sub(start).Seconds()
}

// endSpan ends a span at end, or now without an option (one allocation less).
func endSpan(span trace.Span, end time.Time) {
	if end.IsZero() {
		span.End()
		return
	}
	span.End(trace.WithTimestamp(end))
}

// setFailure marks a span failed by err and returns its error.type.
func setFailure(span trace.Span, err error) string {
	errType := ErrorType(err)
	if code := RPCStatusCode(err); code != "" {
		span.SetAttributes(attribute.String(mcpconv.ErrorType, errType),
			attribute.String(mcpconv.RPCResponseStatusCode, code))
	} else {
		span.SetAttributes(attribute.String(mcpconv.ErrorType, errType))
	}
	span.SetStatus(codes.Error, err.Error())
	return errType
}

func appendNonEmpty(attrs []attribute.KeyValue, key, value string) []attribute.KeyValue {
	if value == "" {
		return attrs
	}
	return append(attrs, attribute.String(key, value))
}

func addNonEmpty(rec *log.Record, key, value string) {
	if value != "" {
		rec.AddAttributes(attribute.String(key, value))
	}
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
