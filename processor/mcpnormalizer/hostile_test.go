package mcpnormalizer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// Regression tests for cases a review found (each failed before its fix).

func scopedSpan(scope string) (*normalizer, *dialect, ptrace.Span) {
	n := newNormalizer(createDefaultConfig().(*Config))
	s := pcommon.NewInstrumentationScope()
	s.SetName(scope)
	return n, n.forScope(s), ptrace.NewSpan()
}

// A backend whose own tools start with "<backend>_" keeps its tool name
// through a second pass (an agent and a gateway both normalize).
func TestToolhivePrefixIsStrippedOnce(t *testing.T) {
	n, d, span := scopedSpan("github.com/stacklok/toolhive/pkg/vmcp")
	span.SetKind(ptrace.SpanKindClient)
	a := span.Attributes()
	a.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
	a.PutStr("target.workload_name", "slack")
	a.PutStr("tool_name", "slack_slack_post_message")
	a.PutStr(mcpconv.ToolName, "slack_slack_post_message")
	n.span(span, d)
	assert.Equal(t, "slack_post_message", strAttr(a, mcpconv.ToolName))
	n.span(span, d)
	assert.Equal(t, "slack_post_message", strAttr(a, mcpconv.ToolName), "second pass")
	assert.Equal(t, "slack", strAttr(a, mcpconv.ServerKey))
}

// OpenLLMetry writes traceloop.span.kind on every tool span, MCP or not: a
// non-MCP LLM tool span stays what it is.
func TestTraceloopNonMCPToolSpanStaysOther(t *testing.T) {
	n, d, span := scopedSpan("@traceloop/node-server-sdk")
	span.SetKind(ptrace.SpanKindInternal)
	span.SetName("get_weather.tool")
	span.Attributes().PutStr("traceloop.span.kind", "tool")
	span.Attributes().PutStr("traceloop.entity.name", "get_weather")
	n.span(span, d)
	assert.Equal(t, mcpconv.KindOther, mcpconv.ClassifySpan(span))
	assert.Equal(t, "get_weather.tool", span.Name())
}

// Moving draft keys moves the map's entries: a real error.type must not be
// lost, and the result must not change on a second pass.
func TestFixSpanRereadsAfterMovingKeys(t *testing.T) {
	span := ptrace.NewSpan()
	span.SetKind(ptrace.SpanKindServer)
	a := span.Attributes()
	a.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
	a.PutStr("mcp.tool.name", "echo") // written twice by an emitter migrating keys
	a.PutStr(mcpconv.ToolName, "echo")
	a.PutStr("mcp.request.id", "")
	a.PutStr(mcpconv.ErrorType, "timeout")
	fixSpan(span)
	assert.Equal(t, "timeout", strAttr(a, mcpconv.ErrorType))

	other := ptrace.NewSpan()
	other.SetKind(ptrace.SpanKindServer)
	b := other.Attributes()
	b.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
	b.PutStr(mcpconv.RPCResponseStatusCode, "-32602")
	b.PutStr("mcp.tool.name", "echo")
	b.PutStr(mcpconv.ToolName, "echo")
	b.PutStr("mcp.request.id", "7")
	b.PutStr(mcpconv.ErrorType, "")
	require.True(t, fixSpan(other))
	assert.True(t, mcpconv.IsFailedSpan(other), "the code marks the failure in the first pass")
	assert.False(t, fixSpan(other), "a second pass changes nothing")
}

// "mcp-gateway" is a tracer name other applications use too: only
// ContextForge's INTERNAL spans get its rules.
func TestContextforgeRulesOnlyOnItsInternalSpans(t *testing.T) {
	n, d, span := scopedSpan("mcp-gateway")
	span.SetKind(ptrace.SpanKindClient)
	span.SetName("mcp.initialize")
	n.span(span, d)
	assert.Equal(t, ptrace.SpanKindClient, span.Kind())
	assert.Empty(t, strAttr(span.Attributes(), mcpconv.MethodName))
}

// An empty value under the new key does not beat a real one being moved.
func TestMoveKeyReplacesAnEmptyValue(t *testing.T) {
	n, _, span := scopedSpan("")
	span.SetKind(ptrace.SpanKindServer)
	span.Attributes().PutStr(mcpconv.MethodName, "")
	span.Attributes().PutStr("mcp.method", mcpconv.MethodToolsCall)
	n.span(span, nil)
	assert.Equal(t, mcpconv.KindRouting, mcpconv.ClassifySpan(span))
}

// Spans of other RPC systems keep their codes as they are.
func TestNonMCPCodesAreUntouched(t *testing.T) {
	span := ptrace.NewSpan()
	span.SetKind(ptrace.SpanKindClient)
	span.Attributes().PutInt(mcpconv.RPCResponseStatusCode, 14)
	span.Attributes().PutStr(mcpconv.ErrorType, "")
	assert.False(t, fixSpan(span))
	v, _ := span.Attributes().Get(mcpconv.RPCResponseStatusCode)
	assert.Equal(t, pcommon.ValueTypeInt, v.Type())
}

// Exemplars and summaries are converted with the histogram they belong to.
func TestDurationExemplarsAndSummariesInSeconds(t *testing.T) {
	m := pmetric.NewMetric()
	m.SetName(mcpconv.MetricServerOperationDuration)
	m.SetUnit("ms")
	dp := m.SetEmptyHistogram().DataPoints().AppendEmpty()
	dp.SetSum(500)
	dp.Exemplars().AppendEmpty().SetDoubleValue(250)
	dp.Exemplars().AppendEmpty().SetIntValue(40)
	require.True(t, fixMetric(m))
	assert.InDelta(t, 0.25, dp.Exemplars().At(0).DoubleValue(), 1e-12)
	assert.InDelta(t, 0.04, dp.Exemplars().At(1).DoubleValue(), 1e-12)

	s := pmetric.NewMetric()
	s.SetName(mcpconv.MetricClientOperationDuration)
	s.SetUnit("ms")
	sp := s.SetEmptySummary().DataPoints().AppendEmpty()
	sp.SetSum(1000)
	q := sp.QuantileValues().AppendEmpty()
	q.SetQuantile(0.99)
	q.SetValue(120)
	require.True(t, fixMetric(s))
	assert.Equal(t, "s", s.Unit())
	assert.InDelta(t, 1.0, sp.Sum(), 1e-12)
	assert.InDelta(t, 0.12, q.Value(), 1e-12)
}

// A hostile attribute (a map nested thousands of levels, where a string or
// bool belongs) is not rendered as text: it costs nothing and breaks nothing.
func TestNestedValuesWhereTextBelongsAreNotRendered(t *testing.T) {
	span := ptrace.NewSpan()
	span.SetKind(ptrace.SpanKindServer)
	a := span.Attributes()
	a.PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
	m := a.PutEmptyMap(mcpconv.ToolResultIsError)
	for range 5000 {
		m = m.PutEmptyMap("a")
	}
	a.PutEmptyMap(mcpconv.ErrorType).PutStr("k", strings.Repeat("x", 1<<20))
	n := newNormalizer(createDefaultConfig().(*Config))
	n.span(span, nil)
	v, _ := a.Get(mcpconv.ErrorType)
	assert.Equal(t, pcommon.ValueTypeMap, v.Type(), "left as sent: a map is no isError flag and no empty error.type")
	assert.Empty(t, strAttr(a, mcpconv.ErrorType), "a map is no text")
}
