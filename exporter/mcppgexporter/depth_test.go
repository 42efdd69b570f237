package mcppgexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// nest builds a value with levels of maps (or arrays) around a string.
func nest(v pcommon.Value, levels int, arrays bool) {
	for i := 0; i < levels; i++ {
		if arrays {
			v = v.SetEmptySlice().AppendEmpty()
		} else {
			v = v.SetEmptyMap().PutEmpty("k")
		}
	}
	v.SetStr("leaf")
}

// TestDepthCheckMatchesTheQueuesRoundTrip: the check refuses exactly what
// the persistent queue's protobuf round trip would lose, for maps and arrays,
// in attributes of each signal and in a log body.
func TestDepthCheckMatchesTheQueuesRoundTrip(t *testing.T) {
	for _, arrays := range []bool{false, true} {
		for levels := 1; levels <= 60; levels++ {
			td := ptrace.NewTraces()
			span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			span.SetName("tools/call")
			nest(span.Attributes().PutEmpty("deep"), levels, arrays)
			buf, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
			require.NoError(t, err)
			_, roundTripErr := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(buf)
			assert.Equalf(t, roundTripErr != nil, checkTracesDepth(td) != nil, "span attribute, %d levels, arrays %v", levels, arrays)

			ld := plog.NewLogs()
			lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
			nest(lr.Body(), levels, arrays)
			buf, err = (&plog.ProtoMarshaler{}).MarshalLogs(ld)
			require.NoError(t, err)
			_, roundTripErr = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(buf)
			assert.Equalf(t, roundTripErr != nil, checkLogsDepth(ld) != nil, "log body, %d levels, arrays %v", levels, arrays)

			md := pmetric.NewMetrics()
			m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			m.SetName(mcpconv.MetricPoolConnections)
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			nest(dp.Exemplars().AppendEmpty().FilteredAttributes().PutEmpty("deep"), levels, arrays)
			buf, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
			require.NoError(t, err)
			_, roundTripErr = (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(buf)
			assert.Equalf(t, roundTripErr != nil, checkMetricsDepth(md) != nil, "exemplar attribute, %d levels, arrays %v", levels, arrays)
		}
	}
}

// TestDeepValuesOutsideItemsAreChecked: a resource without scopes and a
// metric's metadata are stored by the queue too.
func TestDeepValuesOutsideItemsAreChecked(t *testing.T) {
	td := ptrace.NewTraces()
	nest(td.ResourceSpans().AppendEmpty().Resource().Attributes().PutEmpty("deep"), 40, false)
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("tools/call")
	assert.EqualError(t, checkTracesDepth(td), `resource attribute "deep" is nested deeper than OTLP protobuf allows (100 levels of attributes, values, maps and arrays); the request is refused before it is queued`)

	ld := plog.NewLogs()
	nest(ld.ResourceLogs().AppendEmpty().Resource().Attributes().PutEmpty("deep"), 40, false)
	assert.Error(t, checkLogsDepth(ld))

	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(mcpconv.MetricPoolConnections)
	nest(m.Metadata().PutEmpty("deep"), 40, false)
	buf, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	require.NoError(t, err)
	_, err = (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(buf)
	require.Error(t, err, "metadata this deep does not survive the queue")
	assert.EqualError(t, checkMetricsDepth(md), `metric "mcp.router.pool.connections" metadata attribute "deep" is nested deeper than OTLP protobuf allows (100 levels of attributes, values, maps and arrays); the request is refused before it is queued`)
}

func TestDeepValueIsRefusedWithItsName(t *testing.T) {
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("tools/call")
	span.Attributes().PutStr(mcpconv.MethodName, mcpconv.MethodToolsCall)
	nest(span.Attributes().PutEmpty("deep"), 100, false)
	err := (&admission{}).admit(context.Background(), checkTracesDepth(td))
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err), "a request that can never be queued is refused for good")
	st, ok := status.FromError(err)
	require.True(t, ok)
	assert.Equal(t, codes.InvalidArgument, st.Code(), "the OTLP receiver answers 400 / InvalidArgument")
	assert.EqualError(t, err, `Permanent error: rpc error: code = InvalidArgument desc = span "tools/call" attribute "deep" is nested deeper than OTLP protobuf allows (100 levels of attributes, values, maps and arrays); the request is refused before it is queued`)
}

func BenchmarkDepthCheckConventionalSpans(b *testing.B) {
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := 0; i < 1000; i++ {
		s := spans.AppendEmpty()
		s.SetName("tools/call echo")
		for _, k := range []string{mcpconv.MethodName, mcpconv.SessionID, mcpconv.JSONRPCRequestID, mcpconv.ToolName, mcpconv.ServerKey, mcpconv.NetworkTransport, mcpconv.ServerAddress} {
			s.Attributes().PutStr(k, "v")
		}
		s.Attributes().PutInt(mcpconv.Attempt, 1)
		s.Attributes().PutEmptyMap(mcpconv.ToolArguments).PutStr("a", "b")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := checkTracesDepth(td); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans.Len()), "ns/span")
}
