package mcpnormalizer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

func TestFixSpan(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(ptrace.Span)
		changed    bool
		wantAttrs  map[string]any
		wantStatus ptrace.StatusCode
	}{
		{
			name: "conventional span passes unchanged",
			setup: func(s ptrace.Span) {
				s.Attributes().PutStr(mcpconv.MethodName, "tools/call")
				s.Attributes().PutStr(mcpconv.ToolName, "echo")
			},
			wantAttrs: map[string]any{mcpconv.MethodName: "tools/call", mcpconv.ToolName: "echo"},
		},
		{
			name: "int64 status code becomes a string and marks the failure",
			setup: func(s ptrace.Span) {
				s.Attributes().PutStr(mcpconv.MethodName, "tools/call")
				s.Attributes().PutInt(mcpconv.RPCResponseStatusCode, -32602)
			},
			changed:    true,
			wantAttrs:  map[string]any{mcpconv.MethodName: "tools/call", mcpconv.RPCResponseStatusCode: "-32602", mcpconv.ErrorType: "-32602"},
			wantStatus: ptrace.StatusCodeError,
		},
		{
			name: "a code with error.type already set keeps both, status untouched",
			setup: func(s ptrace.Span) {
				s.Attributes().PutStr(mcpconv.MethodName, "tools/call")
				s.Attributes().PutStr(mcpconv.RPCResponseStatusCode, "-32601")
				s.Attributes().PutStr(mcpconv.ErrorType, "method_not_found")
			},
			wantAttrs: map[string]any{mcpconv.MethodName: "tools/call", mcpconv.RPCResponseStatusCode: "-32601", mcpconv.ErrorType: "method_not_found"},
		},
		{
			name: "an isError tool result is a tool_error",
			setup: func(s ptrace.Span) {
				s.Attributes().PutStr(mcpconv.MethodName, "tools/call")
				s.Attributes().PutBool(mcpconv.ToolResultIsError, true)
			},
			changed:   true,
			wantAttrs: map[string]any{mcpconv.MethodName: "tools/call", mcpconv.ToolResultIsError: true, mcpconv.ErrorType: "tool_error"},
		},
		{
			name: "an isError false result is no error",
			setup: func(s ptrace.Span) {
				s.Attributes().PutStr(mcpconv.MethodName, "tools/call")
				s.Attributes().PutBool(mcpconv.ToolResultIsError, false)
			},
			wantAttrs: map[string]any{mcpconv.MethodName: "tools/call", mcpconv.ToolResultIsError: false},
		},
		{
			name: "an empty error.type is no error",
			setup: func(s ptrace.Span) {
				s.Attributes().PutStr(mcpconv.MethodName, "ping")
				s.Attributes().PutStr(mcpconv.ErrorType, "")
			},
			changed:   true,
			wantAttrs: map[string]any{mcpconv.MethodName: "ping"},
		},
		{
			name: "draft keys move to today's",
			setup: func(s ptrace.Span) {
				s.Attributes().PutStr(mcpconv.MethodName, "tools/call")
				s.Attributes().PutStr("mcp.tool.name", "echo")
				s.Attributes().PutStr("mcp.request.id", "7")
				s.Attributes().PutDouble("mcp.error.code", -32603)
			},
			changed: true,
			wantAttrs: map[string]any{mcpconv.MethodName: "tools/call", mcpconv.ToolName: "echo", mcpconv.JSONRPCRequestID: "7",
				mcpconv.RPCResponseStatusCode: "-32603", mcpconv.ErrorType: "-32603"},
			wantStatus: ptrace.StatusCodeError,
		},
		{
			name: "a draft key never overwrites today's",
			setup: func(s ptrace.Span) {
				s.Attributes().PutStr(mcpconv.MethodName, "tools/call")
				s.Attributes().PutStr(mcpconv.ToolName, "search")
				s.Attributes().PutStr("mcp.tool.name", "echo")
			},
			changed:   true,
			wantAttrs: map[string]any{mcpconv.MethodName: "tools/call", mcpconv.ToolName: "search"},
		},
		{
			name: "not an MCP operation: gRPC's OK is no JSON-RPC error",
			setup: func(s ptrace.Span) {
				s.Attributes().PutStr(mcpconv.RPCResponseStatusCode, "OK")
			},
			wantAttrs: map[string]any{mcpconv.RPCResponseStatusCode: "OK"},
		},
		{
			name: "a status code that is not a number is dropped when it is not text",
			setup: func(s ptrace.Span) {
				s.Attributes().PutStr(mcpconv.MethodName, "ping")
				s.Attributes().PutBool(mcpconv.RPCResponseStatusCode, true)
			},
			changed:   true,
			wantAttrs: map[string]any{mcpconv.MethodName: "ping"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			span := ptrace.NewSpan()
			span.SetKind(ptrace.SpanKindServer)
			tt.setup(span)
			assert.Equal(t, tt.changed, fixSpan(span))
			assert.Equal(t, tt.wantAttrs, span.Attributes().AsRaw())
			assert.Equal(t, tt.wantStatus, span.Status().Code())
		})
	}
}

func TestFixMetricConvertsDurationsToSeconds(t *testing.T) {
	m := pmetric.NewMetric()
	m.SetName(mcpconv.MetricServerOperationDuration)
	m.SetUnit("ms")
	dp := m.SetEmptyHistogram().DataPoints().AppendEmpty()
	dp.ExplicitBounds().FromRaw([]float64{10, 100, 1000})
	dp.BucketCounts().FromRaw([]uint64{1, 2, 3, 4})
	dp.SetSum(2500)
	dp.SetMin(5)
	dp.SetMax(1500)
	dp.SetCount(10)

	assert.True(t, fixMetric(m))
	assert.Equal(t, "s", m.Unit())
	assert.InDeltaSlice(t, []float64{0.01, 0.1, 1}, dp.ExplicitBounds().AsRaw(), 1e-12)
	assert.InDelta(t, 2.5, dp.Sum(), 1e-12)
	assert.InDelta(t, 0.005, dp.Min(), 1e-12)
	assert.InDelta(t, 1.5, dp.Max(), 1e-12)
	assert.Equal(t, []uint64{1, 2, 3, 4}, dp.BucketCounts().AsRaw())
	assert.False(t, fixMetric(m), "seconds already")

	other := pmetric.NewMetric()
	other.SetName("http.server.request.duration")
	other.SetUnit("ms")
	other.SetEmptyHistogram().DataPoints().AppendEmpty().SetSum(3)
	assert.False(t, fixMetric(other), "only the MCP duration histograms")
}

func TestRenamesApplyFirst(t *testing.T) {
	n := newNormalizer(&Config{Renames: map[string]string{"my.rpc.method": mcpconv.MethodName, "my.code": mcpconv.RPCResponseStatusCode}})
	span := ptrace.NewSpan()
	span.SetKind(ptrace.SpanKindServer)
	span.Attributes().PutStr("my.rpc.method", "tools/call")
	span.Attributes().PutInt("my.code", -32602)
	assert.Equal(t, conventionsName, n.span(span, nil))
	assert.Equal(t, map[string]any{mcpconv.MethodName: "tools/call", mcpconv.RPCResponseStatusCode: "-32602", mcpconv.ErrorType: "-32602"},
		span.Attributes().AsRaw())
	assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())

	lr := pcommon.NewMap()
	lr.PutStr("my.rpc.method", "ping")
	assert.True(t, renameKeys(lr, n.renames))
	assert.Equal(t, map[string]any{mcpconv.MethodName: "ping"}, lr.AsRaw())
}
