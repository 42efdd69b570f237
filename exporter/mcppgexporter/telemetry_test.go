package mcppgexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// sumsByAttr returns the int sum's value per value of attribute key.
func sumsByAttr(t *testing.T, tel *componenttest.Telemetry, name, key string) map[string]int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	require.NoError(t, err, name)
	out := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := dp.Attributes.Value(attribute.Key(key))
		out[v.String()] += dp.Value
	}
	return out
}

func TestTelemetryCountsWhatHappened(t *testing.T) {
	ctx := context.Background()
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(ctx)) }()
	e := startDirectWith(t, freshSchema("telemetry"), tel.NewTelemetrySettings())

	require.NoError(t, e.pushTraces(ctx, routerTraces(0, 20)))
	replay := routerTraces(10, 20) // half of it was written above
	spans := replay.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.At(2*15).Attributes().PutStr(mcpconv.SessionID, "nul\x00")             // a new row refused before writing
	spans.At(2*16).Attributes().PutStr(mcpconv.ServerKey, incompressible(20000)) // a new row the database refuses
	require.NoError(t, e.pushTraces(ctx, replay))
	ld, records := newTestLogs()
	records.AppendEmpty().Body().SetStr("no kind, not an error")
	require.NoError(t, e.pushLogs(ctx, ld))

	assert.Equal(t, map[string]int64{"routing_log": 28, "tool_call_record": 30, "error_log": int64(failuresIn(0, 30))},
		sumsByAttr(t, tel, "otelcol_exporter_mcppg_rows_written", "table"))
	assert.Equal(t, map[string]int64{"routing_log": 10, "tool_call_record": 10, "error_log": int64(failuresIn(10, 10))},
		sumsByAttr(t, tel, "otelcol_exporter_mcppg_rows_duplicate", "table"))
	assert.Equal(t, map[string]int64{"routing_log": 2}, sumsByAttr(t, tel, "otelcol_exporter_mcppg_rows_rejected", "table"))
	assert.Equal(t, map[string]int64{causeUnstorable: 1, causeDatabase: 1}, sumsByAttr(t, tel, "otelcol_exporter_mcppg_rows_rejected", "cause"))
	assert.Equal(t, map[string]int64{"isolate": 1}, sumsByAttr(t, tel, "otelcol_exporter_mcppg_batch_fallbacks", "path"))
	assert.Equal(t, map[string]int64{"no_event_name": 1}, sumsByAttr(t, tel, "otelcol_exporter_mcppg_items_unmapped", "reason"))

	m, err := tel.GetMetric("otelcol_exporter_mcppg_commit_duration")
	require.NoError(t, err)
	var commits uint64
	for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		commits += dp.Count
	}
	assert.Equal(t, uint64(2), commits, "two batches committed (the log batch had no rows)")

	m, err = tel.GetMetric("otelcol_exporter_mcppg_pool_connections")
	require.NoError(t, err)
	gauges := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
		v, _ := dp.Attributes.Value("state")
		gauges[v.String()] = dp.Value
	}
	assert.Equal(t, int64(0), gauges["acquired"])
	assert.Equal(t, int64(4), gauges["max"])
}
