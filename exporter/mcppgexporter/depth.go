package mcppgexporter

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// protoRecursionLimit is the nesting pdata's protobuf decoder accepts
// (pdata v1.71 internal/proto.RecursionLimit): each attribute (KeyValue),
// value (AnyValue) and kvlist or array inside it is one level. The
// persistent queue stores requests as protobuf and reads them back with that
// decoder, so a value nested deeper - which OTLP/JSON accepts - would be
// acknowledged and then fail to come out of the queue, the whole request
// with it. The exporter refuses such a request before the queue takes it.
const protoRecursionLimit = 100

// tooDeep names the first value nested deeper than the queue can carry.
type tooDeep struct {
	where string // e.g. span "tools/call" attribute "a"
}

func (e *tooDeep) Error() string {
	return fmt.Sprintf("%s is nested deeper than OTLP protobuf allows (%d levels of attributes, values, maps and arrays); the request is refused before it is queued", e.where, protoRecursionLimit)
}

// attributesTooDeep checks a map whose attributes are decoded at depth d
// (0 for the attributes of a span, log record, data point, resource, scope).
func attributesTooDeep(m pcommon.Map, d int) (string, bool) {
	var bad string
	m.Range(func(k string, v pcommon.Value) bool {
		if d >= protoRecursionLimit || valueTooDeep(v, d+1) {
			bad = k
			return false
		}
		return true
	})
	return bad, bad != ""
}

// valueTooDeep checks a value decoded at depth d.
func valueTooDeep(v pcommon.Value, d int) bool {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		if d+1 >= protoRecursionLimit {
			return true
		}
		_, deep := attributesTooDeep(v.Map(), d+2)
		return deep
	case pcommon.ValueTypeSlice:
		if d+1 >= protoRecursionLimit {
			return true
		}
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			if valueTooDeep(s.At(i), d+2) {
				return true
			}
		}
	}
	return d >= protoRecursionLimit
}

// checkAttributes names what holds m only when m is too deep: the check
// runs on every item and allocates nothing otherwise.
func checkAttributes(m pcommon.Map, what func() string) error {
	if k, deep := attributesTooDeep(m, 0); deep {
		return &tooDeep{where: fmt.Sprintf("%s attribute %q", what(), k)}
	}
	return nil
}

func named(s string) func() string { return func() string { return s } }

func checkTracesDepth(td ptrace.Traces) error {
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		// Once per resource, also when it has no scope: the queue stores it.
		if err := checkAttributes(rs.Resource().Attributes(), named("resource")); err != nil {
			return err
		}
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			if err := checkAttributes(ss.Scope().Attributes(), named("scope")); err != nil {
				return err
			}
			for k := 0; k < ss.Spans().Len(); k++ {
				span := ss.Spans().At(k)
				what := func() string { return fmt.Sprintf("span %q", span.Name()) }
				if err := checkAttributes(span.Attributes(), what); err != nil {
					return err
				}
				for e := 0; e < span.Events().Len(); e++ {
					if err := checkAttributes(span.Events().At(e).Attributes(), func() string { return what() + " event" }); err != nil {
						return err
					}
				}
				for l := 0; l < span.Links().Len(); l++ {
					if err := checkAttributes(span.Links().At(l).Attributes(), func() string { return what() + " link" }); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func checkLogsDepth(ld plog.Logs) error {
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		if err := checkAttributes(rl.Resource().Attributes(), named("resource")); err != nil {
			return err
		}
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			if err := checkAttributes(sl.Scope().Attributes(), named("scope")); err != nil {
				return err
			}
			for k := 0; k < sl.LogRecords().Len(); k++ {
				lr := sl.LogRecords().At(k)
				what := func() string { return fmt.Sprintf("log record %q", lr.EventName()) }
				if err := checkAttributes(lr.Attributes(), what); err != nil {
					return err
				}
				if valueTooDeep(lr.Body(), 0) {
					return &tooDeep{where: what() + " body"}
				}
			}
		}
	}
	return nil
}

func checkMetricsDepth(md pmetric.Metrics) error {
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		if err := checkAttributes(rm.Resource().Attributes(), named("resource")); err != nil {
			return err
		}
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			sm := rm.ScopeMetrics().At(j)
			if err := checkAttributes(sm.Scope().Attributes(), named("scope")); err != nil {
				return err
			}
			for k := 0; k < sm.Metrics().Len(); k++ {
				if err := checkMetricDepth(sm.Metrics().At(k)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func checkMetricDepth(m pmetric.Metric) error {
	if err := checkAttributes(m.Metadata(), func() string { return fmt.Sprintf("metric %q metadata", m.Name()) }); err != nil {
		return err
	}
	what := func() string { return fmt.Sprintf("metric %q point", m.Name()) }
	point := func(attrs pcommon.Map, exemplars pmetric.ExemplarSlice) error {
		if err := checkAttributes(attrs, what); err != nil {
			return err
		}
		for i := 0; i < exemplars.Len(); i++ {
			if err := checkAttributes(exemplars.At(i).FilteredAttributes(), func() string { return what() + " exemplar" }); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for i, pts := 0, m.Gauge().DataPoints(); i < pts.Len() && err == nil; i++ {
			err = point(pts.At(i).Attributes(), pts.At(i).Exemplars())
		}
	case pmetric.MetricTypeSum:
		for i, pts := 0, m.Sum().DataPoints(); i < pts.Len() && err == nil; i++ {
			err = point(pts.At(i).Attributes(), pts.At(i).Exemplars())
		}
	case pmetric.MetricTypeHistogram:
		for i, pts := 0, m.Histogram().DataPoints(); i < pts.Len() && err == nil; i++ {
			err = point(pts.At(i).Attributes(), pts.At(i).Exemplars())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for i, pts := 0, m.ExponentialHistogram().DataPoints(); i < pts.Len() && err == nil; i++ {
			err = point(pts.At(i).Attributes(), pts.At(i).Exemplars())
		}
	case pmetric.MetricTypeSummary:
		for i, pts := 0, m.Summary().DataPoints(); i < pts.Len() && err == nil; i++ {
			err = checkAttributes(pts.At(i).Attributes(), what)
		}
	}
	return err
}
