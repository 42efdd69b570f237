package mcppgexporter

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

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
	core, logs := observer.New(zapcore.DebugLevel)
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
	require.Equal(t, 2, logs.Len(), "one line per (reason, scope, name)")
	assert.Equal(t, zapcore.DebugLevel, logs.All()[0].Level, "spans that are no MCP operation are expected")
	assert.Equal(t, zapcore.WarnLevel, logs.All()[1].Level, "an unknown event name is worth a warning")
	first := logs.All()[0].ContextMap()
	assert.Equal(t, "@traceloop/instrumentation-mcp", first["scope"])
	assert.Equal(t, "mcp.client.session", first["name"])
	assert.Equal(t, "traces", first["signal"])
	assert.Equal(t, int64(5), first["in_batch"])
}

// An emitter with unbounded span names (SQL text, URLs with ids) can neither
// flood the log nor grow the reporter's memory: names are clipped, and the
// lines of a window are capped.
func TestUnmappedLogIsBounded(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	tb, err := metadata.NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)
	core, logs := observer.New(zapcore.DebugLevel)
	r := newUnmappedReporter(tb, zap.New(core))
	scope := pcommon.NewInstrumentationScope()
	long := strings.Repeat("é", 100_000) // 200 kB, two bytes a rune
	for batch := range 200 {
		var u unmappedItems
		for i := range 20 {
			u.add(reasonNoRole, scope, fmt.Sprintf("%d-%d %s", batch, i, long))
		}
		r.report(context.Background(), &u)
	}
	assert.Equal(t, maxUnmappedLogs, logs.Len())
	for _, e := range logs.All() {
		name := e.ContextMap()["name"].(string)
		assert.LessOrEqual(t, len(name), maxUnmappedNameBytes+len("…"))
		assert.True(t, utf8.ValidString(name))
	}
	assert.LessOrEqual(t, len(r.logged), maxUnmappedLogs)
	assert.Equal(t, map[string]int64{"no_role": 4000}, sumsByAttr(t, tel, "otelcol_exporter_mcppg_items_unmapped", "reason"))
}
