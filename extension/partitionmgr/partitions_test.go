package partitionmgr

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

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
			schemaName := freshSchema("retention_" + string(how))
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
	s := freshSchema("waiting")
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
	require.NoError(t, testPool(t).QueryRow(ctx, `SELECT count(*) FROM `+s+`.routing_log_p20261120 WHERE failed`).Scan(&failed))
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
	s := freshSchema("shared")
	a := startManager(t, s, now, nil)
	b := startManager(t, s, now, nil)
	a.waitForRuns(t, 1)
	b.waitForRuns(t, 1)
	for _, tm := range []*testManager{a, b} {
		for key := range tm.runs(t) {
			assert.NotContains(t, key, "failed")
		}
	}
	assert.Len(t, partitionBounds(t, s, "routing_log", time.UTC), 8)

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
	assert.Len(t, partitionBounds(t, s, "routing_log", time.UTC), 11)
	var migrations int
	require.NoError(t, testPool(t).QueryRow(context.Background(), "SELECT count(*) FROM "+s+".schema_migrations").Scan(&migrations))
	ms, err := schema.Migrations()
	require.NoError(t, err)
	assert.Equal(t, len(ms), migrations, "the schema applied once")
}

// freshSchema names a schema no earlier run of the test used (-count=N).
func freshSchema(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// rowsIn lists the ts of the rows of schemaName.table in order, as dates.
func rowsIn(t *testing.T, schemaName, table string) []string {
	t.Helper()
	rows, err := testPool(t).Query(context.Background(), `SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM `+
		pgx.Identifier{schemaName, table}.Sanitize()+` ORDER BY ts`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// TestRetentionClearsExpiredRowsOfDefault puts rows in the DEFAULT partition
// (1970, early November, the evening before the partitions begin, 2200) next
// to daily partitions from the 20th, and applies a 2-day retention on the
// 24th at noon. The partitions of the 20th and 21st expire; of the DEFAULT
// rows, those before the 22nd (the start of the day holding the cut-off, the
// same test) go too: deleted, or moved into a plain table in place or in the
// archive schema. The row of 2200 stays.
func TestRetentionClearsExpiredRowsOfDefault(t *testing.T) {
	ctx := context.Background()
	now := day(24).Add(12 * time.Hour)
	for _, how := range []Expiry{Drop, Detach, Archive} {
		t.Run(string(how), func(t *testing.T) {
			s := freshSchema("default_retention_" + string(how))
			m := newMaintainer(t, s, tablePlan{interval: Daily, premake: 7, retention: 2 * 24 * time.Hour, expiry: how})
			_, err := m.createAhead(ctx, day(20))
			require.NoError(t, err)
			for i, ts := range []time.Time{time.Unix(0, 0), day(2), day(20).Add(-time.Hour), day(21), day(22).Add(-time.Minute),
				day(22), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)} {
				insertRouting(t, s, ts, byte(i))
			}
			assert.Equal(t, map[string]int{s + ".routing_log_default": 4, s + ".routing_log_p20261121": 2, s + ".routing_log_p20261122": 1},
				rowsPerPartition(t, s))

			parts, err := m.expire(ctx, now)
			require.NoError(t, err)
			assert.Len(t, parts, 2, "the partitions of the 20th and 21st")
			done, err := m.expireDefaults(ctx, now)
			require.NoError(t, err)
			moved := map[Expiry]string{Detach: s + ".routing_log_default_before_20261122", Archive: s + "_archive.routing_log_default_before_20261122"}[how]
			assert.Equal(t, []defaultExpiry{{table: "routing_log", rows: 3, expiry: how, into: moved}}, done)
			assert.Equal(t, []string{"2026-11-22 00:00", "2200-01-01 00:00"}, rowsIn(t, s, "routing_log"))
			assert.Equal(t, []string{"2200-01-01 00:00"}, rowsIn(t, s, "routing_log_default"))
			if how != Drop {
				dest := strings.SplitN(moved, ".", 2)
				assert.Equal(t, []string{"1970-01-01 00:00", "2026-11-02 00:00", "2026-11-19 23:00"}, rowsIn(t, dest[0], dest[1]))
				var failed int
				require.NoError(t, testPool(t).QueryRow(ctx, "SELECT count(*) FROM "+moved+" WHERE failed").Scan(&failed))
				assert.Equal(t, 3, failed, "the generated column's values are kept")
			}

			// A second run finds nothing more to do.
			done, err = m.expireDefaults(ctx, now)
			require.NoError(t, err)
			assert.Empty(t, done)
			waiting, err := m.rowsInDefault(ctx)
			require.NoError(t, err)
			assert.Equal(t, map[string]int64{"routing_log": 1}, waiting)
		})
	}
}

// TestExpireJobClearsDefault runs the manager's expire job over a row of
// 1970 waiting in routing_log's DEFAULT partition: the row is archived with
// the table's default expiry, counted, and no longer reported as waiting.
func TestExpireJobClearsDefault(t *testing.T) {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	s := freshSchema("expire_job")
	tm := startManager(t, s, start, func(c *Config) {
		c.Schedule.Mode = modeInterval
		c.Schedule.Interval = time.Hour
	})
	tm.waitForRuns(t, 1)
	insertRouting(t, s, time.Unix(0, 0), 1)

	tm.clock.Set(start.Add(time.Hour))
	tm.waitForRuns(t, 2)
	eventually(t, "the expired row counted", func() bool {
		m, err := tm.telemetry.GetMetric("otelcol_partitionmgr_default_rows_expired")
		if err != nil {
			return false
		}
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			table, _ := dp.Attributes.Value("table")
			expiry, _ := dp.Attributes.Value("expiry")
			if table.AsString() == "routing_log" && expiry.AsString() == "archive" && dp.Value == 1 {
				return true
			}
		}
		return false
	})
	assert.Equal(t, []string{"1970-01-01 00:00"}, rowsIn(t, s+"_archive", "routing_log_default_before_20261027"))
	assert.Empty(t, rowsIn(t, s, "routing_log_default"))
	tm.mu.Lock()
	defer tm.mu.Unlock()
	assert.Equal(t, int64(0), tm.rowsInDefault["routing_log"])
}
