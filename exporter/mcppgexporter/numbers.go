package mcppgexporter

import (
	"math"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The rule for numbers promoted from attributes to columns (attempt,
// failure_count, request_count, error_count, latency_us), and for a log
// record's severity number: a value fills its column only when it is a
// number of the column's kind and range - an int, a double or a decimal
// string; for an integer column a whole number - inside the range the
// column means (an attempt is 1-based, a count is not negative, a latency
// is a finite number of seconds not below 0). Otherwise the column is NULL,
// the attribute stays in the row's attributes jsonb exactly as sent (a NaN
// or infinity as the string the jsonb rule makes of it), and the value is
// counted in otelcol_exporter_mcppg_values_not_promoted. The row is stored
// either way. Metric counts are not attributes: a count above bigint
// refuses its point (fitCounts).

// Ranges of the promoted integer columns.
var (
	attemptRange = [2]int64{1, math.MaxInt32} // attempt integer: 1-based
	countRange   = [2]int64{0, math.MaxInt64} // counters, bigint
)

// notPromoted is one kind of value kept out of its column.
type notPromoted struct {
	table     string
	attribute string
}

// promoter reads the promoted numbers of one row and remembers which
// attributes did not fit: they stay in the row's attributes. Each item
// holds one, reset for every row (tableSpec.row).
type promoter struct {
	b     *rowBatch
	table string // the name of the row's table
	kept  []string
}

func (p *promoter) reject(key string) {
	p.kept = append(p.kept, key)
	if p.b.notPromoted == nil {
		p.b.notPromoted = map[notPromoted]int64{}
	}
	p.b.notPromoted[notPromoted{table: p.table, attribute: key}]++
}

// integer returns attribute key as an integer of the range, nil when it is
// absent or does not fit (then it is kept and counted).
func (p *promoter) integer(m pcommon.Map, key string, bounds [2]int64) any {
	v, ok := m.Get(key)
	if !ok {
		return nil
	}
	n, ok := wholeNumber(v)
	if !ok || n < bounds[0] || n > bounds[1] {
		p.reject(key)
		return nil
	}
	return n
}

// wholeNumber reads an int, a double with no fraction or a decimal integer
// string.
func wholeNumber(v pcommon.Value) (int64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int(), true
	case pcommon.ValueTypeDouble:
		f := v.Double()
		// 2^63 is exact as a float64; NaN fails every comparison.
		if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
			return int64(f), true
		}
	case pcommon.ValueTypeStr:
		if n, err := strconv.ParseInt(v.Str(), 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// micros returns a duration attribute in seconds as whole microseconds
// (rounded), nil when absent or not a finite, non-negative number of
// seconds that fits bigint microseconds (then it is kept and counted).
func (p *promoter) micros(m pcommon.Map, key string) any {
	v, ok := m.Get(key)
	if !ok {
		return nil
	}
	var s float64
	switch v.Type() {
	case pcommon.ValueTypeDouble:
		s = v.Double()
	case pcommon.ValueTypeInt:
		s = float64(v.Int())
	case pcommon.ValueTypeStr:
		f, err := strconv.ParseFloat(v.Str(), 64)
		if err != nil {
			p.reject(key)
			return nil
		}
		s = f
	default:
		p.reject(key)
		return nil
	}
	us := math.Round(s * 1e6)
	if !(us >= 0 && us < 1<<63) { // NaN and infinities fail too
		p.reject(key)
		return nil
	}
	return int64(us)
}

// severity returns a log record's severity number for the smallint column:
// 1 to 24 as OTLP defines them, nil when unspecified; any other number is
// counted (it has no attribute to stay in; severity_text keeps the name).
func (p *promoter) severity(n int32) any {
	switch {
	case n == 0:
		return nil
	case n < 1 || n > 24:
		p.reject("severity_number")
		return nil
	}
	return int16(n)
}

// fitCounts converts the uint64 counts of a metric_point row to bigint, or
// says which one does not fit: such a point is refused, not clamped.
func fitCounts(row []any) string {
	cols := tables[metricPoint].columns
	for i, v := range row {
		switch v := v.(type) {
		case uint64:
			if v > math.MaxInt64 {
				return cols[i] + ": " + strconv.FormatUint(v, 10) + " does not fit bigint (at most 9223372036854775807)"
			}
			row[i] = int64(v)
		case []uint64:
			out := make([]int64, len(v))
			for j, n := range v {
				if n > math.MaxInt64 {
					return cols[i] + "[" + strconv.Itoa(j+1) + "]: " + strconv.FormatUint(n, 10) +
						" does not fit bigint (at most 9223372036854775807)"
				}
				out[j] = int64(n)
			}
			row[i] = out
		}
	}
	return ""
}
