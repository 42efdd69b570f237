package partitionmgr

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcp-bridge/otelcol-mcp/schema"
)

// newMaintainer applies the schema to schemaName and returns a maintainer of
// routing_log alone with the given plan, in UTC.
func newMaintainer(t *testing.T, schemaName string, plan tablePlan) *maintainer {
	t.Helper()
	pool := testPool(t)
	_, err := schema.Apply(context.Background(), pool, schemaName)
	require.NoError(t, err)
	return &maintainer{pool: pool, schemaName: schemaName, archiveSchema: schemaName + "_archive", loc: time.UTC,
		tables: map[string]tablePlan{"routing_log": plan}}
}

// tablesIn lists the plain and partitioned tables of a schema whose name starts with prefix.
func tablesIn(t *testing.T, schemaName, prefix string) []string {
	t.Helper()
	rows, err := testPool(t).Query(context.Background(), `SELECT c.relname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
		AND c.relname LIKE $2 || '%' ORDER BY 1`, schemaName, prefix)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

func day(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }

// TestRetentionExpiresExactlyTheExpired creates daily partitions 20 to 27
// November and applies a 2-day retention on the 24th at noon: the partitions
// that ended by the 22nd noon (20, 21) go; the current one (24) and the
// others stay. Each expiry mode is checked for what it leaves behind.
func TestRetentionExpiresExactlyTheExpired(t *testing.T) {
	ctx := context.Background()
	now := day(24).Add(12 * time.Hour)
	for _, how := range []Expiry{Drop, Detach, Archive} {
		t.Run(string(how), func(t *testing.T) {
			schemaName := "retention_" + string(how)
			m := newMaintainer(t, schemaName, tablePlan{interval: Daily, premake: 7, retention: 2 * 24 * time.Hour, expiry: how})
			_, err := m.createAhead(ctx, day(20))
			require.NoError(t, err)

			done, err := m.expire(ctx, now)
			require.NoError(t, err)
			assert.Equal(t, []expired{
				{table: "routing_log", name: "routing_log_p20261120", expiry: how},
				{table: "routing_log", name: "routing_log_p20261121", expiry: how},
			}, sortedExpired(done))
			var left []string
			for _, b := range partitionBounds(t, schemaName, "routing_log", time.UTC) {
				left = append(left, b[:len("routing_log_p20261122")])
			}
			assert.Equal(t, []string{"routing_log_p20261122", "routing_log_p20261123", "routing_log_p20261124",
				"routing_log_p20261125", "routing_log_p20261126", "routing_log_p20261127"}, left)

			standalone := []string{}
			for _, name := range tablesIn(t, schemaName, "routing_log_p") {
				if name < "routing_log_p20261122" {
					standalone = append(standalone, name)
				}
			}
			archived := tablesIn(t, schemaName+"_archive", "routing_log_p")
			switch how {
			case Drop:
				assert.Empty(t, standalone)
				assert.Empty(t, archived)
			case Detach:
				assert.Equal(t, []string{"routing_log_p20261120", "routing_log_p20261121"}, standalone)
				assert.Empty(t, archived)
			case Archive:
				assert.Empty(t, standalone)
				assert.Equal(t, []string{"routing_log_p20261120", "routing_log_p20261121"}, archived)
			}

			// A retention shorter than a day never touches the current partition.
			m.tables["routing_log"] = tablePlan{interval: Daily, premake: 7, retention: time.Hour, expiry: how}
			done, err = m.expire(ctx, now)
			require.NoError(t, err)
			assert.Equal(t, []expired{
				{table: "routing_log", name: "routing_log_p20261122", expiry: how},
				{table: "routing_log", name: "routing_log_p20261123", expiry: how},
			}, sortedExpired(done))
		})
	}
}

func sortedExpired(e []expired) []expired {
	out := append([]expired(nil), e...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].name < out[i].name {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// insertRouting writes one routing_log row at ts (into whatever partition holds it).
func insertRouting(t *testing.T, schemaName string, ts time.Time, id byte) {
	t.Helper()
	_, err := testPool(t).Exec(context.Background(), `INSERT INTO `+pgx.Identifier{schemaName, "routing_log"}.Sanitize()+`
		(ts, trace_id, span_id, duration_us, span_name, method, status) VALUES ($1, $2, $3, 1, 'ping', 'ping', 'error')`,
		ts, []byte{id}, []byte{id})
	require.NoError(t, err)
}

// rowsPerPartition counts the rows of routing_log by the partition holding them.
func rowsPerPartition(t *testing.T, schemaName string) map[string]int {
	t.Helper()
	rows, err := testPool(t).Query(context.Background(), `SELECT tableoid::regclass::text, count(*)::int FROM `+
		pgx.Identifier{schemaName, "routing_log"}.Sanitize()+` GROUP BY 1`)
	require.NoError(t, err)
	out := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		require.NoError(t, rows.Scan(&name, &n))
		out[name] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// TestRowsWaitingInDefaultMoveIntoTheirPartition writes rows while no
// partition exists: they wait in DEFAULT; a create pass makes the partitions
// of the ones within retention and moves them, with their generated
// columns, and leaves the expired one in DEFAULT, counted.
func TestRowsWaitingInDefaultMoveIntoTheirPartition(t *testing.T) {
	ctx := context.Background()
	const s = "waiting"
	m := newMaintainer(t, s, tablePlan{interval: Daily, premake: 1, retention: 30 * 24 * time.Hour, expiry: Drop})
	insertRouting(t, s, day(20).Add(time.Hour), 1)
	insertRouting(t, s, day(20).Add(2*time.Hour), 2)
	insertRouting(t, s, day(22).Add(time.Hour), 3)
	insertRouting(t, s, day(2).Add(-24*time.Hour*60), 4) // far older than retention
	assert.Equal(t, map[string]int{s + ".routing_log_default": 4}, rowsPerPartition(t, s))

	res, err := m.createAhead(ctx, day(25))
	require.NoError(t, err)
	assert.Equal(t, 4, res.created["routing_log"], "20th and 22nd for the waiting rows, 25th and 26th ahead")
	assert.Equal(t, int64(3), res.moved["routing_log"])
	assert.Equal(t, map[string]int{
		s + ".routing_log_p20261120": 2,
		s + ".routing_log_p20261122": 1,
		s + ".routing_log_default":   1,
	}, rowsPerPartition(t, s))
	waiting, err := m.rowsInDefault(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"routing_log": 1}, waiting)

	var failed int
	require.NoError(t, testPool(t).QueryRow(ctx, `SELECT count(*) FROM waiting.routing_log_p20261120 WHERE failed`).Scan(&failed))
	assert.Equal(t, 2, failed, "the generated column is computed again in the new partition")

	// A row for a day without partition, then asked for on demand.
	insertRouting(t, s, day(23).Add(time.Hour), 5)
	created, moved, err := m.ensurePartition(ctx, "routing_log", Daily.periodOf("routing_log", day(23), time.UTC))
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, int64(1), moved)
	created, moved, err = m.ensurePartition(ctx, "routing_log", Daily.periodOf("routing_log", day(23), time.UTC))
	require.NoError(t, err)
	assert.Equal(t, []any{false, int64(0)}, []any{created, moved}, "a second request finds it there")
}

// TestTwoManagersOnOneDatabase starts two managers on one schema at the same
// instant and has both ask for the same partitions concurrently: each
// partition is created once and neither errors.
func TestTwoManagersOnOneDatabase(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	a := startManager(t, "shared", now, nil)
	b := startManager(t, "shared", now, nil)
	a.waitForRuns(t, 1)
	b.waitForRuns(t, 1)
	for _, tm := range []*testManager{a, b} {
		for key := range tm.runs(t) {
			assert.NotContains(t, key, "failed")
		}
	}
	assert.Len(t, partitionBounds(t, "shared", "routing_log", time.UTC), 8)

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		tm := []*testManager{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- tm.EnsurePartitions(context.Background(), "routing_log", day(10).AddDate(0, 1, i%3)) // 10 to 12 December
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, partitionBounds(t, "shared", "routing_log", time.UTC), 11)
	var migrations int
	require.NoError(t, testPool(t).QueryRow(context.Background(), "SELECT count(*) FROM shared.schema_migrations").Scan(&migrations))
	ms, err := schema.Migrations()
	require.NoError(t, err)
	assert.Equal(t, len(ms), migrations, "the schema applied once")
}
