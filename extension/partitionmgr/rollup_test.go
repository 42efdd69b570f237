package partitionmgr

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mcp-bridge/otelcol-mcp/internal/rollupcheck"
	"github.com/mcp-bridge/otelcol-mcp/schema"
)

// The columns the tests write, as the mcppg exporter fills them.
var (
	routingColumns = []string{"ts", "trace_id", "span_id", "duration_us", "span_name", "method", "tool_name",
		"server_key", "status", "error_type", "rpc_status_code", "adjusted_count"}
	toolCallColumns = []string{"ts", "trace_id", "span_id", "duration_us", "method", "tool_name", "server_key",
		"status", "error_type", "rpc_status_code", "adjusted_count"}
	healthColumns = []string{"ts", "event_id", "server_key", "healthy", "status", "check_type", "latency_us",
		"adjusted_count"}
)

// sessionUpsert is the mcppg exporter's merge of a session event
// (exporter/mcppgexporter/tables.go, sessionTable), for the columns here.
const sessionUpsert = `INSERT INTO %s AS t (session_id, transport, server_key, started_at, ended_at, last_seen_at)
	VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id) DO UPDATE SET
		transport = COALESCE(t.transport, EXCLUDED.transport),
		server_key = COALESCE(t.server_key, EXCLUDED.server_key),
		started_at = LEAST(t.started_at, EXCLUDED.started_at),
		ended_at = GREATEST(t.ended_at, EXCLUDED.ended_at),
		last_seen_at = GREATEST(t.last_seen_at, EXCLUDED.last_seen_at)`

// rowGen makes rows of the source tables with every dimension varied:
// NULL and set servers and tools, each status class, sampled weights.
type rowGen struct {
	rng  *rand.Rand
	base time.Time
	next int
}

func (g *rowGen) pick(options ...any) any { return options[g.rng.IntN(len(options))] }

// id is a fresh 8-byte id (a span id, an event id).
func (g *rowGen) id() []byte {
	g.next++
	return fmt.Appendf(nil, "%08d", g.next)
}

// at is a time within minute m after base.
func (g *rowGen) at(m int) time.Time {
	return g.base.Add(time.Duration(m)*time.Minute + time.Duration(g.rng.Int64N(int64(time.Minute))))
}

func (g *rowGen) failure() (status string, errorType, rpcCode any) {
	switch g.rng.IntN(6) {
	case 0:
		return "error", "timeout", nil
	case 1:
		return "error", nil, "-32602"
	case 2:
		return "ok", "tool_error", nil
	case 3:
		return "error", nil, nil
	}
	return g.pick("ok", "unset").(string), nil, nil
}

func (g *rowGen) weight() float64 { return g.pick(1.0, 1.0, 10.0, 1/0.3).(float64) }

func (g *rowGen) routing(minutes, n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		status, errorType, rpcCode := g.failure()
		id := g.id()
		rows[i] = []any{g.at(g.rng.IntN(minutes)), id, id, g.rng.Int64N(5_000_000), "span",
			g.pick("tools/call", "tools/list", "initialize"), g.pick(nil, "search", "fetch"), g.pick(nil, "alpha", "beta"),
			status, errorType, rpcCode, g.weight()}
	}
	return rows
}

func (g *rowGen) toolCalls(minutes, n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		status, errorType, rpcCode := g.failure()
		id := g.id()
		rows[i] = []any{g.at(g.rng.IntN(minutes)), id, id, g.rng.Int64N(5_000_000), g.pick(nil, "tools/call", "prompts/get"),
			g.pick(nil, "search"), g.pick(nil, "alpha", "beta"), status, errorType, rpcCode, g.weight()}
	}
	return rows
}

func (g *rowGen) health(minutes, n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		healthy := g.rng.IntN(4) > 0
		status := map[bool]string{true: "healthy", false: "unhealthy"}[healthy]
		rows[i] = []any{g.at(g.rng.IntN(minutes)), string(g.id()), g.pick("alpha", "beta"), healthy, status,
			g.pick(nil, "ping"), g.pick(nil, g.rng.Int64N(100_000)), g.pick(1.0, 10.0)}
	}
	return rows
}

// writeLikeExporter commits rows as the mcppg exporter does
// (exporter/mcppgexporter/writer.go): a plain COPY in one transaction, and
// after a unique violation (rows of the batch are there already) a COPY into
// a session temp table and INSERT ... SELECT ... ON CONFLICT DO NOTHING.
func writeLikeExporter(ctx context.Context, pool *pgxpool.Pool, schemaName, table string, columns []string, rows [][]any) error {
	target := pgx.Identifier{schemaName, table}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, target, columns, pgx.CopyFromRows(rows))
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return err
	}
	stage := pgx.Identifier{"mcp_stage_" + table}.Sanitize()
	cols := strings.Join(columns, ", ")
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DELETE ROWS; TRUNCATE %s",
			stage, target.Sanitize(), stage)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"mcp_stage_" + table}, columns, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT DO NOTHING", target.Sanitize(), cols, cols, stage))
		return err
	})
}

