package mcpnormalizer

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/processor/mcpnormalizer/internal/metadata"
)

// conventionalTraces builds n spans as the instrumentation package writes
// them: SERVER requests and their CLIENT tool calls, every key conventional.
func conventionalTraces(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(mcpconv.ServiceName, "mcp-router")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/mcp-bridge/otelcol-mcp/instrumentation")
	for i := 0; i < n; i++ {
		s := ss.Spans().AppendEmpty()
		s.SetName("tools/call get_weather")
		s.SetTraceID(pcommon.TraceID{byte(i), byte(i >> 8), 1})
		s.SetSpanID(pcommon.SpanID{byte(i), byte(i >> 8), 2})
		a := s.Attributes()
		a.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
		a.PutStr(mcpconv.ToolName, "get_weather")
		a.PutStr(mcpconv.SessionID, "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b")
		a.PutStr(mcpconv.JSONRPCRequestID, "42")
		a.PutStr(mcpconv.ServerKey, "weather-1")
		a.PutInt(mcpconv.Attempt, 1)
		if i%2 == 0 {
			s.SetKind(ptrace.SpanKindServer)
			a.PutStr(mcpconv.Strategy, "round_robin")
			a.PutStr(mcpconv.ProtocolVersion, "2025-06-18")
			a.PutStr(mcpconv.NetworkTransport, "tcp")
			a.PutStr(mcpconv.ClientAddress, "10.0.0.7")
			a.PutStr(mcpconv.OperationName, mcpconv.OperationExecuteTool)
		} else {
			s.SetKind(ptrace.SpanKindClient)
			a.PutStr(mcpconv.ServerAddress, "weather.internal")
			a.PutStr(mcpconv.OperationName, mcpconv.OperationExecuteTool)
		}
		if i%10 == 0 {
			a.PutStr(mcpconv.ErrorType, "timeout")
			a.PutStr(mcpconv.RPCResponseStatusCode, "-32603")
			s.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	return td
}

// BenchmarkConventionalSpans is the cost the processor adds to telemetry
// that is already conventional (the target is 300 ns per span), with every
// dialect on, as in the default configuration.
func BenchmarkConventionalSpans(b *testing.B) {
	const n = 1000
	tb, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
	if err != nil {
		b.Fatal(err)
	}
	p := &tracesProcessor{n: newNormalizer(createDefaultConfig().(*Config)), counts: newRewriteCounts(tb.ProcessorMcpnormalizerRewritten, signalTraces)}
	td := conventionalTraces(n)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := p.processTraces(ctx, td); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
}
