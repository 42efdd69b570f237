#!/usr/bin/env bash
# End-to-end demo: start the built collector against PostgreSQL, send a burst of
# simulated MCP router spans, and wait until exactly the expected rows arrive.
#
# Called by `make demo` after scripts/pg-up.sh (PostgreSQL answers) and
# `make build` (./build/otelcol-mcp exists). Exits 0 when routing_log,
# tool_call_record and error_log grew by exactly what the simulator's manifest
# says, non-zero otherwise (with the collector log tail).
#
# Environment: MCP_PG_DSN (URL form), MCP_PG_SCHEMA (default mcp),
# DEMO_REQUESTS (default 2000), DEMO_TIMEOUT seconds for the rows (default 60).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export MCP_PG_DSN=${MCP_PG_DSN:-postgres://postgres@127.0.0.1:5432/mcp_bridge?sslmode=disable}
schema=${MCP_PG_SCHEMA:-mcp}
requests=${DEMO_REQUESTS:-2000}
rows_timeout=${DEMO_TIMEOUT:-60}

# Non-default ports and a fresh queue, so the demo clashes with nothing.
export MCP_OTLP_GRPC_ENDPOINT=localhost:14317
export MCP_OTLP_HTTP_ENDPOINT=localhost:14318
export MCP_HEALTH_ENDPOINT=localhost:13134
export MCP_METRICS_PORT=18888
export MCP_STORAGE_DIR=./.run/demo-queue

collector=./build/otelcol-mcp
config=otelcol-config.yaml
run_dir=./.run
log=$run_dir/demo-collector.log
manifest=$run_dir/demo-manifest.json
sim=$run_dir/mcprouter-sim
health_url=http://$MCP_HEALTH_ENDPOINT/

tables=(routing_log tool_call_record tool_call_payload error_log health_check_record
	lb_decision circuit_breaker_event metric_point mcp_server session_record rejected_event)
checked=(routing_log tool_call_record error_log)

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

# manifest_get JQ_PATH prints one value of the simulator's manifest.
manifest_get() { jq -er "$1" "$manifest" || die "manifest $manifest has no $1"; }

# --- preconditions -----------------------------------------------------------
for tool in psql jq curl go; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x $collector ]] || die "$collector is missing: run make build"
[[ -f $config ]] || die "$config is missing"
[[ $schema =~ ^[a-z_][a-z0-9_]*$ ]] || die "MCP_PG_SCHEMA=$schema is not a plain lower-case identifier"
[[ $requests =~ ^[1-9][0-9]*$ ]] || die "DEMO_REQUESTS=$requests is not a positive number"

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
for endpoint in "$MCP_OTLP_GRPC_ENDPOINT" "$MCP_OTLP_HTTP_ENDPOINT" "$MCP_HEALTH_ENDPOINT" "localhost:$MCP_METRICS_PORT"; do
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
"$collector" --config "$config" >"$log" 2>&1 &
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
for t in "${checked[@]}"; do
	before[$t]=$(rows "$t")
done

# --- traffic -------------------------------------------------------------------
say "sending $requests requests to $MCP_OTLP_GRPC_ENDPOINT"
"$sim" -endpoint "$MCP_OTLP_GRPC_ENDPOINT" -requests "$requests" -manifest "$manifest" ||
	die "the simulator could not deliver its spans"

declare -A want
want[routing_log]=$(manifest_get .routing_spans)
want[tool_call_record]=$(manifest_get .tool_call_spans)
want[error_log]=$(manifest_get .error_rows)
instance=$(manifest_get .service_instance_id)

# --- rows ----------------------------------------------------------------------
say "waiting up to ${rows_timeout} s for routing_log +${want[routing_log]}, tool_call_record +${want[tool_call_record]}, error_log +${want[error_log]}"
deadline=$((SECONDS + rows_timeout))
declare -A grew
while :; do
	done_all=1
	for t in "${checked[@]}"; do
		n=$(rows "$t")
		grew[$t]=$((n - before[$t]))
		if ((grew[$t] > want[$t])); then
			die "$t grew by ${grew[$t]} rows, more than the ${want[$t]} sent (duplicates or a foreign writer)"
		fi
		((grew[$t] == want[$t])) || done_all=0
	done
	((done_all)) && break
	if ((SECONDS >= deadline)); then
		for t in "${checked[@]}"; do
			printf 'demo: %-17s grew by %6d, expected %6d\n' "$t" "${grew[$t]}" "${want[$t]}" >&2
		done
		die "the rows did not arrive within ${rows_timeout} s"
	fi
	sleep 0.5
done
say "all rows arrived after $((SECONDS - deadline + rows_timeout)) s"

# --- summary -------------------------------------------------------------------
echo
printf '%-28s %10s %10s\n' table rows "this run"
for t in "${tables[@]}"; do
	if [[ $(psql_db -c "SELECT to_regclass('$schema.$t') IS NOT NULL") == t ]]; then
		n=$(psql_db -c "SELECT count(*) FROM $schema.$t")
	else
		n=missing
	fi
	printf '%-28s %10s %10s\n' "$schema.$t" "$n" "${grew[$t]:+${grew[$t]}}"
done

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
say "OK: $requests requests -> routing_log +${want[routing_log]}, tool_call_record +${want[tool_call_record]}, error_log +${want[error_log]}"
