package mcppgexporter

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// TestHugeCountsDoNotBreakTheViews stores two histogram points of one
// server, tool and minute (two series: the method differs) whose first
// bucket counts 2^63-1 requests, the most bigint holds. Their sum does not
// fit bigint: operation_stats and both per-minute views sum in numeric and
// answer 2^64-2 instead of failing with "bigint out of range".
func TestHugeCountsDoNotBreakTheViews(t *testing.T) {
	ctx := context.Background()
	s := freshSchema("huge_counts")
	e := startDirect(t, s)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	md, ms := newTestMetrics()
	for i, method := range []string{"tools/call", "tools/list"} {
		putHistogram(ms, mcpconv.MetricServerOperationDuration, pmetric.AggregationTemporalityDelta, t0, t0.Add(time.Duration(10+i)*time.Second),
			[]uint64{math.MaxInt64, 0, 0, 0}, 1.5, map[string]string{mcpconv.ServerKey: "weather-1", mcpconv.ToolName: "get_weather", mcpconv.MethodName: method})
	}
	require.NoError(t, e.pushMetrics(ctx, md))
	require.Equal(t, 2, tableCounts(t, s, "metric_point")["metric_point"])

	const twice = "18446744073709551614" // 2 × (2^63-1)
	for _, from := range []string{
		`operation_stats_by_server_minute`,
		`operation_stats_by_tool_minute`,
		`operation_stats('2026-11-25 09:00Z', '2026-11-25 11:00Z', 'server')`,
		`operation_stats('2026-11-25 09:00Z', '2026-11-25 11:00Z', 'tool')`,
	} {
		var requests, errors string
		var rate, p50 float64
		require.NoError(t, testPool(t).QueryRow(ctx, `SELECT requests::text, errors::text, rate_per_s, p50_seconds FROM `+s+`.`+from+`
			WHERE metric_name = 'mcp.server.operation.duration'`).Scan(&requests, &errors, &rate, &p50), from)
		assert.Equal(t, []any{twice, "0", 18446744073709551614.0 / 60, 0.005}, []any{requests, errors, rate, p50}, from)
	}
}

