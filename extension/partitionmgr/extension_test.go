package partitionmgr

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mcp-bridge/otelcol-mcp/extension/partitionmgr/internal/metadata"
	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
)

// testDBs holds the database of each test that asked for one, by test name.
var testDBs sync.Map

// testDB returns the database of t, created on first use (prefix
// mcp_partitionmgr_test) and dropped when t ends. The package has no TestMain
// of its own: the generated one (generated_package_test.go) checks for leaked
// goroutines, and a database per test leaves nothing behind when it exits.
func testDB(t testing.TB) *pgtest.Database {
	t.Helper()
	if db, ok := testDBs.Load(t.Name()); ok {
		return db.(*pgtest.Database)
	}
	db, err := pgtest.CreateDatabase("mcp_partitionmgr_test")
	require.NoError(t, err)
	testDBs.Store(t.Name(), db)
	t.Cleanup(func() {
		testDBs.Delete(t.Name())
		assert.NoError(t, db.Drop())
	})
	return db
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Set moves the clock to t and wakes every waiter due by then.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// pending is the number of goroutines waiting on the clock.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// statusHost records the status events of the extension.
type statusHost struct {
	mu     sync.Mutex
	events []componentstatus.Status
}

func (h *statusHost) GetExtensions() map[component.ID]component.Component { return nil }

func (h *statusHost) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev.Status())
}

func (h *statusHost) statuses() []componentstatus.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]componentstatus.Status(nil), h.events...)
}

type testManager struct {
	*partitionManager
	clock     *fakeClock
	host      *statusHost
	telemetry *componenttest.Telemetry
}

// startManager starts a partition manager on schemaName at the fake instant now.
func startManager(t *testing.T, schemaName string, now time.Time, edit func(*Config)) *testManager {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.DSN = configopaque.String(testDB(t).DSN)
	cfg.Schema = schemaName
	cfg.ArchiveSchema = schemaName + "_archive"
	if edit != nil {
		edit(cfg)
	}
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	set := extensiontest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	clk := newFakeClock(now)
	pm, err := newPartitionManager(cfg, set, clk)
	require.NoError(t, err)
	host := &statusHost{}
	require.NoError(t, pm.Start(context.Background(), host))
	t.Cleanup(func() {
		require.NoError(t, pm.Shutdown(context.Background()))
		require.NoError(t, tel.Shutdown(context.Background()))
	})
	return &testManager{partitionManager: pm, clock: clk, host: host, telemetry: tel}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
		time.Sleep(10 * time.Millisecond)
	}
}

// runs returns the count of maintenance runs per "job/result".
func (tm *testManager) runs(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	m, err := tm.telemetry.GetMetric("otelcol_partitionmgr_runs")
	if err != nil {
		return out
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		j, _ := dp.Attributes.Value("task")
		r, _ := dp.Attributes.Value("result")
		out[j.AsString()+"/"+r.AsString()] += dp.Value
	}
	return out
}

// waitForRuns waits until the manager finished n runs of each job (any
// result) and waits on the clock again.
func (tm *testManager) waitForRuns(t *testing.T, n int64) {
	t.Helper()
	eventually(t, "maintenance runs", func() bool {
		r := tm.runs(t)
		var create, expire int64
		for k, v := range r {
			switch k[:6] {
			case "create":
				create += v
			case "expire":
				expire += v
			}
		}
		return create >= n && expire >= n && tm.clock.pending() > 0
	})
}

func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testDB(t).DSN)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// partitionBounds lists the partitions of schemaName.table as
// "name from to" in the zone loc, sorted.
func partitionBounds(t *testing.T, schemaName, table string, loc *time.Location) []string {
	t.Helper()
	pool := testPool(t)
	rows, err := pool.Query(context.Background(), `
		SELECT c.relname, b[1]::timestamptz, b[2]::timestamptz
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
		     regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']*)''\) TO \(''([^'']*)''\)') AS b
		WHERE i.inhparent = $1::regclass AND b IS NOT NULL`, pgx.Identifier{schemaName, table}.Sanitize())
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var name string
		var from, to time.Time
		require.NoError(t, rows.Scan(&name, &from, &to))
		out = append(out, name+" "+from.In(loc).Format(time.RFC3339)+" "+to.In(loc).Format(time.RFC3339))
	}
	require.NoError(t, rows.Err())
	sort.Strings(out)
	return out
}

