package mcpnormalizer

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const (
	signalTraces  = "traces"
	signalLogs    = "logs"
	signalMetrics = "metrics"
)

// rewriteCounts adds one batch's rewrites to
// otelcol_processor_mcpnormalizer_rewritten, per dialect.
type rewriteCounts struct {
	counter metric.Int64Counter
	options map[string]metric.AddOption
}

func newRewriteCounts(counter metric.Int64Counter, signal string) *rewriteCounts {
	c := &rewriteCounts{counter: counter, options: map[string]metric.AddOption{}}
	for _, name := range append(dialectNames(), conventionsName) {
		c.options[name] = metric.WithAttributeSet(attribute.NewSet(
			attribute.String("dialect", name), attribute.String("signal", signal)))
	}
	return c
}

// batchCounts counts one batch's rewrites by dialect name; few dialects
// appear in one batch, so a short slice beats a map.
type batchCounts []struct {
	name string
	n    int64
}

func (b *batchCounts) add(name string) {
	if name == "" {
		return
	}
	for i := range *b {
		if (*b)[i].name == name {
			(*b)[i].n++
			return
		}
	}
	*b = append(*b, struct {
		name string
		n    int64
	}{name, 1})
}

func (c *rewriteCounts) record(ctx context.Context, b batchCounts) {
	for _, e := range b {
		c.counter.Add(ctx, e.n, c.options[e.name])
	}
}
