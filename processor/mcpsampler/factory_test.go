package mcpsampler

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
	"github.com/mcp-bridge/otelcol-mcp/processor/mcpsampler/internal/metadata"
)

func TestFactory(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, metadata.Type, f.Type())
	assert.Equal(t, metadata.TracesStability, f.TracesStability())
	assert.Equal(t, metadata.LogsStability, f.LogsStability())
	require.NoError(t, f.CreateDefaultConfig().(*Config).Validate())

	_, err := f.CreateMetrics(context.Background(), nopSettings(), f.CreateDefaultConfig(), consumertest.NewNop())
	require.ErrorIs(t, err, pipeline.ErrSignalNotSupported, "metrics are never sampled")

	tp := startTraces(t, f.CreateDefaultConfig().(*Config), nopSettings(), consumertest.NewNop())
	assert.True(t, tp.Capabilities().MutatesData)
	lp := startLogs(t, f.CreateDefaultConfig().(*Config), nopSettings(), consumertest.NewNop())
	assert.True(t, lp.Capabilities().MutatesData)
}

func TestWarnsWhenFailuresAreSampled(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	set := nopSettings()
	set.Logger = zap.New(core)
	startLogs(t, testConfig(t, map[string]float64{"failure": 50}), set, consumertest.NewNop())
	require.Equal(t, 1, logs.Len())
	assert.Equal(t, "rates::failure is below 100: failed items will be dropped", logs.All()[0].Message)

	core, logs = observer.New(zapcore.WarnLevel)
	set.Logger = zap.New(core)
	startLogs(t, testConfig(t, nil), set, consumertest.NewNop())
	assert.Equal(t, 0, logs.Len())
}

// TestTelemetryCountsEveryDecision: otelcol_processor_mcpsampler_items
// counts kept and dropped items per rule and signal.
func TestTelemetryCountsEveryDecision(t *testing.T) {
	ctx := context.Background()
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(ctx)) }()
	cfg := testConfig(t, map[string]float64{"routing": 10},
		RuleConfig{Name: "acme", Match: map[string]string{"tenant": "acme"}, Percent: percent(0)})
	tp := startTraces(t, cfg, settingsWith(tel), consumertest.NewNop())
	lp := startLogs(t, cfg, settingsWith(tel), consumertest.NewNop())

	td, _, spans := newSpans()
	routingSpan(spans, traceIDWithRandomness(thresholdOf(10)))   // kept
	routingSpan(spans, traceIDWithRandomness(thresholdOf(10)-1)) // dropped
	routingSpan(spans, traceIDWithRandomness(0)).Status().SetCode(ptrace.StatusCodeError)
	routingSpan(spans, traceIDWithRandomness(0)).Attributes().PutStr("tenant", "acme")
	require.NoError(t, tp.ConsumeTraces(ctx, td))
	require.NoError(t, tp.ConsumeTraces(ctx, td)) // what was kept, again

	ld, _, records := newRecords()
	healthCheck(records, mcpconv.HealthHealthy).SetTraceID(traceIDWithRandomness(0))
	healthCheck(records, mcpconv.HealthUnhealthy)
	records.AppendEmpty().Body().SetStr("cache warmed")
	require.NoError(t, lp.ConsumeLogs(ctx, ld))

	m, err := tel.GetMetric("otelcol_processor_mcpsampler_items")
	require.NoError(t, err)
	got := map[[3]string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		var key [3]string
		for i, k := range []attribute.Key{"rule", "signal", "decision"} {
			v, _ := dp.Attributes.Value(k)
			key[i] = v.String()
		}
		got[key] = dp.Value
	}
	assert.Equal(t, map[[3]string]int64{
		{"routing", "traces", "kept"}:       2,
		{"routing", "traces", "dropped"}:    1,
		{"failure", "traces", "kept"}:       2,
		{"acme", "traces", "dropped"}:       1,
		{"health_check", "logs", "dropped"}: 1,
		{"failure", "logs", "kept"}:         1,
		{"other", "logs", "kept"}:           1,
	}, got)
}

// TestSharedProcessorIsSafeConcurrently runs batches through one processor
// from several goroutines (run with -race): each batch is decided as it
// would be alone.
func TestSharedProcessorIsSafeConcurrently(t *testing.T) {
	const goroutines, rounds = 4, 50
	want := 0
	for g := range goroutines {
		alone := new(consumertest.LogsSink)
		require.NoError(t, startLogs(t, testConfig(t, nil), nopSettings(), alone).ConsumeLogs(context.Background(), mixedLogs(uint64(g))))
		want += rounds * alone.LogRecordCount()
	}

	sink := new(consumertest.LogsSink)
	p := startLogs(t, testConfig(t, nil), nopSettings(), sink)
	done := make(chan error)
	for g := range goroutines {
		go func() {
			var err error
			for range rounds {
				if err = p.ConsumeLogs(context.Background(), mixedLogs(uint64(g))); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range goroutines {
		require.NoError(t, <-done)
	}
	assert.Equal(t, want, sink.LogRecordCount())
}