// TestCreatesAheadAcrossMonthAndDST starts the manager in Berlin on
// 27 March 2026: daily partitions run across the DST change (29 March, a
// 23-hour day) into April, monthly ones two months ahead.
func TestCreatesAheadAcrossMonthAndDST(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	tm := startManager(t, "ahead", time.Date(2026, 3, 27, 10, 0, 0, 0, berlin), func(c *Config) { c.TimeZone = "Europe/Berlin" })
	tm.waitForRuns(t, 1)
	assert.True(t, tm.SchemaReady())
	assert.Equal(t, map[string]int64{"create/ok": 1, "expire/ok": 1}, tm.runs(t))

	assert.Equal(t, []string{
		"routing_log_p20260327 2026-03-27T00:00:00+01:00 2026-03-28T00:00:00+01:00",
		"routing_log_p20260328 2026-03-28T00:00:00+01:00 2026-03-29T00:00:00+01:00",
		"routing_log_p20260329 2026-03-29T00:00:00+01:00 2026-03-30T00:00:00+02:00",
		"routing_log_p20260330 2026-03-30T00:00:00+02:00 2026-03-31T00:00:00+02:00",
		"routing_log_p20260331 2026-03-31T00:00:00+02:00 2026-04-01T00:00:00+02:00",
		"routing_log_p20260401 2026-04-01T00:00:00+02:00 2026-04-02T00:00:00+02:00",
		"routing_log_p20260402 2026-04-02T00:00:00+02:00 2026-04-03T00:00:00+02:00",
		"routing_log_p20260403 2026-04-03T00:00:00+02:00 2026-04-04T00:00:00+02:00",
	}, partitionBounds(t, "ahead", "routing_log", berlin))
	assert.Equal(t, []string{
		"circuit_breaker_event_p202603 2026-03-01T00:00:00+01:00 2026-04-01T00:00:00+02:00",
		"circuit_breaker_event_p202604 2026-04-01T00:00:00+02:00 2026-05-01T00:00:00+02:00",
		"circuit_breaker_event_p202605 2026-05-01T00:00:00+02:00 2026-06-01T00:00:00+02:00",
	}, partitionBounds(t, "ahead", "circuit_breaker_event", berlin))
	assert.Len(t, partitionBounds(t, "ahead", "health_check_record", berlin), 5, "this week and four ahead")
	assert.Contains(t, tm.host.statuses(), componentstatus.StatusOK)
}

// TestScheduleRunsAtTheFakeInstants moves the fake clock through a week:
// the create job runs every day at 02:00, the expire job on Sunday at 03:00.
func TestScheduleRunsAtTheFakeInstants(t *testing.T) {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) // a Thursday
	tm := startManager(t, "schedule", start, nil)
	tm.waitForRuns(t, 1)

	tm.clock.Set(time.Date(2026, 11, 27, 1, 59, 0, 0, time.UTC))
	assert.Equal(t, int64(1), tm.runs(t)["create/ok"], "not before 02:00")
	tm.clock.Set(time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC))
	eventually(t, "Friday 02:00 create run", func() bool { return tm.runs(t)["create/ok"] == 2 && tm.clock.pending() > 0 })
	tm.clock.Set(time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC))
	eventually(t, "Saturday 02:00 create run", func() bool { return tm.runs(t)["create/ok"] == 3 && tm.clock.pending() > 0 })
	assert.Equal(t, int64(1), tm.runs(t)["expire/ok"], "expire waits for Sunday")
	tm.clock.Set(time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC))
	eventually(t, "Sunday 02:00 create run", func() bool { return tm.runs(t)["create/ok"] == 4 && tm.clock.pending() > 0 })
	tm.clock.Set(time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC))
	eventually(t, "Sunday 03:00 expire run", func() bool { return tm.runs(t)["expire/ok"] == 2 && tm.clock.pending() > 0 })
	assert.Equal(t, map[string]int64{"create/ok": 4, "expire/ok": 2}, tm.runs(t))
	assert.Len(t, partitionBounds(t, "schedule", "routing_log", time.UTC), 11, "26 Nov to 6 Dec")
}

// TestStartsWhileDatabaseIsDown starts the manager with PostgreSQL out of
// reach: Start succeeds, the schema waits, and is applied once the database
// answers and the retry interval has passed.
func TestStartsWhileDatabaseIsDown(t *testing.T) {
	proxy, dsn := pgtest.ProxyFor(t, testDB(t).DSN, false)
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tm := startManager(t, "down", start, func(c *Config) { c.DSN = configopaque.String(dsn) })

	eventually(t, "a failed attempt", func() bool { return len(tm.host.statuses()) > 0 && tm.clock.pending() > 0 })
	assert.False(t, tm.SchemaReady())
	assert.Equal(t, componentstatus.StatusRecoverableError, tm.host.statuses()[0])
	assert.ErrorIs(t, tm.EnsurePartitions(context.Background(), "routing_log", start), ErrSchemaNotReady)

	proxy.SetUp(true)
	tm.clock.Set(start.Add(10 * time.Second))
	tm.waitForRuns(t, 1)
	assert.True(t, tm.SchemaReady())
	assert.Len(t, partitionBounds(t, "down", "routing_log", time.UTC), 8)
}