// sessionEvent upserts one session event as the exporter does.
func sessionEvent(ctx context.Context, pool *pgxpool.Pool, schemaName, id string, transport, server any, started, ended any, seen time.Time) error {
	_, err := pool.Exec(ctx, fmt.Sprintf(sessionUpsert, pgx.Identifier{schemaName, "session_record"}.Sanitize()),
		id, transport, server, started, ended, seen)
	return err
}

// rollupMismatches compares every rollup with a GROUP BY over the raw rows
// (internal/rollupcheck); it returns the rows found on one side only.
func rollupMismatches(t *testing.T, pool *pgxpool.Pool, schemaName string) []string {
	t.Helper()
	out, err := rollupcheck.Mismatches(context.Background(), pool, schemaName)
	require.NoError(t, err)
	return out
}

// rollupRowCount counts the rows of a rollup table (a check that a
// comparison compared something).
func rollupRowCount(t *testing.T, pool *pgxpool.Pool, schemaName, table string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{schemaName, table}.Sanitize()).Scan(&n))
	return n
}

// newRollupMaintainer applies the schema and returns a maintainer with the
// default plans (so the cut-offs of the default retention apply).
func newRollupMaintainer(t testing.TB, schemaName string) *maintainer {
	t.Helper()
	pool := testPool(t)
	_, err := schema.Apply(context.Background(), pool, schemaName)
	require.NoError(t, err)
	plans := map[string]tablePlan{}
	for name, tc := range createDefaultConfig().(*Config).Tables {
		retention, err := parseRetention(tc.Retention)
		require.NoError(t, err)
		plans[name] = tablePlan{interval: tc.Interval, premake: tc.Premake, retention: retention, expiry: tc.Expiry}
	}
	return &maintainer{pool: pool, schemaName: schemaName, archiveSchema: schemaName + "_archive", loc: time.UTC, tables: plans}
}

func refreshed(t *testing.T, m *maintainer, now time.Time) map[string]rollupCount {
	t.Helper()
	counts, skipped, err := m.refreshRollups(context.Background(), now, now)
	require.NoError(t, err)
	require.False(t, skipped)
	out := map[string]rollupCount{}
	for _, c := range counts {
		out[c.rollup] = c
	}
	return out
}

