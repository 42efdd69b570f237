package mcppgexporter

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

func newTestMetrics() (pmetric.Metrics, pmetric.MetricSlice) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(mcpconv.ServiceName, "mcp-router")
	rm.Resource().Attributes().PutStr(mcpconv.ServiceInstanceID, "router-1")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("mcp-router")
	return md, sm.Metrics()
}

// putHistogram appends one histogram point over bounds 10 ms, 100 ms, 1 s.
func putHistogram(ms pmetric.MetricSlice, name string, temporality pmetric.AggregationTemporality, start, ts time.Time,
	buckets []uint64, sum float64, attrs map[string]string,
) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetUnit("s")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(temporality)
	p := h.DataPoints().AppendEmpty()
	p.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	p.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	p.ExplicitBounds().FromRaw([]float64{0.01, 0.1, 1})
	p.BucketCounts().FromRaw(buckets)
	var count uint64
	for _, c := range buckets {
		count += c
	}
	p.SetCount(count)
	p.SetSum(sum)
	for k, v := range attrs {
		p.Attributes().PutStr(k, v)
	}
}

func TestMetricRows(t *testing.T) {
	md, ms := newTestMetrics()
	putHistogram(ms, mcpconv.MetricClientOperationDuration, pmetric.AggregationTemporalityCumulative,
		testStart, testStart.Add(time.Minute), []uint64{2, 6, 2, 0}, 1.0,
		map[string]string{mcpconv.ServerKey: "weather-1", mcpconv.ToolName: "get_weather", mcpconv.ErrorType: "timeout"})
	g := ms.AppendEmpty()
	g.SetName(mcpconv.MetricPoolConnections)
	gp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	gp.SetTimestamp(pcommon.NewTimestampFromTime(testStart))
	gp.SetIntValue(7)
	gp.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
	gp.Attributes().PutStr(mcpconv.PoolState, "active")
	s := ms.AppendEmpty()
	s.SetName("process.cpu.time")
	sum := s.SetEmptySum()
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	sum.SetIsMonotonic(true)
	sp := sum.DataPoints().AppendEmpty()
	sp.SetTimestamp(pcommon.NewTimestampFromTime(testStart))
	sp.SetDoubleValue(1.5)
	e := ms.AppendEmpty()
	e.SetName("rpc.latency")
	ep := e.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	ep.SetTimestamp(pcommon.NewTimestampFromTime(testStart))
	ep.SetScale(3)
	ep.SetZeroCount(1)
	ep.SetCount(4)
	ep.Positive().SetOffset(-2)
	ep.Positive().BucketCounts().FromRaw([]uint64{1, 2})
	q := ms.AppendEmpty()
	q.SetName("gc.pause")
	qp := q.SetEmptySummary().DataPoints().AppendEmpty()
	qp.SetTimestamp(pcommon.NewTimestampFromTime(testStart))
	qp.SetCount(3)
	qp.SetSum(0.3)
	qv := qp.QuantileValues().AppendEmpty()
	qv.SetQuantile(0.99)
	qv.SetValue(0.2)

	var b rowBatch
	appendMetrics(&b, md)
	rows := b.rows[metricPoint]
	require.Len(t, rows, 5)
	// series_id is a hash: check it apart, then compare the rest whole.
	seriesID := tables[metricPoint].index("series_id")
	seriesIDs := map[int64]bool{}
	for _, r := range rows {
		seriesIDs[r[seriesID].(int64)] = true
		r[seriesID] = nil
	}
	assert.Len(t, seriesIDs, 5)
	end := testStart.Add(time.Minute)
	assert.Equal(t, map[string]any{
		"ts":                  end,
		"metric_name":         "mcp.client.operation.duration",
		"series_id":           nil,
		"metric_type":         "histogram",
		"temporality":         "cumulative",
		"is_monotonic":        nil,
		"unit":                "s",
		"start_ts":            testStart,
		"value":               nil,
		"count":               int64(10),
		"sum":                 1.0,
		"min":                 nil,
		"max":                 nil,
		"bucket_bounds":       []float64{0.01, 0.1, 1},
		"bucket_counts":       []int64{2, 6, 2, 0},
		"exp_scale":           nil,
		"exp_zero_count":      nil,
		"exp_positive_offset": nil,
		"exp_positive_counts": nil,
		"exp_negative_offset": nil,
		"exp_negative_counts": nil,
		"quantiles":           nil,
		"quantile_values":     nil,
		"server_key":          "weather-1",
		"tool_name":           "get_weather",
		"method":              nil,
		"service_name":        "mcp-router",
		"service_instance":    "router-1",
		"attributes":          json.RawMessage(`{"error.type":"timeout"}`),
	}, byName(tables[metricPoint], rows[0]))
	assert.Equal(t, map[string]any{
		"ts":                  testStart,
		"metric_name":         "mcp.router.pool.connections",
		"series_id":           nil,
		"metric_type":         "gauge",
		"temporality":         nil,
		"is_monotonic":        nil,
		"unit":                nil,
		"start_ts":            nil,
		"value":               7.0,
		"count":               nil,
		"sum":                 nil,
		"min":                 nil,
		"max":                 nil,
		"bucket_bounds":       nil,
		"bucket_counts":       nil,
		"exp_scale":           nil,
		"exp_zero_count":      nil,
		"exp_positive_offset": nil,
		"exp_positive_counts": nil,
		"exp_negative_offset": nil,
		"exp_negative_counts": nil,
		"quantiles":           nil,
		"quantile_values":     nil,
		"server_key":          "weather-1",
		"tool_name":           nil,
		"method":              nil,
		"service_name":        "mcp-router",
		"service_instance":    "router-1",
		"attributes":          json.RawMessage(`{"mcp.router.pool.state":"active"}`),
	}, byName(tables[metricPoint], rows[1]))
	assert.Equal(t, map[string]any{
		"ts":                  testStart,
		"metric_name":         "process.cpu.time",
		"series_id":           nil,
		"metric_type":         "sum",
		"temporality":         "delta",
		"is_monotonic":        true,
		"unit":                nil,
		"start_ts":            nil,
		"value":               1.5,
		"count":               nil,
		"sum":                 nil,
		"min":                 nil,
		"max":                 nil,
		"bucket_bounds":       nil,
		"bucket_counts":       nil,
		"exp_scale":           nil,
		"exp_zero_count":      nil,
		"exp_positive_offset": nil,
		"exp_positive_counts": nil,
		"exp_negative_offset": nil,
		"exp_negative_counts": nil,
		"quantiles":           nil,
		"quantile_values":     nil,
		"server_key":          nil,
		"tool_name":           nil,
		"method":              nil,
		"service_name":        "mcp-router",
		"service_instance":    "router-1",
		"attributes":          nil,
	}, byName(tables[metricPoint], rows[2]))
	assert.Equal(t, map[string]any{
		"ts":                  testStart,
		"metric_name":         "rpc.latency",
		"series_id":           nil,
		"metric_type":         "exponential_histogram",
		"temporality":         nil,
		"is_monotonic":        nil,
		"unit":                nil,
		"start_ts":            nil,
		"value":               nil,
		"count":               int64(4),
		"sum":                 nil,
		"min":                 nil,
		"max":                 nil,
		"bucket_bounds":       nil,
		"bucket_counts":       nil,
		"exp_scale":           int32(3),
		"exp_zero_count":      int64(1),
		"exp_positive_offset": int32(-2),
		"exp_positive_counts": []int64{1, 2},
		"exp_negative_offset": int32(0),
		"exp_negative_counts": []int64{},
		"quantiles":           nil,
		"quantile_values":     nil,
		"server_key":          nil,
		"tool_name":           nil,
		"method":              nil,
		"service_name":        "mcp-router",
		"service_instance":    "router-1",
		"attributes":          nil,
	}, byName(tables[metricPoint], rows[3]))
	assert.Equal(t, map[string]any{
		"ts":                  testStart,
		"metric_name":         "gc.pause",
		"series_id":           nil,
		"metric_type":         "summary",
		"temporality":         nil,
		"is_monotonic":        nil,
		"unit":                nil,
		"start_ts":            nil,
		"value":               nil,
		"count":               int64(3),
		"sum":                 0.3,
		"min":                 nil,
		"max":                 nil,
		"bucket_bounds":       nil,
		"bucket_counts":       nil,
		"exp_scale":           nil,
		"exp_zero_count":      nil,
		"exp_positive_offset": nil,
		"exp_positive_counts": nil,
		"exp_negative_offset": nil,
		"exp_negative_counts": nil,
		"quantiles":           []float64{0.99},
		"quantile_values":     []float64{0.2},
		"server_key":          nil,
		"tool_name":           nil,
		"method":              nil,
		"service_name":        "mcp-router",
		"service_instance":    "router-1",
		"attributes":          nil,
	}, byName(tables[metricPoint], rows[4]))
}

