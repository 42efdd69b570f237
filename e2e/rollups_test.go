package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// rollupChecks pairs each rollup with a GROUP BY over the raw rows it is
// built from (docs/queries.md, "Rollups"), distributions bucket by bucket.
var rollupChecks = map[string][2]string{
	"routing totals": {
		`SELECT date_trunc('minute', ts, 'UTC'), server_key, method, tool_name,
		        rollup_status_class(failed, error_type, rpc_status_code), count(*), sum(adjusted_count::numeric),
		        coalesce(sum(adjusted_count::numeric) FILTER (WHERE failed), 0), sum(duration_us * adjusted_count::numeric)
		 FROM routing_log GROUP BY 1, 2, 3, 4, 5`,
		`SELECT ts, server_key, method, tool_name, status_class, row_count, requests, errors, duration_us_sum FROM routing_rollup_1m`,
	},
	"routing buckets": {
		`SELECT date_trunc('minute', ts, 'UTC'), server_key, method, tool_name,
		        rollup_status_class(failed, error_type, rpc_status_code), rollup_bucket(duration_us), sum(adjusted_count::numeric)
		 FROM routing_log GROUP BY 1, 2, 3, 4, 5, 6`,
		`SELECT ts, server_key, method, tool_name, status_class, b, duration_hist[b]
		 FROM routing_rollup_1m, generate_subscripts(duration_hist, 1) AS b WHERE duration_hist[b] <> 0`,
	},
	"tool call totals": {
		`SELECT date_trunc('minute', ts, 'UTC'), server_key, coalesce(method, 'tools/call'), tool_name,
		        rollup_status_class(failed, error_type, rpc_status_code), count(*), sum(adjusted_count::numeric),
		        coalesce(sum(adjusted_count::numeric) FILTER (WHERE failed), 0), sum(duration_us * adjusted_count::numeric)
		 FROM tool_call_record GROUP BY 1, 2, 3, 4, 5`,
		`SELECT ts, server_key, method, tool_name, status_class, row_count, calls, errors, duration_us_sum FROM tool_call_rollup_1m`,
	},
	"tool call buckets": {
		`SELECT date_trunc('minute', ts, 'UTC'), server_key, coalesce(method, 'tools/call'), tool_name,
		        rollup_status_class(failed, error_type, rpc_status_code), rollup_bucket(duration_us), sum(adjusted_count::numeric)
		 FROM tool_call_record GROUP BY 1, 2, 3, 4, 5, 6`,
		`SELECT ts, server_key, method, tool_name, status_class, b, duration_hist[b]
		 FROM tool_call_rollup_1m, generate_subscripts(duration_hist, 1) AS b WHERE duration_hist[b] <> 0`,
	},
	"health totals": {
		`SELECT date_trunc('minute', ts, 'UTC'), server_key, check_type, count(*), sum(adjusted_count::numeric),
		        coalesce(sum(adjusted_count::numeric) FILTER (WHERE NOT healthy), 0),
		        coalesce(sum(adjusted_count::numeric) FILTER (WHERE latency_us IS NOT NULL), 0),
		        coalesce(sum(latency_us * adjusted_count::numeric), 0)
		 FROM health_check_record GROUP BY 1, 2, 3`,
		`SELECT ts, server_key, check_type, row_count, checks, unhealthy, latency_count, latency_us_sum FROM health_rollup_1m`,
	},
	"sessions": {
		`SELECT m, server_key, transport, sum(started), sum(ended) FROM (
		     SELECT date_trunc('minute', started_at, 'UTC') AS m, server_key, transport, 1 AS started, 0 AS ended
		     FROM session_record WHERE started_at IS NOT NULL
		     UNION ALL
		     SELECT date_trunc('minute', ended_at, 'UTC'), server_key, transport, 0, 1
		     FROM session_record WHERE ended_at IS NOT NULL) s GROUP BY 1, 2, 3`,
		`SELECT ts, server_key, transport, started, ended FROM session_rollup_1m`,
	},
}

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

	var mismatches []string
	for name, q := range rollupChecks {
		for i, pair := range [][2]string{{q[0], q[1]}, {q[1], q[0]}} {
			rows, err := conn.Query(ctx, fmt.Sprintf("SELECT x::text FROM ((%s) EXCEPT ALL (%s)) x", pair[0], pair[1]))
			require.NoError(t, err, name)
			diff, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err, name)
			for _, d := range diff {
				mismatches = append(mismatches, fmt.Sprintf("%s: %s only: %s", name, []string{"raw rows", "rollup"}[i], d))
			}
		}
	}
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
