package mcppgexporter

import (
	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

var metricPromoted = keySet(mcpconv.ServerKey, mcpconv.ToolName, mcpconv.MethodName)

// Values of metric_point.metric_type.
const (
	metricGauge        = "gauge"
	metricSum          = "sum"
	metricHistogram    = "histogram"
	metricExpHistogram = "exponential_histogram"
	metricSummary      = "summary"
)

// metricSeries is what every point of one metric shares.
type metricSeries struct {
	name        string
	kind        string
	unit        string
	temporality any
	monotonic   any
	res         resourceColumns
	seriesSeed  uint64 // hash of the resource and scope the series belongs to
}

// appendMetrics maps every data point onto one metric_point row.
func appendMetrics(b *rowBatch, md pmetric.Metrics) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		res := resourceColumnsOf(rm.Resource())
		resHash := mapHash(xxhash.New(), rm.Resource().Attributes())
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			h := xxhash.New()
			putUint64(h, resHash)
			_, _ = h.WriteString(sm.Scope().Name())
			scopeHash := h.Sum64()
			metrics := sm.Metrics()
			for k := 0; k < metrics.Len(); k++ {
				appendMetric(b, metrics.At(k), res, scopeHash)
			}
		}
	}
}

// addPoint adds a metric_point row, or refuses it when a count does not
// fit bigint: a count is never clamped.
func addPoint(b *rowBatch, row []any) {
	if reason := fitCounts(row); reason != "" {
		b.reject(metricPoint, causeCountRange, reason, rowPayload(tables[metricPoint].columns, row))
		return
	}
	b.add(metricPoint, row)
}

func appendMetric(b *rowBatch, m pmetric.Metric, res resourceColumns, scopeHash uint64) {
	s := metricSeries{name: m.Name(), unit: m.Unit(), res: res, seriesSeed: scopeHash}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		s.kind = metricGauge
		points := m.Gauge().DataPoints()
		for i := 0; i < points.Len(); i++ {
			addPoint(b, numberRow(s, points.At(i)))
		}
	case pmetric.MetricTypeSum:
		s.kind = metricSum
		s.temporality = temporalityText(m.Sum().AggregationTemporality())
		s.monotonic = m.Sum().IsMonotonic()
		points := m.Sum().DataPoints()
		for i := 0; i < points.Len(); i++ {
			addPoint(b, numberRow(s, points.At(i)))
		}
	case pmetric.MetricTypeHistogram:
		s.kind = metricHistogram
		s.temporality = temporalityText(m.Histogram().AggregationTemporality())
		points := m.Histogram().DataPoints()
		for i := 0; i < points.Len(); i++ {
			addPoint(b, histogramRow(s, points.At(i)))
		}
	case pmetric.MetricTypeExponentialHistogram:
		s.kind = metricExpHistogram
		s.temporality = temporalityText(m.ExponentialHistogram().AggregationTemporality())
		points := m.ExponentialHistogram().DataPoints()
		for i := 0; i < points.Len(); i++ {
			addPoint(b, expHistogramRow(s, points.At(i)))
		}
	case pmetric.MetricTypeSummary:
		s.kind = metricSummary
		points := m.Summary().DataPoints()
		for i := 0; i < points.Len(); i++ {
			addPoint(b, summaryRow(s, points.At(i)))
		}
	}
}

func temporalityText(t pmetric.AggregationTemporality) any {
	switch t {
	case pmetric.AggregationTemporalityCumulative:
		return "cumulative"
	case pmetric.AggregationTemporalityDelta:
		return "delta"
	}
	return nil
}

// pointValues are the columns that differ by metric type, in column order
// from value to quantile_values.
type pointValues struct {
	value, count, sum, min, max any
	bounds, counts              any
	expScale, expZero           any
	expPosOffset, expPosCounts  any
	expNegOffset, expNegCounts  any
	quantiles, quantileValues   any
}

