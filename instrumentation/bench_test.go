package instrumentation

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// What the instrumentation adds per routed request is
// BenchmarkRoutedRequest minus BenchmarkSDKBaseline: both create the same
// two spans with the same attributes on the same SDK pipeline (batch span
// processor, an exporter that discards); the instrumentation also records
// the two duration histograms and, in the "lb event" case, emits the
// load-balancer decision through an SDK batch log processor.
//
//	go test -run '^$' -bench 'RoutedRequest|SDKBaseline' -benchmem -count 5 ./instrumentation/

type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

type discardLogs struct{}

func (discardLogs) Export(context.Context, []sdklog.Record) error { return nil }
func (discardLogs) Shutdown(context.Context) error                { return nil }
func (discardLogs) ForceFlush(context.Context) error              { return nil }

type benchProviders struct {
	tp *sdktrace.TracerProvider
	lp *sdklog.LoggerProvider
	mp *sdkmetric.MeterProvider
}

func newBenchProviders(b *testing.B) benchProviders {
	p := benchProviders{
		tp: sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{})),
		lp: sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(discardLogs{}))),
		mp: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
	}
	b.Cleanup(func() {
		ctx := context.Background()
		_ = p.tp.Shutdown(ctx)
		_ = p.lp.Shutdown(ctx)
		_ = p.mp.Shutdown(ctx)
	})
	return p
}

var benchInfo = RequestInfo{
	Method: mcpconv.MethodToolsCall, Tool: "get_weather", SessionID: "5f0c8a5e-1c1d-4d6e-9a43-0b8a8f0e2c11",
	RequestID: "1742", ProtocolVersion: "2025-06-18", Transport: "tcp", ClientAddress: "10.20.30.40",
}

var benchCandidates = []string{"weather-1", "weather-2", "weather-3"}

func BenchmarkRoutedRequest(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{"lb event", nil},
		{"no lb event", []Option{WithLBDecisions(false)}},
		{"lb event sampled 1%", []Option{WithLBDecisionSampling(0.01)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := newBenchProviders(b)
			r, err := New(p.tp, p.lp, p.mp, bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				rctx, req := r.StartRequest(ctx, benchInfo)
				req.ChooseServer(Choice{ServerKey: "weather-2", Strategy: "round_robin", Candidates: benchCandidates})
				_, call := req.StartToolCall(rctx, ToolCallInfo{CallID: "call_8f2k", ServerAddress: "mcp-weather-2.svc", ServerPort: 8080})
				call.End(nil)
				req.End(nil)
			}
		})
	}
}

