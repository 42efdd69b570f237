package mcpnormalizer

import (
	"context"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

type metricsProcessor struct {
	n      *normalizer
	counts *rewriteCounts
}

func (p *metricsProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	var counts batchCounts
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			d := p.n.forScope(sm.Scope())
			metrics := sm.Metrics()
			for k := 0; k < metrics.Len(); k++ {
				counts.add(p.n.metric(metrics.At(k), d))
			}
		}
	}
	p.counts.record(ctx, counts)
	return md, nil
}

// metric normalizes one metric: the configured renames on its data points,
// the rules of its scope's dialect, then the unit of the MCP duration
// histograms. It returns the name of what changed the metric.
func (n *normalizer) metric(m pmetric.Metric, d *dialect) string {
	changedBy := ""
	if n.renames != nil && renamePointKeys(m, n.renames) {
		changedBy = conventionsName
	}
	if d != nil && d.metric != nil && d.metric(m) {
		changedBy = d.name
	}
	if fixMetric(m) && changedBy == "" {
		changedBy = conventionsName
	}
	return changedBy
}

// renamePointKeys applies the renames to every data point's attributes.
func renamePointKeys(m pmetric.Metric, renames map[string]string) bool {
	changed := false
	forEachPointAttributes(m, func(attrs pcommon.Map) {
		if renameKeys(attrs, renames) {
			changed = true
		}
	})
	return changed
}

// forEachPointAttributes calls fn with the attributes of each data point.
func forEachPointAttributes(m pmetric.Metric, fn func(pcommon.Map)) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for i := 0; i < m.Gauge().DataPoints().Len(); i++ {
			fn(m.Gauge().DataPoints().At(i).Attributes())
		}
	case pmetric.MetricTypeSum:
		for i := 0; i < m.Sum().DataPoints().Len(); i++ {
			fn(m.Sum().DataPoints().At(i).Attributes())
		}
	case pmetric.MetricTypeHistogram:
		for i := 0; i < m.Histogram().DataPoints().Len(); i++ {
			fn(m.Histogram().DataPoints().At(i).Attributes())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for i := 0; i < m.ExponentialHistogram().DataPoints().Len(); i++ {
			fn(m.ExponentialHistogram().DataPoints().At(i).Attributes())
		}
	case pmetric.MetricTypeSummary:
		for i := 0; i < m.Summary().DataPoints().Len(); i++ {
			fn(m.Summary().DataPoints().At(i).Attributes())
		}
	case pmetric.MetricTypeEmpty:
	}
}
