// Package rollupcheck compares the per-minute rollups (schema/0005) with a
// GROUP BY over the raw rows they are built from, written here apart from
// rollup_refresh, distributions bucket by bucket. The partition manager's
// tests and the end-to-end tests share it.
package rollupcheck

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// checks pairs each rollup with the GROUP BY over its raw rows, in the
// order Mismatches reports them.
var checks = []struct{ name, raw, rollup string }{
	{
		"health buckets",
		`SELECT date_trunc('minute', ts, 'UTC'), server_key, check_type, rollup_bucket(latency_us), sum(adjusted_count::numeric)
		 FROM health_check_record WHERE latency_us IS NOT NULL GROUP BY 1, 2, 3, 4`,
		`SELECT ts, server_key, check_type, b, latency_hist[b]
		 FROM health_rollup_1m, generate_subscripts(latency_hist, 1) AS b WHERE latency_hist[b] <> 0`,
	},
	{
		"health totals",
		`SELECT date_trunc('minute', ts, 'UTC'), server_key, check_type, count(*), sum(adjusted_count::numeric),
		        coalesce(sum(adjusted_count::numeric) FILTER (WHERE NOT healthy), 0),
		        coalesce(sum(adjusted_count::numeric) FILTER (WHERE latency_us IS NOT NULL), 0),
		        coalesce(sum(latency_us * adjusted_count::numeric), 0)
		 FROM health_check_record GROUP BY 1, 2, 3`,
		`SELECT ts, server_key, check_type, row_count, checks, unhealthy, latency_count, latency_us_sum FROM health_rollup_1m`,
	},
	{
		"routing buckets",
		`SELECT date_trunc('minute', ts, 'UTC'), server_key, method, tool_name,
		        rollup_status_class(failed, error_type, rpc_status_code), rollup_bucket(duration_us), sum(adjusted_count::numeric)
		 FROM routing_log GROUP BY 1, 2, 3, 4, 5, 6`,
		`SELECT ts, server_key, method, tool_name, status_class, b, duration_hist[b]
		 FROM routing_rollup_1m, generate_subscripts(duration_hist, 1) AS b WHERE duration_hist[b] <> 0`,
	},
	{
		"routing totals",
		`SELECT date_trunc('minute', ts, 'UTC'), server_key, method, tool_name,
		        rollup_status_class(failed, error_type, rpc_status_code), count(*), sum(adjusted_count::numeric),
		        coalesce(sum(adjusted_count::numeric) FILTER (WHERE failed), 0), sum(duration_us * adjusted_count::numeric)
		 FROM routing_log GROUP BY 1, 2, 3, 4, 5`,
		`SELECT ts, server_key, method, tool_name, status_class, row_count, requests, errors, duration_us_sum FROM routing_rollup_1m`,
	},
	{
		"sessions ended",
		`SELECT date_trunc('minute', ended_at, 'UTC'), server_key, transport, count(*),
		        coalesce(sum(extract(epoch FROM ended_at - started_at)), 0)
		 FROM session_record WHERE ended_at IS NOT NULL GROUP BY 1, 2, 3`,
		`SELECT ts, server_key, transport, ended, ended_seconds_sum FROM session_rollup_1m WHERE ended > 0`,
	},
	{
		"sessions started",
		`SELECT date_trunc('minute', started_at, 'UTC'), server_key, transport, count(*)
		 FROM session_record WHERE started_at IS NOT NULL GROUP BY 1, 2, 3`,
		`SELECT ts, server_key, transport, started FROM session_rollup_1m WHERE started > 0`,
	},
	{
		"tool call buckets",
		`SELECT date_trunc('minute', ts, 'UTC'), server_key, coalesce(method, 'tools/call'), tool_name,
		        rollup_status_class(failed, error_type, rpc_status_code), rollup_bucket(duration_us), sum(adjusted_count::numeric)
		 FROM tool_call_record GROUP BY 1, 2, 3, 4, 5, 6`,
		`SELECT ts, server_key, method, tool_name, status_class, b, duration_hist[b]
		 FROM tool_call_rollup_1m, generate_subscripts(duration_hist, 1) AS b WHERE duration_hist[b] <> 0`,
	},
	{
		"tool call totals",
		`SELECT date_trunc('minute', ts, 'UTC'), server_key, coalesce(method, 'tools/call'), tool_name,
		        rollup_status_class(failed, error_type, rpc_status_code), count(*), sum(adjusted_count::numeric),
		        coalesce(sum(adjusted_count::numeric) FILTER (WHERE failed), 0), sum(duration_us * adjusted_count::numeric)
		 FROM tool_call_record GROUP BY 1, 2, 3, 4, 5`,
		`SELECT ts, server_key, method, tool_name, status_class, row_count, calls, errors, duration_us_sum FROM tool_call_rollup_1m`,
	},
}

// Mismatches runs every check in schemaName and returns the rows found on
// one side only ("<check>: raw rows only: ..." or "<check>: rollup only:
// ..."), in check order; none when the rollups equal the raw rows.
func Mismatches(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, schemaName string,
) ([]string, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+pgx.Identifier{schemaName}.Sanitize()); err != nil {
		return nil, err
	}
	var out []string
	for _, c := range checks {
		for i, pair := range [][2]string{{c.raw, c.rollup}, {c.rollup, c.raw}} {
			rows, err := tx.Query(ctx, fmt.Sprintf("SELECT x::text FROM ((%s) EXCEPT ALL (%s)) x", pair[0], pair[1]))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			diff, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			for _, d := range diff {
				out = append(out, c.name+": "+[]string{"raw rows only", "rollup only"}[i]+": "+d)
			}
		}
	}
	return out, nil
}