// TestPromotedNumbersFollowOneRule maps mcp.router.attempt of every type
// and range: a whole number from 1 to 2^31-1 (int, double or decimal
// string) fills the column; anything else leaves it NULL and stays in the
// attributes as sent, counted per table and attribute.
func TestPromotedNumbersFollowOneRule(t *testing.T) {
	tests := []struct {
		name   string
		put    func(pcommon.Map)
		column any    // the attempt column
		kept   string // the attribute in the jsonb, "" when not there
	}{
		{"int", func(m pcommon.Map) { m.PutInt(mcpconv.Attempt, 2) }, int64(2), ""},
		{"whole double", func(m pcommon.Map) { m.PutDouble(mcpconv.Attempt, 2) }, int64(2), ""},
		{"decimal string", func(m pcommon.Map) { m.PutStr(mcpconv.Attempt, "3") }, int64(3), ""},
		{"largest", func(m pcommon.Map) { m.PutInt(mcpconv.Attempt, math.MaxInt32) }, int64(math.MaxInt32), ""},
		{"negative", func(m pcommon.Map) { m.PutInt(mcpconv.Attempt, -5) }, nil, `-5`},
		{"zero (attempts are 1-based)", func(m pcommon.Map) { m.PutInt(mcpconv.Attempt, 0) }, nil, `0`},
		{"above integer", func(m pcommon.Map) { m.PutInt(mcpconv.Attempt, 3_000_000_000) }, nil, `3000000000`},
		{"1e300", func(m pcommon.Map) { m.PutDouble(mcpconv.Attempt, 1e300) }, nil, `1e+300`},
		{"NaN", func(m pcommon.Map) { m.PutDouble(mcpconv.Attempt, math.NaN()) }, nil, `"NaN"`},
		{"infinity", func(m pcommon.Map) { m.PutDouble(mcpconv.Attempt, math.Inf(1)) }, nil, `"+Inf"`},
		{"fraction", func(m pcommon.Map) { m.PutDouble(mcpconv.Attempt, 2.5) }, nil, `2.5`},
		{"not a number", func(m pcommon.Map) { m.PutStr(mcpconv.Attempt, "second") }, nil, `"second"`},
		{"bool", func(m pcommon.Map) { m.PutBool(mcpconv.Attempt, true) }, nil, `true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td, spans := newTestTraces()
			span := spans.AppendEmpty()
			putRoutingSpan(span, testTraceID, testSpanID, testStart)
			tt.put(span.Attributes())
			var b rowBatch
			appendTraces(&b, td, &payloadOptions{})
			require.Len(t, b.rows[routingLog], 1, "the row is stored either way")
			row := byName(tables[routingLog], b.rows[routingLog][0])
			assert.Equal(t, tt.column, row["attempt"])
			attrs := string(row["attributes"].(json.RawMessage))
			if tt.kept == "" {
				assert.Equal(t, `{"tenant":"acme"}`, attrs)
				assert.Empty(t, b.notPromoted)
			} else {
				assert.Equal(t, `{"mcp.router.attempt":`+tt.kept+`,"tenant":"acme"}`, attrs)
				assert.Equal(t, map[notPromoted]int64{{table: "routing_log", attribute: mcpconv.Attempt}: 1}, b.notPromoted)
			}
		})
	}
}

// TestNumbersOutOfRangeAreStoredAndCounted writes spans and log events
// whose promoted numbers do not fit, and metric points whose counts do not
// fit bigint: the rows are stored with the column NULL and the value in
// attributes, the points are refused with their reason, and both are
// counted.
func TestNumbersOutOfRangeAreStoredAndCounted(t *testing.T) {
	ctx := context.Background()
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(ctx)) }()
	s := freshSchema("numbers")
	e := startDirectWith(t, s, tel.NewTelemetrySettings())
	pool := testPool(t)

	attempts := []func(pcommon.Map){
		func(m pcommon.Map) { m.PutDouble(mcpconv.Attempt, 1e300) },
		func(m pcommon.Map) { m.PutDouble(mcpconv.Attempt, math.NaN()) },
		func(m pcommon.Map) { m.PutInt(mcpconv.Attempt, -5) },
		func(m pcommon.Map) { m.PutInt(mcpconv.Attempt, 4) },
	}
	require.NoError(t, e.pushTraces(ctx, routingSpans(len(attempts), testStart, func(i int, span ptrace.Span) {
		attempts[i](span.Attributes())
	})))
	rows, err := pool.Query(ctx, `SELECT coalesce(attempt::text, 'NULL'), coalesce(attributes -> 'mcp.router.attempt', 'null')::text
		FROM `+s+`.routing_log ORDER BY span_id`)
	require.NoError(t, err)
	var got [][2]string
	for rows.Next() {
		var col, kept string
		require.NoError(t, rows.Scan(&col, &kept))
		got = append(got, [2]string{col, kept})
	}
	require.NoError(t, rows.Err())
	e300 := "1" + strings.Repeat("0", 300) // jsonb keeps the number exactly, as numeric
	assert.Equal(t, [][2]string{{"NULL", e300}, {"NULL", `"NaN"`}, {"NULL", "-5"}, {"4", "null"}}, got)

	ld, records := newTestLogs()
	br := putEvent(records, mcpconv.EventBreakerStateChange, "br-1", testStart)
	br.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
	br.Attributes().PutStr(mcpconv.BreakerToState, "open")
	br.Attributes().PutInt(mcpconv.BreakerFailureCount, -1)
	ss := putEvent(records, mcpconv.EventSessionStats, "", testStart)
	ss.Attributes().PutStr(mcpconv.SessionID, "sess-1")
	ss.Attributes().PutDouble(mcpconv.SessionRequestCount, 1e300)
	ss.Attributes().PutStr(mcpconv.SessionErrorCount, "7")
	for i, latency := range []func(pcommon.Map){
		func(m pcommon.Map) { m.PutDouble(mcpconv.HealthLatency, math.NaN()) },
		func(m pcommon.Map) { m.PutDouble(mcpconv.HealthLatency, -0.5) },
		func(m pcommon.Map) { m.PutDouble(mcpconv.HealthLatency, 1e300) },
		func(m pcommon.Map) { m.PutStr(mcpconv.HealthLatency, "0.25") },
	} {
		hc := putEvent(records, mcpconv.EventHealthCheck, "hc-"+strconv.Itoa(i), testStart)
		hc.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
		hc.Attributes().PutStr(mcpconv.HealthStatus, mcpconv.HealthHealthy)
		latency(hc.Attributes())
	}
	bad := putEvent(records, mcpconv.EventError, "err-1", testStart)
	bad.SetSeverityNumber(plog.SeverityNumber(40000)) // would wrap around in smallint
	require.NoError(t, e.pushLogs(ctx, ld))

	var failures, requests, errs, latencies string
	require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(failure_count::text, 'NULL') || ' ' || (attributes ->> 'mcp.router.circuit_breaker.failure_count')
		FROM `+s+`.circuit_breaker_event`).Scan(&failures))
	require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(request_count::text, 'NULL') || ' ' || (attributes ->> 'mcp.router.session.request_count'),
		error_count::text FROM `+s+`.session_record`).Scan(&requests, &errs))
	require.NoError(t, pool.QueryRow(ctx, `SELECT string_agg(coalesce(latency_us::text, 'NULL') || ' ' || coalesce(attributes ->> 'mcp.router.health.latency', '-'), ', ' ORDER BY event_id)
		FROM `+s+`.health_check_record`).Scan(&latencies))
	var severity *int16
	require.NoError(t, pool.QueryRow(ctx, `SELECT severity_number FROM `+s+`.error_log`).Scan(&severity))
	assert.Equal(t, []any{"NULL -1", "NULL " + e300, "7", "NULL NaN, NULL -0.5, NULL " + e300 + ", 250000 -", (*int16)(nil)},
		[]any{failures, requests, errs, latencies, severity})

	assert.Equal(t, map[string]int64{
		"routing_log/" + mcpconv.Attempt:                       3,
		"circuit_breaker_event/" + mcpconv.BreakerFailureCount: 1,
		"session_record/" + mcpconv.SessionRequestCount:        1,
		"health_check_record/" + mcpconv.HealthLatency:         3,
		"error_log/severity_number":                            1,
	}, notPromotedCounts(t, tel))

	// Metric counts above bigint refuse their point; the rest of the batch is stored.
	md, ms := newTestMetrics()
	putHistogram(ms, "ok", pmetric.AggregationTemporalityDelta, testStart, testStart.Add(time.Second), []uint64{1, 2, 3, 4}, 1, nil)
	putHistogram(ms, "count", pmetric.AggregationTemporalityDelta, testStart, testStart.Add(time.Second), []uint64{math.MaxUint64, 0, 0, 0}, 1, nil)
	putHistogram(ms, "bucket", pmetric.AggregationTemporalityDelta, testStart, testStart.Add(time.Second), []uint64{0, 0, 1 << 63, 0}, 1, nil)
	ms.At(2).Histogram().DataPoints().At(0).SetCount(1)
	exp := ms.AppendEmpty()
	exp.SetName("exp")
	ep := exp.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	ep.SetTimestamp(pcommon.NewTimestampFromTime(testStart))
	ep.SetZeroCount(1 << 63)
	sum := ms.AppendEmpty()
	sum.SetName("summary")
	sp := sum.SetEmptySummary().DataPoints().AppendEmpty()
	sp.SetTimestamp(pcommon.NewTimestampFromTime(testStart))
	sp.SetCount(math.MaxUint64)
	require.NoError(t, e.pushMetrics(ctx, md))
	assert.Equal(t, 1, tableCounts(t, s, "metric_point")["metric_point"])
	var reasons []string
	rows, err = pool.Query(ctx, `SELECT reason || ' | ' || (payload::jsonb ->> 'metric_name') FROM `+s+`.rejected_event
		WHERE target_table = 'metric_point' ORDER BY 1`)
	require.NoError(t, err)
	for rows.Next() {
		var r string
		require.NoError(t, rows.Scan(&r))
		reasons = append(reasons, r)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{
		"bucket_counts[3]: 9223372036854775808 does not fit bigint (at most 9223372036854775807) | bucket",
		"count: 18446744073709551615 does not fit bigint (at most 9223372036854775807) | count",
		"count: 18446744073709551615 does not fit bigint (at most 9223372036854775807) | summary",
		"exp_zero_count: 9223372036854775808 does not fit bigint (at most 9223372036854775807) | exp",
	}, reasons)
	var payloadCounts string
	require.NoError(t, pool.QueryRow(ctx, `SELECT payload::jsonb ->> 'bucket_counts' FROM `+s+`.rejected_event
		WHERE reason LIKE 'bucket_counts%'`).Scan(&payloadCounts))
	assert.Equal(t, "[0, 0, 9223372036854775808, 0]", payloadCounts, "the payload keeps the counts as sent")
	assert.Equal(t, map[string]int64{causeCountRange: 4}, sumsByAttr(t, tel, "otelcol_exporter_mcppg_rows_rejected", "cause"))
}

// notPromotedCounts is otelcol_exporter_mcppg_values_not_promoted by "table/attribute".
func notPromotedCounts(t *testing.T, tel *componenttest.Telemetry) map[string]int64 {
	t.Helper()
	m, err := tel.GetMetric("otelcol_exporter_mcppg_values_not_promoted")
	require.NoError(t, err)
	out := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		table, _ := dp.Attributes.Value("table")
		attr, _ := dp.Attributes.Value("attribute")
		out[table.AsString()+"/"+attr.AsString()] += dp.Value
	}
	return out
}
