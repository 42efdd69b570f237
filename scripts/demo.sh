#!/usr/bin/env bash
# End-to-end demo: start the built collector against PostgreSQL, run the
# simulated router fleet (cmd/mcprouter-sim) for a bounded time, then
# reconcile every id it sent against the tables and print a per-table summary.
#
# Called by `make demo` after scripts/pg-up.sh (PostgreSQL answers) and
# `make build` (./build/otelcol-mcp exists). Exits 0 when the reconciliation
# finds nothing missing or duplicated in the unsampled kinds and the sampled
# kinds (health checks, LB decisions) within their bounds; non-zero
# otherwise (with the collector log tail).
#
# Environment: MCP_PG_DSN (URL form), MCP_PG_SCHEMA (default mcp),
# DEMO_RATE routed requests/s (default 1000), DEMO_DURATION (default 10s),
# DEMO_REQUESTS (stop after this many requests instead of after DEMO_DURATION),
# DEMO_TIMEOUT seconds to wait for the rows (default 120).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export MCP_PG_DSN=${MCP_PG_DSN:-postgres://postgres@127.0.0.1:5432/mcp_bridge?sslmode=disable}
schema=${MCP_PG_SCHEMA:-mcp}
rate=${DEMO_RATE:-1000}
duration=${DEMO_DURATION:-10s}
requests=${DEMO_REQUESTS:-}
rows_timeout=${DEMO_TIMEOUT:-120}

# Non-default ports and a fresh queue, so the demo clashes with nothing.
export MCP_OTLP_GRPC_ENDPOINT=localhost:14317
export MCP_OTLP_HTTP_ENDPOINT=localhost:14318
export MCP_EVENTS_ENDPOINT=localhost:14320
export MCP_HEALTH_ENDPOINT=localhost:13134
export MCP_METRICS_PORT=18888
export MCP_STORAGE_DIR=./.run/demo-queue

collector=./build/otelcol-mcp
config=otelcol-config.yaml
run_dir=./.run
log=$run_dir/demo-collector.log
manifest=$run_dir/demo-manifest.gz
sim=$run_dir/mcprouter-sim
health_url=http://$MCP_HEALTH_ENDPOINT/

tables=(routing_log tool_call_record tool_call_payload error_log health_check_record
	lb_decision circuit_breaker_event metric_point mcp_server session_record rejected_event)

say() { printf 'demo: %s\n' "$*"; }
die() {
	printf 'demo: FAILED: %s\n' "$*" >&2
	if [[ -n $collector_started && -s $log ]]; then
		printf '\n--- last 40 lines of %s ---\n' "$log" >&2
		tail -n 40 "$log" >&2
	fi
	exit 1
}

collector_started=
collector_pid=
# stop_collector sends SIGTERM and waits (bounded) for the collector to exit;
# it sets collector_rc to the collector's exit status.
collector_rc=
stop_collector() {
	[[ -n $collector_pid ]] || return 0
	local pid=$collector_pid deadline=$((SECONDS + 30))
	collector_pid=
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		printf 'demo: collector %s ignored SIGTERM for 30 s: killing it\n' "$pid" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	collector_rc=0
	wait "$pid" 2>/dev/null || collector_rc=$?
}
trap stop_collector EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

psql_db() { psql "$MCP_PG_DSN" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }

# rows TABLE prints the table's row count, 0 when it does not exist yet.
rows() {
	local n
	n=$(psql_db -c "SELECT to_regclass('$schema.$1') IS NOT NULL") || die "cannot query $MCP_PG_DSN"
	if [[ $n == t ]]; then
		psql_db -c "SELECT count(*) FROM $schema.$1" || die "cannot count $schema.$1"
	else
		echo 0
	fi
}

# manifest_get JQ_PATH prints one value of the simulator's manifest header
# (the first line of the gzip file).
manifest_header() { gzip -dc "$manifest" 2>/dev/null | head -n 1 || true; }
manifest_get() { manifest_header | jq -er "$1" || die "manifest $manifest has no $1"; }

