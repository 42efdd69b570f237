package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/mcp-bridge/otelcol-mcp/internal/rollupcheck"
)

// TestRollupsEqualRawRowsAfterCollectorKill runs the collector-kill chaos
// scenario (SIGKILL while the simulator sends, restart on the same queue:
// the SDK retries, the queue replays, the exporter's dedupe path absorbs the
// replays), reconciles the rows, waits until the partition manager has taken
// every queued minute, and requires every rollup row to equal a GROUP BY
// over the raw rows.
func TestRollupsEqualRawRowsAfterCollectorKill(t *testing.T) {
	schemaName := freshSchema("e2e_rollups_kill")
	grpcAddr := freePort(t)
	env := append(append([]string{}, keepEverySampledEvent...),
		"MCP_STORAGE_DIR="+t.TempDir(), "MCP_OTLP_GRPC_ENDPOINT="+grpcAddr)
	c := startCollector(t, schemaName, env...)

	sim := startSim(t, grpcAddr, 6000)
	before := waitForRoutingRows(t, schemaName, 1)
	require.NoError(t, c.cmd.Process.Kill())
	_ = c.cmd.Wait()
	t.Logf("SIGKILL after %d routing_log rows", before)
	c = startCollector(t, schemaName, env...)
	sim.wait(t)
	sim.reconcile(t, schemaName)

	ctx := context.Background()
	conn, err := testDB.Connect(ctx)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SET search_path TO "+pgx.Identifier{schemaName}.Sanitize())
	require.NoError(t, err)
	// Every row is stored (reconciled); once the queue is empty, the refresh
	// that emptied it has committed the recomputed minutes with it.
	// A minute is refreshed once it ended rollups::delay (15 s) ago.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var queued int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM rollup_dirty").Scan(&queued))
		if queued == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "rollup_dirty still holds %d minutes after 3 minutes", queued)
		time.Sleep(100 * time.Millisecond)
	}

	mismatches, err := rollupcheck.Mismatches(ctx, conn, schemaName)
	require.NoError(t, err)
	require.Empty(t, mismatches)
	var routed, minutes int
	require.NoError(t, conn.QueryRow(ctx, "SELECT coalesce(sum(row_count), 0), count(DISTINCT ts) FROM routing_rollup_1m").Scan(&routed, &minutes))
	require.Positive(t, minutes)
	var stored int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM routing_log").Scan(&stored))
	require.Equal(t, stored, routed, "the rollups count every stored routing_log row")
	t.Logf("%d routing_log rows in %d minutes of rollups", routed, minutes)
	c.stop(t)
}