// pointRow assembles a metric_point row.
func pointRow(s metricSeries, ts, start pcommon.Timestamp, attrs pcommon.Map, v pointValues) []any {
	var startTS any
	if start != 0 {
		startTS = timestampOf(start)
	}
	return []any{
		timestampOf(ts),
		s.name,
		seriesID(s, attrs),
		s.kind,
		s.temporality,
		s.monotonic,
		textOrNil(s.unit),
		startTS,
		v.value, v.count, v.sum, v.min, v.max,
		v.bounds, v.counts,
		v.expScale, v.expZero, v.expPosOffset, v.expPosCounts, v.expNegOffset, v.expNegCounts,
		v.quantiles, v.quantileValues,
		strOrNil(attrs, mcpconv.ServerKey),
		strOrNil(attrs, mcpconv.ToolName),
		strOrNil(attrs, mcpconv.MethodName),
		s.res.serviceName,
		s.res.serviceInstance,
		attributesJSON(attrs, metricPromoted),
	}
}

func numberRow(s metricSeries, p pmetric.NumberDataPoint) []any {
	var v pointValues
	if !p.Flags().NoRecordedValue() {
		switch p.ValueType() {
		case pmetric.NumberDataPointValueTypeDouble:
			v.value = p.DoubleValue()
		case pmetric.NumberDataPointValueTypeInt:
			v.value = float64(p.IntValue())
		}
	}
	return pointRow(s, p.Timestamp(), p.StartTimestamp(), p.Attributes(), v)
}

// The row builders leave counts as uint64 (and []uint64); addPoint
// converts them to bigint once it knows they fit.

func histogramRow(s metricSeries, p pmetric.HistogramDataPoint) []any {
	v := pointValues{count: p.Count()}
	if p.HasSum() {
		v.sum = p.Sum()
	}
	if p.HasMin() {
		v.min = p.Min()
	}
	if p.HasMax() {
		v.max = p.Max()
	}
	v.bounds = p.ExplicitBounds().AsRaw()
	v.counts = p.BucketCounts().AsRaw()
	return pointRow(s, p.Timestamp(), p.StartTimestamp(), p.Attributes(), v)
}

func expHistogramRow(s metricSeries, p pmetric.ExponentialHistogramDataPoint) []any {
	v := pointValues{count: p.Count()}
	if p.HasSum() {
		v.sum = p.Sum()
	}
	if p.HasMin() {
		v.min = p.Min()
	}
	if p.HasMax() {
		v.max = p.Max()
	}
	v.expScale = p.Scale()
	v.expZero = p.ZeroCount()
	v.expPosOffset = p.Positive().Offset()
	v.expPosCounts = p.Positive().BucketCounts().AsRaw()
	v.expNegOffset = p.Negative().Offset()
	v.expNegCounts = p.Negative().BucketCounts().AsRaw()
	return pointRow(s, p.Timestamp(), p.StartTimestamp(), p.Attributes(), v)
}

func summaryRow(s metricSeries, p pmetric.SummaryDataPoint) []any {
	v := pointValues{count: p.Count(), sum: p.Sum()}
	qs := p.QuantileValues()
	quantiles := make([]float64, qs.Len())
	values := make([]float64, qs.Len())
	for i := range quantiles {
		quantiles[i] = qs.At(i).Quantile()
		values[i] = qs.At(i).Value()
	}
	v.quantiles, v.quantileValues = quantiles, values
	return pointRow(s, p.Timestamp(), p.StartTimestamp(), p.Attributes(), v)
}

// seriesID identifies a time series: metric, resource, scope and point
// attributes. With ts it is the natural key of a point.
func seriesID(s metricSeries, attrs pcommon.Map) int64 {
	h := xxhash.New()
	putUint64(h, s.seriesSeed)
	_, _ = h.WriteString(s.name)
	putUint64(h, mapHash(xxhash.New(), attrs))
	return int64(h.Sum64())
}

// mapHash hashes a map independently of its key order.
func mapHash(h *xxhash.Digest, m pcommon.Map) uint64 {
	var sum uint64
	m.Range(func(k string, v pcommon.Value) bool {
		h.Reset()
		_, _ = h.WriteString(k)
		_, _ = h.Write([]byte{0})
		_, _ = h.WriteString(v.AsString())
		sum += h.Sum64() // order-independent combination
		return true
	})
	return sum
}

func putUint64(h *xxhash.Digest, n uint64) {
	var buf [8]byte
	for i := range buf {
		buf[i] = byte(n >> (8 * i))
	}
	_, _ = h.Write(buf[:])
}