// TestRollupsEqualGroupByUnderReplayLateAndConcurrentWrites writes rows as
// the exporter does, replays batches (the dedupe path), adds late rows to
// minutes already rolled up, upserts sessions, and runs refreshes while four
// writers commit: after each step, and after a last refresh, every rollup row
// equals a GROUP BY over the raw rows.
func TestRollupsEqualGroupByUnderReplayLateAndConcurrentWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	schemaName := freshSchema("rollup_exact")
	m := newRollupMaintainer(t, schemaName)
	pool := m.pool
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	_, err := m.createAhead(ctx, now)
	require.NoError(t, err)
	g := &rowGen{rng: rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano()))), base: now.Add(-30 * time.Minute)}

	// 1. First batches, fast path.
	routing, tools, health := g.routing(5, 400), g.toolCalls(5, 300), g.health(5, 100)
	require.NoError(t, writeLikeExporter(ctx, pool, schemaName, "routing_log", routingColumns, routing))
	require.NoError(t, writeLikeExporter(ctx, pool, schemaName, "tool_call_record", toolCallColumns, tools))
	require.NoError(t, writeLikeExporter(ctx, pool, schemaName, "health_check_record", healthColumns, health))
	for i := range 30 {
		id := fmt.Sprintf("s%d", i)
		start := g.at(g.rng.IntN(5))
		require.NoError(t, sessionEvent(ctx, pool, schemaName, id, g.pick(nil, "sse"), nil, start, nil, start))
		// A stats event: nothing the rollup counts changes.
		require.NoError(t, sessionEvent(ctx, pool, schemaName, id, nil, nil, nil, nil, start.Add(time.Second)))
	}
	counts := refreshed(t, m, now)
	assert.Equal(t, int64(5), counts["routing"].refreshed)
	require.Empty(t, rollupMismatches(t, pool, schemaName))
	require.Positive(t, rollupRowCount(t, pool, schemaName, "routing_rollup_1m"))

	// 2. Replays: the same batches again, and batches half old, half new.
	require.NoError(t, writeLikeExporter(ctx, pool, schemaName, "routing_log", routingColumns, routing))
	require.NoError(t, writeLikeExporter(ctx, pool, schemaName, "routing_log", routingColumns,
		append(routing[:200:200], g.routing(8, 300)...)))
	require.NoError(t, writeLikeExporter(ctx, pool, schemaName, "tool_call_record", toolCallColumns,
		append(g.toolCalls(8, 100), tools...)))
	require.NoError(t, writeLikeExporter(ctx, pool, schemaName, "health_check_record", healthColumns, health))
	// Sessions end, one learns its server and start late (the start event
	// arrives after the end), one is replayed.
	for i := range 30 {
		id := fmt.Sprintf("s%d", i)
		end := g.at(5 + g.rng.IntN(3))
		require.NoError(t, sessionEvent(ctx, pool, schemaName, id, nil, g.pick(nil, "alpha"), nil, end, end))
	}
	late := g.at(0).Add(-10 * time.Minute)
	require.NoError(t, sessionEvent(ctx, pool, schemaName, "s3", "sse", "beta", late, nil, late))
	require.NoError(t, sessionEvent(ctx, pool, schemaName, "s3", "sse", "beta", late, nil, late))
	refreshed(t, m, now)
	require.Empty(t, rollupMismatches(t, pool, schemaName))

	// 3. Late rows for minutes rolled up twice already.
	require.NoError(t, writeLikeExporter(ctx, pool, schemaName, "routing_log", routingColumns, g.routing(2, 50)))
	require.NoError(t, writeLikeExporter(ctx, pool, schemaName, "health_check_record", healthColumns, g.health(2, 20)))
	counts = refreshed(t, m, now)
	assert.Equal(t, int64(2), counts["routing"].refreshed)
	require.Empty(t, rollupMismatches(t, pool, schemaName))

	// 4. Writers (fresh rows and replays of their own earlier batches) and
	// refreshes at the same time.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 16)
	for w := range 4 {
		wg.Go(func() {
			gen := &rowGen{rng: rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano()))), base: g.base, next: (w + 1) * 1_000_000}
			var last [][]any
			for i := range 15 {
				batch := gen.routing(10, 100)
				if i%3 == 2 {
					batch = append(batch, last...) // a replay overlapping the batch before
				}
				if err := writeLikeExporter(ctx, pool, schemaName, "routing_log", routingColumns, batch); err != nil {
					errs <- err
					return
				}
				last = batch[:50]
			}
		})
	}
	var refreshes sync.WaitGroup
	refreshes.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := m.refreshRollups(ctx, now, now); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	refreshes.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	refreshed(t, m, now)
	require.Empty(t, rollupMismatches(t, pool, schemaName))
	var queued int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schemaName, "rollup_dirty"}.Sanitize()).Scan(&queued))
	assert.Zero(t, queued, "a refresh with no writer about takes the whole queue")

	// 5. Rows waiting in DEFAULT move into a new partition (deleted and
	// inserted again): the rollups are unchanged and still exact.
	old := now.AddDate(0, 0, -20)
	g.base = old
	require.NoError(t, writeLikeExporter(ctx, pool, schemaName, "routing_log", routingColumns, g.routing(3, 60)))
	refreshed(t, m, now)
	require.Empty(t, rollupMismatches(t, pool, schemaName))
	require.NoError(t, m.ensureTablePartition(ctx, "routing_log", old))
	refreshed(t, m, now)
	require.Empty(t, rollupMismatches(t, pool, schemaName))
}

// ensureTablePartition creates the partition of table holding ts.
func (m *maintainer) ensureTablePartition(ctx context.Context, table string, ts time.Time) error {
	plan := m.tables[table]
	_, _, err := m.ensurePartition(ctx, table, plan.interval.periodOf(table, ts, m.loc))
	return err
}

