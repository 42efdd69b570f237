package mcppgexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/mcp-bridge/otelcol-mcp/exporter/mcppgexporter/internal/metadata"
)

// The warning names scope and span name, once per key however many batches
// repeat it; the counter counts every item.
func TestUnmappedItemsAreCountedAndWarnedOnce(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	tb, err := metadata.NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)
	core, logs := observer.New(zapcore.WarnLevel)
	r := newUnmappedReporter(tb, zap.New(core))

	scope := pcommon.NewInstrumentationScope()
	scope.SetName("@traceloop/instrumentation-mcp")
	for range 3 {
		var u unmappedItems
		for range 5 {
			u.add(reasonNotMCP, scope, "mcp.client.session")
		}
		u.add(reasonUnknownEvent, pcommon.NewInstrumentationScope(), "app.cache.refresh")
		r.report(context.Background(), &u)
	}
	assert.Equal(t, map[string]int64{"not_mcp": 15, "unknown_event": 3},
		sumsByAttr(t, tel, "otelcol_exporter_mcppg_items_unmapped", "reason"))
	require.Equal(t, 2, logs.Len(), "one warning per (reason, scope, name)")
	first := logs.All()[0].ContextMap()
	assert.Equal(t, "@traceloop/instrumentation-mcp", first["scope"])
	assert.Equal(t, "mcp.client.session", first["name"])
	assert.Equal(t, "traces", first["signal"])
	assert.Equal(t, int64(5), first["in_batch"])
}
