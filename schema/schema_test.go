package schema

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
)

var testDB *pgtest.Database

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "mcp_schema_test", &testDB)) }

// freshSchema names a schema no earlier run of the test used (-count=N).
func freshSchema(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

func testPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testDB.DSN)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func TestMigrationsAreNumberedInOrder(t *testing.T) {
	ms, err := Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	for i, m := range ms {
		require.Equal(t, i+1, m.Version, "migration %s", m.Name)
		require.Len(t, m.Checksum, 64)
	}
}

func TestApplyFromEmptyThenAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := testPool(t)
	ms, err := Migrations()
	require.NoError(t, err)
	var all []int
	for _, m := range ms {
		all = append(all, m.Version)
	}

	s := freshSchema("apply_twice")
	applied, err := Apply(ctx, pool, s)
	require.NoError(t, err)
	require.Equal(t, all, applied)

	applied, err = Apply(ctx, pool, s)
	require.NoError(t, err)
	require.Empty(t, applied, "a second apply changes nothing")

	var tables []string
	rows, err := pool.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`, s)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{
		"circuit_breaker_event", "error_log", "health_check_record", "health_rollup_1m", "lb_decision", "mcp_server",
		"metric_point", "rejected_event", "rollup_dirty", "routing_log", "routing_rollup_1m", "schema_migrations",
		"session_record", "session_rollup_1m", "tool_call_payload", "tool_call_record", "tool_call_rollup_1m",
	}, tables)

	// Every partitioned table has its DEFAULT partition.
	var missingDefault []string
	rows, err = pool.Query(ctx, `SELECT p.relname FROM pg_class p JOIN pg_namespace n ON n.oid = p.relnamespace
		WHERE n.nspname = $1 AND p.relkind = 'p' AND NOT EXISTS (
			SELECT 1 FROM pg_partitioned_table pt WHERE pt.partrelid = p.oid AND pt.partdefid <> 0)`, s)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		missingDefault = append(missingDefault, name)
	}
	require.NoError(t, rows.Err())
	require.Empty(t, missingDefault)
}

func TestConcurrentAppliersApplyOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := testPool(t)
	s := freshSchema("concurrent")
	const appliers = 4
	results := make([][]int, appliers)
	errs := make([]error, appliers)
	var wg sync.WaitGroup
	for i := range appliers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Apply(ctx, pool, s)
		}()
	}
	wg.Wait()
	total := 0
	for i := range appliers {
		require.NoError(t, errs[i])
		total += len(results[i])
	}
	ms, err := Migrations()
	require.NoError(t, err)
	require.Equal(t, len(ms), total, "each migration applied exactly once across appliers")

	var recorded int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+s+".schema_migrations").Scan(&recorded))
	require.Equal(t, len(ms), recorded)
}

func TestApplyRefusesChangedMigration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := testPool(t)
	s := freshSchema("changed")
	_, err := Apply(ctx, pool, s)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "UPDATE "+s+".schema_migrations SET checksum = 'edited' WHERE version = 1")
	require.NoError(t, err)
	_, err = Apply(ctx, pool, s)
	require.EqualError(t, err, "migration 0001_init.sql was applied with checksum edited but is now "+mustChecksum(t, 1)+": migrations must never change once released")
}

func mustChecksum(t *testing.T, version int) string {
	ms, err := Migrations()
	require.NoError(t, err)
	for _, m := range ms {
		if m.Version == version {
			return m.Checksum
		}
	}
	t.Fatalf("no migration %d", version)
	return ""
}

func TestPartitionedTablesMatchDDL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := testPool(t)
	_, err := Apply(ctx, pool, "partitioned")
	require.NoError(t, err)
	rows, err := pool.Query(ctx, `SELECT c.relname, d.relname FROM pg_partitioned_table pt
		JOIN pg_class c ON c.oid = pt.partrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_class d ON d.oid = pt.partdefid WHERE n.nspname = 'partitioned'`)
	require.NoError(t, err)
	got := map[string]struct{}{}
	for rows.Next() {
		var table, def string
		require.NoError(t, rows.Scan(&table, &def))
		require.Equal(t, DefaultPartition(table), def)
		got[table] = struct{}{}
	}
	require.NoError(t, rows.Err())
	require.Equal(t, PartitionedTables, got)
}
