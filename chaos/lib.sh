# shellcheck shell=bash
# Helpers of chaos/run.sh: the private PostgreSQL cluster, the collector, the
# simulator, metrics and the reconciliation. Sourced, not run.

say() { printf '%s chaos[%s]: %s\n' "$(date -u +%H:%M:%S)" "${scenario:-setup}" "$*" >&2; }
die() {
	printf 'chaos[%s]: FAILED: %s\n' "${scenario:-setup}" "$*" >&2
	if [[ -n ${collector_log:-} && -s ${collector_log:-} ]]; then
		printf '\n--- last 30 lines of %s ---\n' "$collector_log" >&2
		tail -n 30 "$collector_log" | cut -c1-400 >&2
	fi
	exit 1
}

# --- PostgreSQL (private cluster, never the shared one) -------------------------
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}
pg_up() {
	MCP_PG_HOST=127.0.0.1 MCP_PG_PORT=$PG_PORT MCP_PG_DATA=$PG_DATA MCP_PG_DB=$PG_DB \
		bash scripts/pg-up.sh 2>&1 | sed 's/^/  /' >&2 || die "scripts/pg-up.sh failed"
	pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || die "PostgreSQL does not answer on $PG_PORT"
}
# pg_stop stops the private cluster with pg_ctl -m fast (a real server stop).
pg_stop() {
	local data
	data=$(cd "$PG_DATA" && pwd)
	[[ -s $data/PG_VERSION ]] || die "$data holds no cluster"
	as_owner "$(pg_bin)/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop failed"
	! pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || die "PostgreSQL still answers after pg_ctl stop"
}
pg_start() { pg_up; }
psql_db() { psql "$DSN" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }

# --- collector -------------------------------------------------------------------
# collector_start [extra args...] starts the collector on the scenario's queue
# directory and ports, and waits for its health check.
collector_pid=
collector_start() {
	MCP_PG_DSN=$DSN MCP_PG_SCHEMA=$SCHEMA MCP_STORAGE_DIR=$queue_dir \
		MCP_OTLP_GRPC_ENDPOINT=127.0.0.1:$GRPC_PORT MCP_OTLP_HTTP_ENDPOINT=127.0.0.1:$HTTP_PORT \
		MCP_EVENTS_ENDPOINT=127.0.0.1:$EVENTS_PORT MCP_HEALTH_ENDPOINT=127.0.0.1:$HEALTH_PORT \
		MCP_METRICS_HOST=127.0.0.1 MCP_METRICS_PORT=$METRICS_PORT \
		MCP_SAMPLE_HEALTH_CHECK_PERCENT=100 MCP_SAMPLE_LB_DECISION_PERCENT=100 \
		"$COLLECTOR" --config otelcol-config.yaml "$@" >>"$collector_log" 2>&1 &
	collector_pid=$!
	local deadline=$((SECONDS + 60))
	until curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$HEALTH_PORT/" 2>/dev/null; do
		kill -0 "$collector_pid" 2>/dev/null || die "the collector exited during start-up"
		((SECONDS < deadline)) || die "the collector was not healthy within 60 s"
		sleep 0.2
	done
	say "collector $collector_pid healthy"
}
collector_kill() {
	[[ -n $collector_pid ]] || return 0
	kill -KILL "$collector_pid" 2>/dev/null || true
	wait "$collector_pid" 2>/dev/null || true
	collector_pid=
}
collector_stop() {
	[[ -n $collector_pid ]] || return 0
	local pid=$collector_pid deadline=$((SECONDS + 60))
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
	kill -0 "$pid" 2>/dev/null && { say "collector ignored SIGTERM for 60 s: SIGKILL"; kill -KILL "$pid"; }
	wait "$pid" 2>/dev/null || true
	collector_pid=
}