func TestSeriesIDIgnoresAttributeOrder(t *testing.T) {
	series := metricSeries{name: "m", seriesSeed: 42}
	a := pcommon.NewMap()
	a.PutStr("x", "1")
	a.PutStr("y", "2")
	b := pcommon.NewMap()
	b.PutStr("y", "2")
	b.PutStr("x", "1")
	assert.Equal(t, seriesID(&series, a), seriesID(&series, b))
	b.PutStr("y", "3")
	assert.NotEqual(t, seriesID(&series, a), seriesID(&series, b))
}

// opStats is one row of operation_stats.
type opStats struct {
	Bucket           time.Time
	Requests, Errors int64
	Rate             float64
	ErrorRate, Avg   *float64
	P50, P95, P99    *float64
}

func round(f *float64) *float64 {
	if f == nil {
		return nil
	}
	r := math.Round(*f*1e9) / 1e9
	return &r
}

// TestOperationStatsFromKnownHistograms feeds a cumulative series with a
// counter reset and a delta series of failures, and checks the per-minute
// numbers of operation_stats against values worked out by hand.
func TestOperationStatsFromKnownHistograms(t *testing.T) {
	ctx := context.Background()
	e := startDirect(t, "metric_views")
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	server := map[string]string{mcpconv.ServerKey: "weather-1"}
	cumulative := pmetric.AggregationTemporalityCumulative
	md, ms := newTestMetrics()
	putHistogram(ms, mcpconv.MetricClientOperationDuration, cumulative, t0, t0.Add(30*time.Second), []uint64{2, 6, 2, 0}, 1.0, server)
	putHistogram(ms, mcpconv.MetricClientOperationDuration, cumulative, t0, t0.Add(90*time.Second), []uint64{4, 20, 6, 0}, 3.0, server)
	// The router restarted at t0+120s: a new start time, counts from zero.
	putHistogram(ms, mcpconv.MetricClientOperationDuration, cumulative, t0.Add(120*time.Second), t0.Add(150*time.Second), []uint64{0, 0, 5, 0}, 2.5, server)
	putHistogram(ms, mcpconv.MetricClientOperationDuration, pmetric.AggregationTemporalityDelta, t0.Add(60*time.Second), t0.Add(100*time.Second),
		[]uint64{0, 0, 0, 2}, 4.0, map[string]string{mcpconv.ServerKey: "weather-1", mcpconv.ErrorType: "timeout"})
	require.NoError(t, e.pushMetrics(ctx, md))

	f := func(v float64) *float64 { return &v }
	want := []opStats{
		{Bucket: t0, Requests: 10, Errors: 0, Rate: 10.0 / 60, ErrorRate: f(0), Avg: f(0.1), P50: f(0.055), P95: f(0.1 + 0.9*1.5/2), P99: f(0.955)},
		{Bucket: t0.Add(time.Minute), Requests: 22, Errors: 2, Rate: 22.0 / 60, ErrorRate: f(2.0 / 22), Avg: f(6.0 / 22),
			P50: f(0.01 + 0.09*9/14), P95: f(1), P99: f(1)},
		{Bucket: t0.Add(2 * time.Minute), Requests: 5, Errors: 0, Rate: 5.0 / 60, ErrorRate: f(0), Avg: f(0.5), P50: f(0.55), P95: f(0.1 + 0.9*4.75/5), P99: f(0.1 + 0.9*4.95/5)},
	}
	query := func(sql string, args ...any) []opStats {
		rows, err := testPool(t).Query(ctx, sql, args...)
		require.NoError(t, err)
		defer rows.Close()
		var out []opStats
		for rows.Next() {
			var s opStats
			require.NoError(t, rows.Scan(&s.Bucket, &s.Requests, &s.Errors, &s.Rate, &s.ErrorRate, &s.Avg, &s.P50, &s.P95, &s.P99))
			s.Bucket = s.Bucket.UTC()
			s.Rate = *round(&s.Rate)
			s.ErrorRate, s.Avg, s.P50, s.P95, s.P99 = round(s.ErrorRate), round(s.Avg), round(s.P50), round(s.P95), round(s.P99)
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		return out
	}
	for i := range want {
		w := &want[i]
		w.Rate = *round(&w.Rate)
		w.ErrorRate, w.Avg, w.P50, w.P95, w.P99 = round(w.ErrorRate), round(w.Avg), round(w.P50), round(w.P95), round(w.P99)
	}
	const cols = `bucket_start, requests, errors, rate_per_s, error_rate, avg_seconds, p50_seconds, p95_seconds, p99_seconds`
	assert.Equal(t, want, query(`SELECT `+cols+` FROM metric_views.operation_stats_by_server_minute
		WHERE metric_name = 'mcp.client.operation.duration' AND group_key = 'weather-1' ORDER BY 1`))
	// The same numbers from a time range that starts after the series began:
	// its first point in range is measured against the one before it.
	assert.Equal(t, want[1:], query(`SELECT `+cols+` FROM metric_views.operation_stats($1, $2, 'server')
		WHERE metric_name = 'mcp.client.operation.duration' AND group_key = 'weather-1' ORDER BY 1`,
		t0.Add(time.Minute), t0.Add(3*time.Minute)))
}

func TestPoolConnectionsView(t *testing.T) {
	ctx := context.Background()
	e := startDirect(t, "pool_view")
	md, ms := newTestMetrics()
	g := ms.AppendEmpty()
	g.SetName(mcpconv.MetricPoolConnections)
	points := g.SetEmptyGauge().DataPoints()
	for i, v := range []int64{4, 8, 6} {
		gp := points.AppendEmpty()
		gp.SetTimestamp(pcommon.NewTimestampFromTime(testStart.Add(time.Duration(i) * 10 * time.Second)))
		gp.SetIntValue(v)
		gp.Attributes().PutStr(mcpconv.ServerKey, "weather-1")
		gp.Attributes().PutStr(mcpconv.PoolState, "active")
	}
	require.NoError(t, e.pushMetrics(ctx, md))
	var state string
	var avg, lo, hi float64
	var samples int64
	require.NoError(t, testPool(t).QueryRow(ctx, `SELECT state, avg_connections, min_connections, max_connections, samples
		FROM pool_view.pool_connections_minute WHERE server_key = 'weather-1'`).Scan(&state, &avg, &lo, &hi, &samples))
	assert.Equal(t, []any{"active", 6.0, 4.0, 8.0, int64(3)}, []any{state, avg, lo, hi, samples})
}
