#!/usr/bin/env bash
# bench/queries.sh: the seed's look-ups (docs/queries.md) on a routing_log of
# ROWS rows over DAYS daily partitions, in a scratch database (mcp_querybench,
# dropped afterwards). Prints Markdown: data, p50/p99 per query, and plans.
#
#   bash bench/queries.sh                       # 10,000,000 rows, 30 days
#   ROWS=1000000 DAYS=10 RUNS=200 bash bench/queries.sh
#   KEEP=1 bash bench/queries.sh; REUSE=1 bash bench/queries.sh   # measure again without regenerating
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/pg-up.sh >/dev/null 2>&1
exec go run ./bench/internal/querybench -rows "${ROWS:-10000000}" -days "${DAYS:-30}" -runs "${RUNS:-500}" \
	${KEEP:+-keep} ${REUSE:+-keep -reuse} \
	-admin-dsn "${MCP_TEST_ADMIN_DSN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