# metric NAME prints the sum of a Prometheus metric's series (0 when absent).
metric() {
	curl -fsS --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null |
		awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%d\n", s }'
}
# metric_max NAME prints the largest series of a metric (the queue metrics have
# one series per pipeline: traces, logs, metrics, each with its own capacity).
metric_max() {
	curl -fsS --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null |
		awk -v n="$1" 'index($1, n "{") == 1 && $NF > m { m = $NF } END { printf "%d\n", m }'
}
metrics_snapshot() {
	curl -fsS --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null |
		grep -E '^otelcol_(exporter_queue_(size|capacity)|receiver_(accepted|refused)_(spans|log_records|metric_points)|exporter_(sent|send_failed|enqueue_failed)_(spans|log_records|metric_points)|exporter_mcppg_commit_duration_count|partitionmgr_[a-z_]+)' |
		awk '{ name = $1; sub(/\{.*/, "", name)
			if (name ~ /queue/ && match($1, /data_type="[a-z]+"/)) name = name "[" substr($1, RSTART + 11, RLENGTH - 12) "]"
			if (match($1, /path="[a-z_]+"/)) name = name "[" substr($1, RSTART + 6, RLENGTH - 7) "]"
			s[name] += $NF } END { for (k in s) printf "%s=%d\n", k, s[k] }' | sort
}

# --- simulator -------------------------------------------------------------------
sim_pid=
sim_start() {
	"$SIM" run -endpoint "127.0.0.1:$GRPC_PORT" -rate "$RATE" -duration 0 -requests "$REQUESTS" \
		-manifest "$manifest" -health-interval 1s -progress 5s "$@" >"$sim_out" 2>"$sim_log" &
	sim_pid=$!
	sim_t0=$SECONDS
}
# sim_wait waits for the simulator; sets sim_rc.
sim_wait() {
	sim_rc=0
	wait "$sim_pid" || sim_rc=$?
	sim_pid=
}
# at SECONDS: sleep until SECONDS after the simulator started (the fault schedule).
at() {
	local d=$(($1 - (SECONDS - sim_t0)))
	((d > 0)) && sleep "$d"
	kill -0 "$sim_pid" 2>/dev/null || say "warning: the simulator already finished before t=$1 s"
}

# --- reconciliation ----------------------------------------------------------------
# reconcile runs the anti-join and sets sent/stored/lost/dup from its report
# (sums over the id kinds; sessions and upstreams count their final state).
reconcile() {
	reconcile_rc=0
	"$SIM" reconcile -manifest "$manifest" -dsn "$DSN" -schema "$SCHEMA" -wait "${RECONCILE_WAIT}" -settle 60s \
		-sampled '' >"$dir/reconcile.txt" 2>"$dir/reconcile.log" || reconcile_rc=$?
	cat "$dir/reconcile.txt" >&2
	read -r sent stored lost dup < <(awk '$1 != "kind" && $1 != "metric" && NF >= 8 && $3 ~ /^[0-9]+$/ {
		se += $3; st += $5; mi += $6; du += $7 } END { print se + 0, st + 0, mi + 0, du + 0 }' "$dir/reconcile.txt")
}
# delivery prints the simulator's delivery record (what the SDK says it could
# not deliver).
delivery() { gzip -dc "$manifest" | head -n 1 | jq -c '.delivery | del(.errors)'; }
delivery_failed() { gzip -dc "$manifest" | head -n 1 | jq '.delivery | (.spans_failed // 0) + (.logs_failed // 0)'; }
achieved_rate() { gzip -dc "$manifest" | head -n 1 | jq '.achieved_rate | floor'; }

# result NAME DURATION REJECTED NOTES appends a row to the results table.
result() {
	local verdict=OK
	((lost == 0 && dup == 0 && reconcile_rc == 0)) || verdict=FAIL
	printf '| %s | %s | %s | %s | %s | %s | %s | %s s | %s/s | %s | %s |\n' "$1" "$sent" "$stored" "$lost" "$dup" "$3" \
		"$(delivery_failed)" "$2" "$(achieved_rate)" "$verdict" "$4" >>"$RESULTS"
	say "result: sent=$sent stored=$stored lost=$lost dup=$dup rejected=$3 refused=$(delivery_failed) ${2}s -> $verdict"
	[[ $verdict == OK ]] || failures=$((failures + 1))
}