// TestRollupsOfExpiredMinutesStayAsTheyWere: once retention may have
// removed a minute's raw rows, a late row for it no longer recomputes the
// minute (which would count that row alone); it is counted as frozen.
func TestRollupsOfExpiredMinutesStayAsTheyWere(t *testing.T) {
	ctx := context.Background()
	schemaName := freshSchema("rollup_frozen")
	m := newRollupMaintainer(t, schemaName)
	then := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	g := &rowGen{rng: rand.New(rand.NewPCG(3, 4)), base: then}
	require.NoError(t, writeLikeExporter(ctx, m.pool, schemaName, "routing_log", routingColumns, g.routing(1, 50)))
	refreshed(t, m, then.Add(time.Hour))
	var before string
	require.NoError(t, m.pool.QueryRow(ctx, "SELECT array_agg(x ORDER BY x::text)::text FROM "+
		pgx.Identifier{schemaName, "routing_rollup_1m"}.Sanitize()+" x").Scan(&before))

	// 60 days on, past routing_log's 30-day retention, the DEFAULT rows of
	// October are gone and one late row arrives for that minute.
	now := then.AddDate(0, 0, 60)
	_, err := m.expireDefaults(ctx, now)
	require.NoError(t, err)
	require.NoError(t, writeLikeExporter(ctx, m.pool, schemaName, "routing_log", routingColumns, g.routing(1, 1)))
	counts := refreshed(t, m, now)
	assert.Equal(t, rollupCount{rollup: "routing", refreshed: 0, frozen: 1}, counts["routing"])
	var after string
	require.NoError(t, m.pool.QueryRow(ctx, "SELECT array_agg(x ORDER BY x::text)::text FROM "+
		pgx.Identifier{schemaName, "routing_rollup_1m"}.Sanitize()+" x").Scan(&after))
	assert.Equal(t, before, after)
}

// TestRollupPartitionsExpire: the rollup tables are partitioned monthly and
// kept 400 days by default; retention drops the partitions past that.
func TestRollupPartitionsExpire(t *testing.T) {
	ctx := context.Background()
	schemaName := freshSchema("rollup_expire")
	m := newRollupMaintainer(t, schemaName)
	_, err := m.createAhead(ctx, time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Equal(t, []string{"routing_rollup_1m", "routing_rollup_1m_default", "routing_rollup_1m_p202509",
		"routing_rollup_1m_p202510", "routing_rollup_1m_p202511"}, tablesIn(t, schemaName, "routing_rollup_1m"))

	// 5 December 2026 - 400 days = 31 October 2025: September (ended
	// 1 October) goes, October (ends 1 November) stays.
	done, err := m.expire(ctx, time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	var gone []string
	for _, e := range done {
		if strings.HasSuffix(e.table, "_rollup_1m") {
			gone = append(gone, e.name)
			assert.Equal(t, Drop, e.expiry)
		}
	}
	assert.ElementsMatch(t, []string{"routing_rollup_1m_p202509", "tool_call_rollup_1m_p202509",
		"health_rollup_1m_p202509", "session_rollup_1m_p202509"}, gone)
	assert.Equal(t, []string{"routing_rollup_1m", "routing_rollup_1m_default", "routing_rollup_1m_p202510",
		"routing_rollup_1m_p202511"}, tablesIn(t, schemaName, "routing_rollup_1m"))
}

// TestManagerRefreshesRollups: the running manager refreshes at start and
// every rollups::interval of its clock, and counts what it did.
func TestManagerRefreshesRollups(t *testing.T) {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	schemaName := freshSchema("rollup_loop")
	tm := startManager(t, schemaName, start, nil)
	tm.waitForRuns(t, 1)
	eventually(t, "the first refresh", func() bool { return tm.rollupRefreshes(t)["ok"] >= 1 })

	g := &rowGen{rng: rand.New(rand.NewPCG(5, 6)), base: start.Add(-3 * time.Minute)}
	pool := testPool(t)
	require.NoError(t, writeLikeExporter(context.Background(), pool, schemaName, "routing_log", routingColumns, g.routing(3, 90)))
	// The refresh at start+10s leaves the last minute (ended at start) for
	// 15 s (rollups::delay); the one at start+20s takes it.
	tm.clock.Set(start.Add(10 * time.Second))
	eventually(t, "a refresh of the two minutes ended 15 s ago", func() bool {
		return tm.rollupMinutes(t)["routing/refreshed"] == 2 && tm.clock.pending() >= 2
	})
	tm.clock.Set(start.Add(20 * time.Second))
	eventually(t, "a refresh of the third minute", func() bool {
		return tm.rollupMinutes(t)["routing/refreshed"] == 3
	})
	require.Empty(t, rollupMismatches(t, pool, schemaName))
	require.Positive(t, rollupRowCount(t, pool, schemaName, "routing_rollup_1m"))
}

func (tm *testManager) rollupRefreshes(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	m, err := tm.telemetry.GetMetric("otelcol_partitionmgr_rollup_refreshes")
	if err != nil {
		return out
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		r, _ := dp.Attributes.Value("result")
		out[r.AsString()] += dp.Value
	}
	return out
}

func (tm *testManager) rollupMinutes(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	m, err := tm.telemetry.GetMetric("otelcol_partitionmgr_rollup_minutes")
	if err != nil {
		return out
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		r, _ := dp.Attributes.Value("rollup")
		o, _ := dp.Attributes.Value("outcome")
		out[r.AsString()+"/"+o.AsString()] += dp.Value
	}
	return out
}
