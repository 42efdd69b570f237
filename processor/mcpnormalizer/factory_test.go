package mcpnormalizer

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/processor/mcpnormalizer/internal/metadata"
)

func settingsWith(tel *componenttest.Telemetry) processor.Settings {
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.ID = component.NewID(metadata.Type)
	return set
}

// rewritten reads otelcol_processor_mcpnormalizer_rewritten by "signal/dialect".
func rewritten(t *testing.T, tel *componenttest.Telemetry) map[string]int64 {
	t.Helper()
	m, err := tel.GetMetric("otelcol_processor_mcpnormalizer_rewritten")
	require.NoError(t, err)
	out := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		signal, _ := dp.Attributes.Value("signal")
		d, _ := dp.Attributes.Value("dialect")
		out[signal.AsString()+"/"+d.AsString()] += dp.Value
	}
	return out
}

// Every signal starts, passes its data on (rewritten in place), counts what
// it rewrote and shuts down.
func TestProcessorsOfEverySignal(t *testing.T) {
	ctx := context.Background()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(ctx)) })
	f := NewFactory()
	assert.Equal(t, metadata.Type, f.Type())
	cfg := f.CreateDefaultConfig()
	require.NoError(t, cfg.(*Config).Validate())

	traces := new(consumertest.TracesSink)
	tp, err := f.CreateTraces(ctx, settingsWith(tel), cfg, traces)
	require.NoError(t, err)
	logs := new(consumertest.LogsSink)
	lp, err := f.CreateLogs(ctx, settingsWith(tel), cfg, logs)
	require.NoError(t, err)
	metrics := new(consumertest.MetricsSink)
	mp, err := f.CreateMetrics(ctx, settingsWith(tel), cfg, metrics)
	require.NoError(t, err)
	for _, c := range []component.Component{tp, lp, mp} {
		require.NoError(t, c.Start(ctx, componenttest.NewNopHost()))
	}
	assert.True(t, tp.Capabilities().MutatesData)

	td := conventionalTraces(4)
	span := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1)
	span.Attributes().PutInt(mcpconv.RPCResponseStatusCode, -32601)
	require.NoError(t, tp.ConsumeTraces(ctx, td))
	require.Len(t, traces.AllTraces(), 1)
	got := traces.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1)
	code, _ := got.Attributes().Get(mcpconv.RPCResponseStatusCode)
	assert.Equal(t, "-32601", code.Str())
	assert.Equal(t, ptrace.StatusCodeError, got.Status().Code())

	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("plain")
	require.NoError(t, lp.ConsumeLogs(ctx, ld))
	assert.Equal(t, 1, logs.LogRecordCount())

	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(mcpconv.MetricClientOperationDuration)
	m.SetUnit("ms")
	m.SetEmptyHistogram().DataPoints().AppendEmpty().SetSum(1500)
	require.NoError(t, mp.ConsumeMetrics(ctx, md))
	require.Len(t, metrics.AllMetrics(), 1)
	assert.Equal(t, "s", metrics.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Unit())

	assert.Equal(t, map[string]int64{"traces/conventions": 1, "metrics/conventions": 1}, rewritten(t, tel))
	for _, c := range []component.Component{tp, lp, mp} {
		require.NoError(t, c.Shutdown(ctx))
	}
}
