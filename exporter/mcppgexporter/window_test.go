package mcppgexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// Dates of issue #13, which landed in DEFAULT partitions no retention cleared.
var (
	epoch    = time.Unix(0, 0).UTC() // an unset time
	year2200 = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	year2262 = time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC) // near the end of int64 nanoseconds
	// OTLP times are unsigned nanoseconds since 1970; pdata reads them
	// back as signed, so 1900 survives the trip.
	year1900 = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
)

// TestImplausibleEventTimesAreRejected sends spans, log events and metric
// points dated 1900, 1970, 2200 and 2262 with the default window, against a
// clock one hour after testStart: each goes to rejected_event with its
// reason and is counted; rows inside the window are stored, and a span's
// exception dated 1970 is refused alone.
func TestImplausibleEventTimesAreRejected(t *testing.T) {
	ctx := context.Background()
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(ctx)) }()
	s := freshSchema("event_time")
	e := startDirectWith(t, s, tel.NewTelemetrySettings())
	e.writer.window = createDefaultConfig().(*Config).EventTime
	now := testStart.Add(time.Hour)
	e.writer.now = func() time.Time { return now }

	dates := []time.Time{epoch.Add(time.Nanosecond), year2200, year2262, year1900,
		now.Add(-366 * 24 * time.Hour), now.Add(25 * time.Hour), // just outside
		now.Add(-364 * 24 * time.Hour), now.Add(23 * time.Hour), now, // inside
	}
	const outside = 6
	td := routingSpans(len(dates), testStart, func(i int, span ptrace.Span) {
		span.SetStartTimestamp(pcommon.NewTimestampFromTime(dates[i]))
		span.SetEndTimestamp(pcommon.NewTimestampFromTime(dates[i].Add(time.Millisecond)))
	})
	// An exception dated 1970 on a span of now: its error row alone is
	// refused. One without a time is dated by the span's end, and stored.
	events := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(len(dates) - 1).Events()
	ev := events.AppendEmpty()
	ev.SetName(mcpconv.ExceptionEventName)
	ev.SetTimestamp(1)
	events.AppendEmpty().SetName(mcpconv.ExceptionEventName)
	require.NoError(t, e.pushTraces(ctx, td))

	ld, records := newTestLogs()
	for i, d := range []time.Time{epoch, year2262, now} {
		hc := putEvent(records, mcpconv.EventHealthCheck, "hc-"+string(rune('a'+i)), d)
		hc.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
		hc.Attributes().PutStr(mcpconv.HealthStatus, mcpconv.HealthHealthy)
		putEvent(records, mcpconv.EventSessionStart, "", d).Attributes().PutStr(mcpconv.SessionID, "sess-"+string(rune('a'+i)))
	}
	require.NoError(t, e.pushLogs(ctx, ld))

	md, ms := newTestMetrics()
	g := ms.AppendEmpty()
	g.SetName(mcpconv.MetricPoolConnections)
	points := g.SetEmptyGauge().DataPoints()
	for _, d := range []time.Time{year2200, now} {
		p := points.AppendEmpty()
		p.SetTimestamp(pcommon.NewTimestampFromTime(d))
		p.SetIntValue(3)
	}
	require.NoError(t, e.pushMetrics(ctx, md))

	assert.Equal(t, map[string]int{
		"routing_log": len(dates) - outside, "error_log": 1, "health_check_record": 1, "session_record": 1,
		"metric_point": 1, "rejected_event": outside + 1 + 2 + 2 + 1,
	}, tableCounts(t, s, "routing_log", "error_log", "health_check_record", "session_record", "metric_point", "rejected_event"))
	assert.Equal(t, map[string]int64{causeEventTime: outside + 1 + 2 + 2 + 1},
		sumsByAttr(t, tel, "otelcol_exporter_mcppg_rows_rejected", "cause"))

	var errorAt time.Time
	require.NoError(t, testPool(t).QueryRow(ctx, `SELECT ts FROM `+s+`.error_log`).Scan(&errorAt))
	assert.Equal(t, now.Add(time.Millisecond), errorAt.UTC(), "the span's end time")

	got := map[string]bool{}
	for _, r := range rejectedReasons(t, s) {
		got[r.Table+" | "+r.Reason] = true
	}
	for _, want := range []string{
		"routing_log | ts: event time 1970-01-01T00:00:00.000000001Z is more than event_time::max_age (8760h0m0s) in the past",
		"routing_log | ts: event time 2200-01-01T00:00:00Z is more than event_time::max_future (24h0m0s) in the future",
		"routing_log | ts: event time 2262-04-11T23:47:16Z is more than event_time::max_future (24h0m0s) in the future",
		"routing_log | ts: event time 1900-01-01T00:00:00Z is more than event_time::max_age (8760h0m0s) in the past",
		"error_log | ts: event time 1970-01-01T00:00:00.000000001Z is more than event_time::max_age (8760h0m0s) in the past",
		"health_check_record | ts: event time 1970-01-01T00:00:00Z is more than event_time::max_age (8760h0m0s) in the past",
		"session_record | last_seen_at: event time 2262-04-11T23:47:16Z is more than event_time::max_future (24h0m0s) in the future",
		"metric_point | ts: event time 2200-01-01T00:00:00Z is more than event_time::max_future (24h0m0s) in the future",
	} {
		assert.True(t, got[want], "missing: %s", want)
	}

	// Without bounds, the same span is stored (in the DEFAULT partition).
	e.writer.window = EventTimeConfig{}
	require.NoError(t, e.pushTraces(ctx, routingSpans(1, year2200, nil)))
	assert.Equal(t, len(dates)-outside+1, tableCounts(t, s, "routing_log")["routing_log"])
}