// BenchmarkSDKBaseline creates the same spans directly on the SDK ("spans",
// the baseline of "what the instrumentation adds"), and in "everything" also
// emits the same lb decision record and records the same two histogram
// points with SDK calls: RoutedRequest/lb_event minus SDKBaseline/everything
// is the cost of the wrapper itself.
func BenchmarkSDKBaseline(b *testing.B) {
	for _, bc := range []struct {
		name       string
		everything bool
	}{{"spans", false}, {"everything", true}} {
		b.Run(bc.name, func(b *testing.B) {
			p := newBenchProviders(b)
			tracer := p.tp.Tracer(ScopeName)
			logger := p.lp.Logger(ScopeName)
			meter := p.mp.Meter(ScopeName)
			buckets := metric.WithExplicitBucketBoundaries(mcpconv.DurationBucketsSeconds...)
			serverDuration, _ := meter.Float64Histogram(mcpconv.MetricServerOperationDuration, buckets)
			clientDuration, _ := meter.Float64Histogram(mcpconv.MetricClientOperationDuration, buckets)
			ctx := context.Background()
			in := benchInfo
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				rctx, server := tracer.Start(ctx, in.Method+" "+in.Tool, trace.WithSpanKind(trace.SpanKindServer),
					trace.WithAttributes(
						attribute.String(mcpconv.MethodName, in.Method),
						attribute.String(mcpconv.ToolName, in.Tool),
						attribute.String(mcpconv.OperationName, mcpconv.OperationExecuteTool),
						attribute.String(mcpconv.SessionID, in.SessionID),
						attribute.String(mcpconv.JSONRPCRequestID, in.RequestID),
						attribute.String(mcpconv.ProtocolVersion, in.ProtocolVersion),
						attribute.String(mcpconv.NetworkTransport, in.Transport),
						attribute.String(mcpconv.ClientAddress, in.ClientAddress),
					))
				server.SetAttributes(attribute.String(mcpconv.ServerKey, "weather-2"), attribute.Int(mcpconv.Attempt, 1),
					attribute.String(mcpconv.Strategy, "round_robin"))
				if bc.everything {
					var rec log.Record
					rec.SetEventName(mcpconv.EventLBDecision)
					rec.SetTimestamp(time.Now())
					rec.SetSeverity(log.SeverityInfo)
					rec.AddAttributes(
						attribute.String(mcpconv.EventID, "0123456789abcdef0123456789abcdef"),
						attribute.String(mcpconv.MethodName, in.Method),
						attribute.String(mcpconv.ServerKey, "weather-2"),
						attribute.Int(mcpconv.Attempt, 1),
						attribute.String(mcpconv.Strategy, "round_robin"),
						attribute.String(mcpconv.JSONRPCRequestID, in.RequestID),
						attribute.String(mcpconv.SessionID, in.SessionID),
						attribute.String(mcpconv.ToolName, in.Tool),
						attribute.StringSlice(mcpconv.LBCandidates, benchCandidates),
					)
					logger.Emit(rctx, rec)
				}
				cctx, client := tracer.Start(rctx, mcpconv.MethodToolsCall+" "+in.Tool, trace.WithSpanKind(trace.SpanKindClient),
					trace.WithAttributes(
						attribute.String(mcpconv.MethodName, mcpconv.MethodToolsCall),
						attribute.String(mcpconv.OperationName, mcpconv.OperationExecuteTool),
						attribute.String(mcpconv.ToolName, in.Tool),
						attribute.Int(mcpconv.Attempt, 1),
						attribute.String(mcpconv.ToolCallID, "call_8f2k"),
						attribute.String(mcpconv.SessionID, in.SessionID),
						attribute.String(mcpconv.JSONRPCRequestID, in.RequestID),
						attribute.String(mcpconv.ServerKey, "weather-2"),
						attribute.String(mcpconv.ServerAddress, "mcp-weather-2.svc"),
						attribute.Int(mcpconv.ServerPort, 8080),
					))
				client.End()
				if bc.everything {
					clientDuration.Record(cctx, time.Since(start).Seconds(), metric.WithAttributes(
						attribute.String(mcpconv.MethodName, mcpconv.MethodToolsCall),
						attribute.String(mcpconv.ServerKey, "weather-2"), attribute.String(mcpconv.ToolName, in.Tool)))
					serverDuration.Record(rctx, time.Since(start).Seconds(), metric.WithAttributes(
						attribute.String(mcpconv.MethodName, in.Method),
						attribute.String(mcpconv.ServerKey, "weather-2"), attribute.String(mcpconv.ToolName, in.Tool)))
				}
				server.End()
			}
		})
	}
}

// BenchmarkHealthCheckEvent is one event on the SDK log pipeline.
func BenchmarkHealthCheckEvent(b *testing.B) {
	p := newBenchProviders(b)
	r, err := New(p.tp, p.lp, p.mp)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r.HealthCheck(ctx, HealthCheck{ServerKey: "weather-2", Healthy: true, Check: "ping"})
	}
}

// BenchmarkSDKLogBaseline is the same record emitted directly.
func BenchmarkSDKLogBaseline(b *testing.B) {
	p := newBenchProviders(b)
	logger := p.lp.Logger(ScopeName)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var rec log.Record
		rec.SetEventName(mcpconv.EventHealthCheck)
		rec.SetSeverity(log.SeverityInfo)
		rec.AddAttributes(
			attribute.String(mcpconv.ServerKey, "weather-2"),
			attribute.String(mcpconv.HealthStatus, mcpconv.HealthHealthy),
			attribute.Float64(mcpconv.HealthLatency, 0),
			attribute.String(mcpconv.HealthCheck, "ping"),
			attribute.String(mcpconv.EventID, "0123456789abcdef0123456789abcdef"),
		)
		logger.Emit(ctx, rec)
	}
}
