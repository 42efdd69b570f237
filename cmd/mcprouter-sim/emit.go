package main

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// The errors a Go router would record on its CLIENT span; their Go type names
// become exception.type (main.ToolError, ...).

// ToolError is a tools/call result with isError set.
type ToolError struct{ Tool, Message string }

func (e ToolError) Error() string { return e.Tool + ": " + e.Message }

// RPCError is a JSON-RPC error response from an upstream.
type RPCError struct {
	Code    string
	Message string
}

func (e RPCError) Error() string { return "jsonrpc error " + e.Code + ": " + e.Message }

// TimeoutError is an upstream that did not answer in time.
type TimeoutError struct {
	Server string
	After  time.Duration
}

func (e TimeoutError) Error() string {
	return fmt.Sprintf("upstream %s did not answer within %s", e.Server, e.After)
}

func upstreamError(f Failure, tool, server string) error {
	switch {
	case f.ErrorType == errorTypeToolError:
		return ToolError{Tool: tool, Message: f.Message}
	case f.ErrorType == errorTypeTimeout:
		return TimeoutError{Server: server, After: upstreamTimeout}
	default:
		return RPCError{Code: f.StatusCode, Message: f.Message}
	}
}

// emitter turns planned requests into spans.
type emitter struct {
	tracer trace.Tracer
	plan   *Plan
	// base is the wall-clock time of the plan's offset 0.
	base time.Time
}

// emit records the spans of one request and returns its trace id.
func (e *emitter) emit(ctx context.Context, r Request) trace.TraceID {
	start := e.base.Add(r.Start)
	ctx, span := e.tracer.Start(ctx, r.SpanName(),
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(e.serverAttributes(r)...),
	)
	for _, c := range r.Calls {
		e.emitCall(ctx, r, c, start)
	}
	if f := r.Failure; f != nil {
		span.SetAttributes(failureAttributes(f)...)
		span.SetStatus(codes.Error, f.Message)
	}
	span.End(trace.WithTimestamp(start.Add(r.Duration)))
	return span.SpanContext().TraceID()
}

func (e *emitter) emitCall(ctx context.Context, r Request, c UpstreamCall, requestStart time.Time) {
	up := e.plan.Upstreams[c.Upstream]
	start := requestStart.Add(c.Start)
	end := start.Add(c.Duration)
	_, span := e.tracer.Start(ctx, r.SpanName(),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.String(mcpconv.MethodName, r.Method),
			attribute.String(mcpconv.OperationName, mcpconv.OperationExecuteTool),
			attribute.String(mcpconv.ToolName, r.Tool),
			attribute.String(mcpconv.ToolCallID, c.CallID),
			attribute.String(mcpconv.JSONRPCRequestID, r.RequestID),
			attribute.String(mcpconv.SessionID, e.plan.Sessions[r.Session].ID),
			attribute.String(mcpconv.ServerKey, up.Key),
			attribute.String(mcpconv.ServerAddress, up.Address),
			attribute.Int(mcpconv.ServerPort, up.Port),
			attribute.Int(mcpconv.Attempt, c.Attempt),
		),
	)
	if f := c.Failure; f != nil {
		span.SetAttributes(failureAttributes(f)...)
		span.RecordError(upstreamError(*f, r.Tool, up.Key), trace.WithTimestamp(end))
		span.SetStatus(codes.Error, f.Message)
	}
	span.End(trace.WithTimestamp(end))
}

func (e *emitter) serverAttributes(r Request) []attribute.KeyValue {
	s := e.plan.Sessions[r.Session]
	attrs := []attribute.KeyValue{
		attribute.String(mcpconv.MethodName, r.Method),
		attribute.String(mcpconv.SessionID, s.ID),
		attribute.String(mcpconv.ProtocolVersion, s.ProtocolVersion),
		attribute.String(mcpconv.JSONRPCRequestID, r.RequestID),
		attribute.String(mcpconv.NetworkTransport, s.Transport),
		attribute.String(mcpconv.ClientAddress, s.ClientAddress),
	}
	if r.Tool != "" {
		attrs = append(attrs,
			attribute.String(mcpconv.ToolName, r.Tool),
			attribute.String(mcpconv.OperationName, mcpconv.OperationExecuteTool),
		)
	}
	if r.ResourceURI != "" {
		attrs = append(attrs, attribute.String(mcpconv.ResourceURI, r.ResourceURI))
	}
	if r.Upstream >= 0 {
		attrs = append(attrs,
			attribute.String(mcpconv.ServerKey, e.plan.Upstreams[r.Upstream].Key),
			attribute.String(mcpconv.Strategy, r.Strategy),
			attribute.Int(mcpconv.Attempt, r.Attempt),
		)
	}
	return attrs
}

func failureAttributes(f *Failure) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attribute.String(mcpconv.ErrorType, f.ErrorType)}
	if f.StatusCode != "" {
		attrs = append(attrs, attribute.String(mcpconv.RPCResponseStatusCode, f.StatusCode))
	}
	return attrs
}

// sentTrace identifies one emitted request.
type sentTrace struct {
	TraceID   string
	RequestID string
}

// emitPlan records every request of the plan so that the last one ends at
// end, and returns what was sent in plan order.
func emitPlan(ctx context.Context, tracer trace.Tracer, plan *Plan, end time.Time) []sentTrace {
	e := &emitter{tracer: tracer, plan: plan, base: end.Add(-plan.End())}
	sent := make([]sentTrace, len(plan.Requests))
	for i, r := range plan.Requests {
		sent[i] = sentTrace{TraceID: e.emit(ctx, r).String(), RequestID: r.RequestID}
	}
	return sent
}
