#!/usr/bin/env bash
# bench/queries.sh: the seed's look-ups (docs/queries.md) on a routing_log of
# ROWS rows over DAYS daily partitions, in a scratch database (mcp_querybench,
# dropped afterwards). Prints Markdown: data, p50/p99 per query, and plans.
#
#   bash bench/queries.sh                       # 10,000,000 rows, 30 days
#   ROWS=1000000 DAYS=10 RUNS=200 bash bench/queries.sh
#   KEEP=1 bash bench/queries.sh; REUSE=1 bash bench/queries.sh   # measure again without regenerating
#
# MODE=dashboard adds ROLLUP_DAYS days of per-minute rollups (routing_rollup_1m,
# SERVERS servers, ~10,000 routed requests/s), times the dashboard's
# per-minute queries alone (RUNS runs each), then runs CLIENTS clients for
# DURATION seconds, each issuing one query per second on an open-loop
# schedule (the rollup queries and the look-ups above; KINDS=server-24h,req-day
# to choose), while a writer COPYs INGEST rows/s into routing_log:
#
#   MODE=dashboard CLIENTS=16 DURATION=60 INGEST=20000 ROWS=1000000 DAYS=8 ROLLUP_DAYS=30 RUNS=20 bash bench/queries.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/pg-up.sh >/dev/null 2>&1
exec go run ./bench/internal/querybench -rows "${ROWS:-10000000}" -days "${DAYS:-30}" -runs "${RUNS:-500}" \
	-mode "${MODE:-lookups}" -rollup-days "${ROLLUP_DAYS:-30}" -servers "${SERVERS:-50}" \
	-clients "${CLIENTS:-16}" -duration "${DURATION:-60}s" -ingest "${INGEST:-20000}" -kinds "${KINDS:-}" \
	${KEEP:+-keep} ${REUSE:+-keep -reuse} \
	-admin-dsn "${MCP_TEST_ADMIN_DSN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
