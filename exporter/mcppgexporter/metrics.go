package mcppgexporter

import (
	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

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

// pointItem is a data point, the item of a metric_point row; attrs are
// the point's attributes.
type pointItem struct {
	item
	series    metricSeries
	ts, start pcommon.Timestamp
	v         pointValues
}

// appendMetrics maps every data point onto one metric_point row.
func appendMetrics(b *rowBatch, md pmetric.Metrics) {
	p := &pointItem{item: item{origin: fromPoint, p: promoter{b: b}}} // for every point of the batch
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
				appendMetric(b, p, metrics.At(k), res, scopeHash)
			}
		}
	}
}

// addPoint adds the metric_point row of p, or refuses it when a count
// does not fit bigint: a count is never clamped.
func addPoint(b *rowBatch, p *pointItem) {
	row := metricPointTable.row(p, &p.item)
	if reason := fitCounts(row); reason != "" {
		b.reject(metricPoint, causeCountRange, reason, rowPayload(metricPointTable.columns, row))
		return
	}
	b.add(metricPoint, row)
}

func appendMetric(b *rowBatch, p *pointItem, m pmetric.Metric, res resourceColumns, scopeHash uint64) {
	p.series = metricSeries{name: m.Name(), unit: m.Unit(), res: res, seriesSeed: scopeHash}
	s := &p.series
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		s.kind = metricGauge
		points := m.Gauge().DataPoints()
		for i := 0; i < points.Len(); i++ {
			addPoint(b, numberPoint(p, points.At(i)))
		}
	case pmetric.MetricTypeSum:
		s.kind = metricSum
		s.temporality = temporalityText(m.Sum().AggregationTemporality())
		s.monotonic = m.Sum().IsMonotonic()
		points := m.Sum().DataPoints()
		for i := 0; i < points.Len(); i++ {
			addPoint(b, numberPoint(p, points.At(i)))
		}
	case pmetric.MetricTypeHistogram:
		s.kind = metricHistogram
		s.temporality = temporalityText(m.Histogram().AggregationTemporality())
		points := m.Histogram().DataPoints()
		for i := 0; i < points.Len(); i++ {
			addPoint(b, histogramPoint(p, points.At(i)))
		}
	case pmetric.MetricTypeExponentialHistogram:
		s.kind = metricExpHistogram
		s.temporality = temporalityText(m.ExponentialHistogram().AggregationTemporality())
		points := m.ExponentialHistogram().DataPoints()
		for i := 0; i < points.Len(); i++ {
			addPoint(b, expHistogramPoint(p, points.At(i)))
		}
	case pmetric.MetricTypeSummary:
		s.kind = metricSummary
		points := m.Summary().DataPoints()
		for i := 0; i < points.Len(); i++ {
			addPoint(b, summaryPoint(p, points.At(i)))
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

// pointValues are the columns that differ by metric type, from value to
// quantile_values.
type pointValues struct {
	value, count, sum, min, max any
	bounds, counts              any
	expScale, expZero           any
	expPosOffset, expPosCounts  any
	expNegOffset, expNegCounts  any
	quantiles, quantileValues   any
}

// at sets what every point has.
func (p *pointItem) at(ts, start pcommon.Timestamp, attrs pcommon.Map, v pointValues) *pointItem {
	p.ts, p.start, p.attrs, p.v = ts, start, attrs, v
	return p
}

func numberPoint(p *pointItem, dp pmetric.NumberDataPoint) *pointItem {
	var v pointValues
	if !dp.Flags().NoRecordedValue() {
		switch dp.ValueType() {
		case pmetric.NumberDataPointValueTypeDouble:
			v.value = dp.DoubleValue()
		case pmetric.NumberDataPointValueTypeInt:
			v.value = float64(dp.IntValue())
		}
	}
	return p.at(dp.Timestamp(), dp.StartTimestamp(), dp.Attributes(), v)
}

// The points leave counts as uint64 (and []uint64); addPoint converts them
// to bigint once it knows they fit.

func histogramPoint(p *pointItem, dp pmetric.HistogramDataPoint) *pointItem {
	v := pointValues{count: dp.Count()}
	if dp.HasSum() {
		v.sum = dp.Sum()
	}
	if dp.HasMin() {
		v.min = dp.Min()
	}
	if dp.HasMax() {
		v.max = dp.Max()
	}
	v.bounds = dp.ExplicitBounds().AsRaw()
	v.counts = dp.BucketCounts().AsRaw()
	return p.at(dp.Timestamp(), dp.StartTimestamp(), dp.Attributes(), v)
}

func expHistogramPoint(p *pointItem, dp pmetric.ExponentialHistogramDataPoint) *pointItem {
	v := pointValues{count: dp.Count()}
	if dp.HasSum() {
		v.sum = dp.Sum()
	}
	if dp.HasMin() {
		v.min = dp.Min()
	}
	if dp.HasMax() {
		v.max = dp.Max()
	}
	v.expScale = dp.Scale()
	v.expZero = dp.ZeroCount()
	v.expPosOffset = dp.Positive().Offset()
	v.expPosCounts = dp.Positive().BucketCounts().AsRaw()
	v.expNegOffset = dp.Negative().Offset()
	v.expNegCounts = dp.Negative().BucketCounts().AsRaw()
	return p.at(dp.Timestamp(), dp.StartTimestamp(), dp.Attributes(), v)
}

func summaryPoint(p *pointItem, dp pmetric.SummaryDataPoint) *pointItem {
	v := pointValues{count: dp.Count(), sum: dp.Sum()}
	qs := dp.QuantileValues()
	quantiles := make([]float64, qs.Len())
	values := make([]float64, qs.Len())
	for i := range quantiles {
		quantiles[i] = qs.At(i).Quantile()
		values[i] = qs.At(i).Value()
	}
	v.quantiles, v.quantileValues = quantiles, values
	return p.at(dp.Timestamp(), dp.StartTimestamp(), dp.Attributes(), v)
}

// seriesID identifies a time series: metric, resource, scope and point
// attributes. With ts it is the natural key of a point.
func seriesID(s *metricSeries, attrs pcommon.Map) int64 {
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
