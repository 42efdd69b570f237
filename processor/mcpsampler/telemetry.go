package mcpsampler

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const (
	signalTraces = "traces"
	signalLogs   = "logs"
)

// itemCounts counts kept and dropped items per policy in a local tally for
// each batch, and adds the tally to otelcol_processor_mcpsampler_items once
// per batch: a counter update per item would cost more than the decision.
type itemCounts struct {
	counter metric.Int64Counter
	// options holds the attribute sets, two per policy: kept, dropped.
	options []metric.AddOption
	tallies sync.Pool
}

type tally []int64

func newItemCounts(counter metric.Int64Counter, s *sampler, signal string) *itemCounts {
	c := &itemCounts{counter: counter}
	for _, p := range s.policies {
		for _, decision := range []string{"kept", "dropped"} {
			c.options = append(c.options, metric.WithAttributeSet(attribute.NewSet(
				attribute.String("rule", p.name),
				attribute.String("signal", signal),
				attribute.String("decision", decision))))
		}
	}
	n := len(c.options)
	c.tallies.New = func() any {
		t := make(tally, n)
		return &t
	}
	return c
}

func (c *itemCounts) start() *tally { return c.tallies.Get().(*tally) }

func (t *tally) add(policy int, keep bool) {
	i := 2 * policy
	if !keep {
		i++
	}
	(*t)[i]++
}

// record adds the batch's tally to the counter and returns it to the pool.
func (c *itemCounts) record(ctx context.Context, t *tally) {
	for i, n := range *t {
		if n != 0 {
			c.counter.Add(ctx, n, c.options[i])
			(*t)[i] = 0
		}
	}
	c.tallies.Put(t)
}
