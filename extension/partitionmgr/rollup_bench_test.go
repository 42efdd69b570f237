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
// those minutes (timed). refresh/copy is the refresh's time over the
// time the COPYs of the same rows took. ns/row is
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
	var refresh, copying time.Duration
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
		written := time.Now()
		for j := 0; j < len(rows); j += 1000 {
			require.NoError(b, writeLikeExporter(ctx, m.pool, schemaName, "routing_log", routingColumns, rows[j:j+1000]))
		}
		copying += time.Since(written)
		b.StartTimer()
		started := time.Now()
		_, _, err := m.refreshRollups(ctx, day, time.Time{})
		refresh += time.Since(started)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(refresh.Nanoseconds())/float64(b.N*rowsPerIteration), "ns/row")
	// The refresh's time over the time of writing the same rows (COPY with
	// the trigger, 1,000-row transactions), both measured here.
	b.ReportMetric(float64(refresh)/float64(copying), "refresh/copy")
}

// BenchmarkCopyWithRollupTrigger measures what the trigger adds to the
// exporter's fast path: each iteration COPYs a 1,000-row batch into
// routing_log of a schema with the trigger and the same rows into one
// without it (disabled), alternately, so that a busy machine slows both
// alike; ns/row is reported for each, and their ratio.
//
//	go test -run '^$' -bench BenchmarkCopyWithRollupTrigger -benchtime 200x ./extension/partitionmgr/
func BenchmarkCopyWithRollupTrigger(b *testing.B) {
	const batch = 1000
	ctx := context.Background()
	day := time.Now().UTC().Truncate(24 * time.Hour)
	var schemas [2]string // with, without the trigger
	var m *maintainer
	for i := range schemas {
		schemas[i] = freshSchema("rollup_copy_bench")
		m = newRollupMaintainer(b, schemas[i])
		_, err := m.createAhead(ctx, day)
		require.NoError(b, err)
	}
	_, err := m.pool.Exec(ctx, "ALTER TABLE "+pgx.Identifier{schemas[1], "routing_log"}.Sanitize()+" DISABLE TRIGGER routing_log_rollup")
	require.NoError(b, err)
	g := &rowGen{rng: rand.New(rand.NewPCG(1, 2)), base: day}
	var took [2]time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		rows := g.routing(60, batch)
		b.StartTimer()
		for k := range schemas {
			k = (k + i) % 2 // alternate which goes first
			started := time.Now()
			require.NoError(b, writeLikeExporter(ctx, m.pool, schemas[k], "routing_log", routingColumns, rows))
			took[k] += time.Since(started)
		}
	}
	perRow := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*batch) }
	b.ReportMetric(perRow(took[0]), "ns/row-trigger")
	b.ReportMetric(perRow(took[1]), "ns/row-no-trigger")
	b.ReportMetric(float64(took[0])/float64(took[1]), "ratio")
}
