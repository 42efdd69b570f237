package partitionmgr

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// BenchmarkRollupRefresh measures the maintenance cost per stored row: each
// iteration COPYs rowsPerIteration routing_log rows over ten fresh minutes,
// in time order as traffic arrives (not timed), then one refresh recomputes
// those minutes (timed). ns/row is
// the refresh time divided by the rows it covered.
//
//	go test -run '^$' -bench BenchmarkRollupRefresh -benchtime 20x ./extension/partitionmgr/
func BenchmarkRollupRefresh(b *testing.B) {
	// spread: rows drawn from every dimension the tests vary (3 servers x 3
	// methods x 3 tools x 4 status classes x 4 weights, so ~1,000 rollup rows
	// per 10,000 rows: a rollup row per 10 stored rows). typical: 3 servers,
	// tools/call on 4 tools, 2% failures, weight 1.
	for _, typical := range []bool{false, true} {
		b.Run(map[bool]string{false: "spread", true: "typical"}[typical], func(b *testing.B) {
			benchmarkRollupRefresh(b, typical)
		})
	}
}

func benchmarkRollupRefresh(b *testing.B, typical bool) {
	const rowsPerIteration = 10_000
	ctx := context.Background()
	schemaName := freshSchema("rollup_bench")
	m := newRollupMaintainer(b, schemaName)
	day := time.Now().UTC().Truncate(24 * time.Hour)
	_, err := m.createAhead(ctx, day)
	require.NoError(b, err)
	g := &rowGen{rng: rand.New(rand.NewPCG(1, 2))}
	b.ResetTimer()
	var refresh time.Duration
	for i := range b.N {
		b.StopTimer()
		// As traffic arrives: 1,000-row batches in time order over ten minutes.
		rows := g.routing(1, rowsPerIteration)
		from := day.Add(time.Duration(i%144) * 10 * time.Minute)
		for j, row := range rows {
			row[0] = from.Add(time.Duration(j) * 10 * time.Minute / rowsPerIteration)
			if typical {
				row[5], row[6], row[7] = "tools/call", []string{"search", "fetch", "read", "write"}[j%4], []string{"alpha", "beta", "gamma"}[j%3]
				row[8], row[9], row[10], row[11] = "ok", nil, nil, 1.0
				if j%50 == 0 {
					row[8] = "error"
				}
			}
		}
		for j := 0; j < len(rows); j += 1000 {
			require.NoError(b, writeLikeExporter(ctx, m.pool, schemaName, "routing_log", routingColumns, rows[j:j+1000]))
		}
		b.StartTimer()
		started := time.Now()
		_, _, err := m.refreshRollups(ctx, day)
		refresh += time.Since(started)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(refresh.Nanoseconds())/float64(b.N*rowsPerIteration), "ns/row")
}

// BenchmarkCopyWithRollupTrigger measures what the trigger adds to the
// exporter's fast path: COPY of 1,000-row batches into routing_log with the
// trigger enabled and disabled.
//
//	go test -run '^$' -bench BenchmarkCopyWithRollupTrigger -benchtime 200x ./extension/partitionmgr/
func BenchmarkCopyWithRollupTrigger(b *testing.B) {
	for _, enabled := range []bool{true, false} {
		name := map[bool]string{true: "trigger", false: "no_trigger"}[enabled]
		b.Run(name, func(b *testing.B) {
			const batch = 1000
			ctx := context.Background()
			schemaName := freshSchema("rollup_copy_bench")
			m := newRollupMaintainer(b, schemaName)
			day := time.Now().UTC().Truncate(24 * time.Hour)
			_, err := m.createAhead(ctx, day)
			require.NoError(b, err)
			if !enabled {
				_, err = m.pool.Exec(ctx, "ALTER TABLE "+pgx.Identifier{schemaName, "routing_log"}.Sanitize()+" DISABLE TRIGGER routing_log_rollup")
				require.NoError(b, err)
			}
			g := &rowGen{rng: rand.New(rand.NewPCG(1, 2)), base: day}
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				rows := g.routing(60, batch)
				b.StartTimer()
				require.NoError(b, writeLikeExporter(ctx, m.pool, schemaName, "routing_log", routingColumns, rows))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/row")
		})
	}
}