# --- preconditions -----------------------------------------------------------
for tool in psql jq curl go gzip; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x $collector ]] || die "$collector is missing: run make build"
[[ -f $config ]] || die "$config is missing"
[[ $schema =~ ^[a-z_][a-z0-9_]*$ ]] || die "MCP_PG_SCHEMA=$schema is not a plain lower-case identifier"
[[ -z $requests || $requests =~ ^[1-9][0-9]*$ ]] || die "DEMO_REQUESTS=$requests is not a positive number"
[[ $rate =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "DEMO_RATE=$rate is not a number"
[[ $rows_timeout =~ ^[1-9][0-9]*$ ]] || die "DEMO_TIMEOUT=$rows_timeout is not a positive number"

# The database: MCP_PG_DSN names it; create it through the postgres database.
if [[ $MCP_PG_DSN =~ ^(postgres(ql)?://[^/?]*)/([^?]+)(\?.*)?$ ]]; then
	admin_dsn=${BASH_REMATCH[1]}/postgres${BASH_REMATCH[4]}
	db=${BASH_REMATCH[3]}
else
	die "MCP_PG_DSN must be a URL naming the database (postgres://user@host:port/db?...), got $MCP_PG_DSN"
fi
[[ $db =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "database name '$db' is not a plain identifier"
psql "$admin_dsn" -X -q -c 'SELECT 1' >/dev/null || die "PostgreSQL does not answer at $admin_dsn (run scripts/pg-up.sh)"
if [[ $(psql "$admin_dsn" -X -t -A -c "SELECT 1 FROM pg_database WHERE datname = '$db'") != 1 ]]; then
	say "creating database $db"
	# A concurrent creator may win the race; only its absence afterwards is an error.
	psql "$admin_dsn" -X -q -c "CREATE DATABASE \"$db\"" 2>/dev/null ||
		[[ $(psql "$admin_dsn" -X -t -A -c "SELECT 1 FROM pg_database WHERE datname = '$db'") == 1 ]] ||
		die "cannot create database $db"
fi

# Nothing may answer on the demo's ports yet, or we would talk to a stranger.
for endpoint in "$MCP_OTLP_GRPC_ENDPOINT" "$MCP_OTLP_HTTP_ENDPOINT" "$MCP_EVENTS_ENDPOINT" "$MCP_HEALTH_ENDPOINT" "localhost:$MCP_METRICS_PORT"; do
	if (exec 3<>"/dev/tcp/${endpoint%:*}/${endpoint##*:}") 2>/dev/null; then
		die "something already listens on $endpoint (another collector?)"
	fi
done

mkdir -p "$run_dir"
say "building the simulator"
go build -o "$sim" ./cmd/mcprouter-sim || die "go build ./cmd/mcprouter-sim failed"

# --- collector -----------------------------------------------------------------
rm -rf "$MCP_STORAGE_DIR" "$manifest"
mkdir -p "$MCP_STORAGE_DIR"
say "starting $collector (log: $log)"
# With the container image's Go runtime settings (scripts/runtime-env.sh).
(source scripts/runtime-env.sh && exec "$collector" --config "$config") >"$log" 2>&1 &
collector_pid=$!
collector_started=1

deadline=$((SECONDS + 30))
until curl -fsS -o /dev/null --max-time 1 "$health_url" 2>/dev/null; do
	kill -0 "$collector_pid" 2>/dev/null || die "the collector exited during start-up"
	((SECONDS < deadline)) || die "the collector's health check $health_url did not answer within 30 s"
	sleep 0.2
done
say "collector $collector_pid is healthy"

declare -A before
for t in "${tables[@]}"; do
	before[$t]=$(rows "$t")
done

# --- traffic -------------------------------------------------------------------
bound=(-duration "$duration")
if [[ -n $requests ]]; then
	bound=(-duration 0 -requests "$requests")
	say "sending $requests routed requests at up to $rate/s to $MCP_OTLP_GRPC_ENDPOINT"
else
	say "sending routed requests at $rate/s for $duration to $MCP_OTLP_GRPC_ENDPOINT"
fi
# Outages every ~30 s per upstream and a health check per second, so that a
# short run shows breakers opening and closing and failed health checks.
"$sim" run -endpoint "$MCP_OTLP_GRPC_ENDPOINT" -rate "$rate" "${bound[@]}" -manifest "$manifest" \
	-outage-rate 2 -health-interval 1s ||
	die "the simulator could not deliver its telemetry"
instance=$(manifest_get .service_instance_id)

# --- reconciliation --------------------------------------------------------------
# Sampling (if the pipeline samples) makes exact row counts unknowable, so wait
# until every unsampled id is stored, or until the counts stop changing.
echo
say "reconciling $manifest against $schema (waiting up to ${rows_timeout} s for the rows)"
reconcile_rc=0
"$sim" reconcile -manifest "$manifest" -dsn "$MCP_PG_DSN" -schema "$schema" \
	-wait "${rows_timeout}s" -settle 20s || reconcile_rc=$?
((reconcile_rc <= 1)) || die "the reconciliation could not run (exit $reconcile_rc)"

declare -A grew
for t in "${tables[@]}"; do
	n=$(rows "$t")
	grew[$t]=$((n - before[$t]))
done

# --- summary -------------------------------------------------------------------
echo
printf '%-28s %10s %10s\n' table rows "+this run"
for t in "${tables[@]}"; do
	if [[ $(psql_db -c "SELECT to_regclass('$schema.$t') IS NOT NULL") == t ]]; then
		n=$(psql_db -c "SELECT count(*) FROM $schema.$t")
	else
		n=missing
	fi
	printf '%-28s %10s %10s\n' "$schema.$t" "$n" "${grew[$t]}"
done

echo
# Nothing is ignored silently: what yielded no row is counted by reason
# (docs/compatibility.md). The simulator's telemetry is conventional, so
# this is normally empty.
echo "Telemetry that yielded no row (otelcol_exporter_mcppg_items_unmapped):"
unmapped=$(curl -fsS --max-time 5 "http://${MCP_METRICS_HOST:-localhost}:$MCP_METRICS_PORT/metrics" |
	awk '/^otelcol_exporter_mcppg_items_unmapped/ {
		match($0, /reason="[^"]*"/); r = substr($0, RSTART + 8, RLENGTH - 9)
		match($0, /signal="[^"]*"/); s = substr($0, RSTART + 8, RLENGTH - 9)
		printf "  %s %s: %s\n", s, r, $NF }' || true)
echo "${unmapped:-  none}"

echo
echo "Sample routing_log rows of this run (latest, then latest failures):"
psql "$MCP_PG_DSN" -X -q -v ON_ERROR_STOP=1 -P footer=off -c "
(SELECT to_char(ts AT TIME ZONE 'UTC', 'HH24:MI:SS.MS') AS time_utc, method, tool_name AS tool,
        server_key, status, duration_us
   FROM $schema.routing_log WHERE service_instance = '$instance' ORDER BY ts DESC LIMIT 5)
UNION ALL
(SELECT to_char(ts AT TIME ZONE 'UTC', 'HH24:MI:SS.MS'), method, tool_name, server_key, status, duration_us
   FROM $schema.routing_log WHERE service_instance = '$instance' AND status = 'error' ORDER BY ts DESC LIMIT 3)"

echo
echo "Partitions (made by the partitionmgr extension; DEFAULT holds rows outside them):"
psql "$MCP_PG_DSN" -X -q -v ON_ERROR_STOP=1 -P footer=off -c "
SELECT p.relname AS table, count(*) FILTER (WHERE c.relname <> p.relname || '_default') AS partitions,
       min(c.relname) FILTER (WHERE c.relname <> p.relname || '_default') AS first,
       max(c.relname) FILTER (WHERE c.relname <> p.relname || '_default') AS last
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
  JOIN pg_namespace n ON n.oid = p.relnamespace
 WHERE n.nspname = '$schema' AND p.relkind = 'p' GROUP BY p.relname ORDER BY 1"

# --- stop ----------------------------------------------------------------------
say "stopping the collector"
stop_collector
((collector_rc == 0)) || die "the collector exited with status $collector_rc after SIGTERM"
((reconcile_rc == 0)) || die "the reconciliation found lost, duplicated or out-of-bounds rows (report above)"
say "OK: $(manifest_get .kinds.routing.sent) routed requests at $(manifest_get '.achieved_rate | floor')/s; nothing lost, nothing duplicated"
