#!/usr/bin/env bash
# bench/commit_floor.sh: what one commit of 1,000 routing_log rows costs the
# server, independent of the exporter: the rows are inserted with
# INSERT ... SELECT from a temp table (no client, no network), into
#   (a) a copy of routing_log without indexes or partitions,
#   (b) routing_log itself (partitioned, primary key + 4 indexes),
# and the COMMIT is timed with synchronous_commit on and off.
# Prints the median of ROUNDS rounds, in milliseconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${ROUNDS:-20}
bash scripts/pg-up.sh >/dev/null 2>&1
# The server scripts/pg-up.sh answered for (MCP_PG_HOST/MCP_PG_PORT).
pg_host=${MCP_PG_HOST:-127.0.0.1} pg_port=${MCP_PG_PORT:-5432}
db=mcp_commit_floor_$$
psql -h "$pg_host" -p "$pg_port" -U postgres -qAt -c "CREATE DATABASE $db"
trap 'psql -h "$pg_host" -p "$pg_port" -U postgres -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
go run ./bench/internal/applyschema "postgres://postgres@$pg_host:$pg_port/$db?sslmode=disable" bench >/dev/null

{
	cat <<'SQL'
SET search_path TO bench;
CREATE TABLE plain (LIKE routing_log INCLUDING DEFAULTS);
CREATE TEMP TABLE src AS
SELECT now() AS ts, decode(md5(g::text), 'hex') AS trace_id, substr(decode(md5(g::text || 's'), 'hex'), 1, 8) AS span_id,
       NULL::bytea AS parent_span_id, 42000::bigint AS duration_us, 'tools/call get_weather' AS span_name,
       'tools/call' AS method, 'get_weather' AS tool_name, NULL AS resource_uri,
       '0f8e2a9c-3b1d-4c5e-9f7a-1234567890ab' AS session_id, g::text AS request_id, 'weather-1' AS server_key,
       'round_robin' AS strategy, 1 AS attempt, 'unset' AS status, NULL AS status_message, NULL AS error_type,
       NULL AS rpc_status_code, '2025-06-18' AS protocol_version, 'tcp' AS transport, '10.0.0.7' AS client_address,
       'mcp-router' AS service_name, 'router-1' AS service_instance, 1.0::float8 AS adjusted_count,
       '{"tenant":"acme"}'::jsonb AS attributes
FROM generate_series(1, 1000) g;
\timing on
SQL
	for r in $(seq 1 "$ROUNDS"); do
		cat <<SQL
\echo round $r
BEGIN;
INSERT INTO plain (ts, trace_id, span_id, parent_span_id, duration_us, span_name, method, tool_name, resource_uri, session_id, request_id, server_key, strategy, attempt, status, status_message, error_type, rpc_status_code, protocol_version, transport, client_address, service_name, service_instance, adjusted_count, attributes) SELECT * FROM src;
COMMIT;
BEGIN;
INSERT INTO routing_log (ts, trace_id, span_id, parent_span_id, duration_us, span_name, method, tool_name, resource_uri, session_id, request_id, server_key, strategy, attempt, status, status_message, error_type, rpc_status_code, protocol_version, transport, client_address, service_name, service_instance, adjusted_count, attributes) SELECT ts + interval '$r microseconds', trace_id, span_id, parent_span_id, duration_us, span_name, method, tool_name, resource_uri, session_id, request_id, server_key, strategy, attempt, status, status_message, error_type, rpc_status_code, protocol_version, transport, client_address, service_name, service_instance, adjusted_count, attributes FROM src;
SET LOCAL synchronous_commit = off;
COMMIT;
SQL
	done
} | psql -h "$pg_host" -p "$pg_port" -U postgres -d "$db" -qAt 2>&1 | awk '
/^Time:/ { t[++n] = $2 }
function median(a, k,   i, j, x, b) { for (i = 1; i <= k; i++) b[i] = a[i] + 0
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (b[j] < b[i]) { x = b[i]; b[i] = b[j]; b[j] = x }
	return (k % 2) ? b[(k + 1) / 2] : (b[k / 2] + b[k / 2 + 1]) / 2 }
END {
	# per round: BEGIN, INSERT plain, COMMIT (sync on), BEGIN, INSERT routing_log, SET, COMMIT (sync off)
	rounds = int(n / 7)
	for (r = 0; r < rounds; r++) { p[r+1] = t[r*7+2]; c_on[r+1] = t[r*7+3]; f[r+1] = t[r*7+5]; c_off[r+1] = t[r*7+7] }
	printf "median of %d rounds, 1,000 rows each (ms):\n", rounds
	printf "  INSERT into an index-free copy of routing_log:     %6.2f\n", median(p, rounds)
	printf "  INSERT into routing_log (partitioned, PK + 4 idx): %6.2f\n", median(f, rounds)
	printf "  COMMIT, synchronous_commit = on (WAL fsync):       %6.2f\n", median(c_on, rounds)
	printf "  COMMIT, synchronous_commit = off:                  %6.2f\n", median(c_off, rounds)
}'
