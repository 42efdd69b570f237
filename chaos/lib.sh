# shellcheck shell=bash disable=SC2034,SC2153,SC2154
# Helpers of chaos/run.sh: the private PostgreSQL cluster, the collector, the
# simulator, metrics and the reconciliation. Sourced, not run. Variables are
# shared with chaos/run.sh both ways, hence the disabled checks above:
# `shellcheck -x chaos/run.sh` checks both files together.

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
# scripts/pg-up.sh and scripts/pg-down.sh start and stop it (as the
# cluster's owner, wherever the PostgreSQL binaries are).
pg_up() {
	MCP_PG_HOST=127.0.0.1 MCP_PG_PORT=$PG_PORT MCP_PG_DATA=$PG_DATA MCP_PG_DB=$PG_DB \
		bash scripts/pg-up.sh 2>&1 | sed 's/^/  /' >&2 || die "scripts/pg-up.sh failed"
	pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || die "PostgreSQL does not answer on $PG_PORT"
}
# pg_stop stops the private cluster with pg_ctl -m fast (a real server stop).
pg_stop() {
	[[ -s $PG_DATA/PG_VERSION ]] || die "$PG_DATA holds no cluster"
	MCP_PG_DATA=$PG_DATA bash scripts/pg-down.sh 2>&1 | sed 's/^/  /' >&2 || die "scripts/pg-down.sh failed"
	! pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || die "PostgreSQL still answers after pg_ctl stop"
}
psql_db() { psql "$DSN" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }

# --- collector -------------------------------------------------------------------
# Every collector runs with the container image's Go runtime settings
# (scripts/runtime-env.sh).
# Gateway G (0, 1, ...) listens on the base ports + 100*G and keeps its queue
# in $queue_dir (G=0) or $queue_dir-G, its log in $collector_log (G=0) or
# $dir/collector-G.log. Gateway 0 is the collector of the single-collector
# scenarios; its pid is also in collector_pid.
collector_pid=
collector_pids=()
gw_port() { echo $(($1 + 100 * ${2:-0})); } # BASE_PORT [G]
gw_queue() { if ((${1:-0} == 0)); then echo "$queue_dir"; else echo "$queue_dir-$1"; fi; }
gw_log() { if ((${1:-0} == 0)); then echo "$collector_log"; else echo "$dir/collector-$1.log"; fi; }
# collector_launch G [extra args...] starts gateway G's collector, not waiting.
# gw_grpc[G] and gw_config[G], when set, give gateway G another gRPC listen
# address and configuration (chaos/run.sh two-tier: two gateways on one port
# at two loopback addresses, and an agent).
gw_grpc=()
gw_config=()
collector_launch() {
	local g=$1
	shift
	local grpc=${gw_grpc[g]:-127.0.0.1:$(gw_port "$GRPC_PORT" "$g")} config=${gw_config[g]:-$CONFIG}
	MCP_PG_DSN=$DSN MCP_PG_SCHEMA=$SCHEMA MCP_STORAGE_DIR=$(gw_queue "$g") \
		MCP_OTLP_GRPC_ENDPOINT=$grpc MCP_OTLP_HTTP_ENDPOINT=127.0.0.1:$(gw_port "$HTTP_PORT" "$g") \
		MCP_EVENTS_ENDPOINT=127.0.0.1:$(gw_port "$EVENTS_PORT" "$g") MCP_HEALTH_ENDPOINT=127.0.0.1:$(gw_port "$HEALTH_PORT" "$g") \
		MCP_METRICS_HOST=127.0.0.1 MCP_METRICS_PORT=$(gw_port "$METRICS_PORT" "$g") \
		MCP_SAMPLE_HEALTH_CHECK_PERCENT=100 MCP_SAMPLE_LB_DECISION_PERCENT=100 \
		bash -c 'source scripts/runtime-env.sh && exec "$@"' collector "$COLLECTOR" --config "$config" "$@" >>"$(gw_log "$g")" 2>&1 &
	collector_pids[g]=$!
	((g != 0)) || collector_pid=$!
}
# collector_healthy G waits for gateway G's health check.
collector_healthy() {
	local g=$1 pid=${collector_pids[$1]} deadline=$((SECONDS + 60)) name=collector
	((g == 0)) || name="gateway $g collector"
	until curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$(gw_port "$HEALTH_PORT" "$g")/" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || { collector_log=$(gw_log "$g") die "the $name exited during start-up"; }
		((SECONDS < deadline)) || { collector_log=$(gw_log "$g") die "the $name was not healthy within 60 s"; }
		sleep 0.2
	done
	say "$name $pid healthy"
}
# collector_start [extra args...] starts the collector (gateway 0) on the
# scenario's queue directory and ports, and waits for its health check.
collector_start() {
	collector_launch 0 "$@"
	collector_healthy 0
}
# collector_kill [G] SIGKILLs gateway G's collector (default 0).
collector_kill() {
	local g=${1:-0} pid=${collector_pids[${1:-0}]:-}
	[[ -n $pid ]] || return 0
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	collector_pids[g]=
	((g != 0)) || collector_pid=
}
# collector_stop [G] stops gateway G's collector (default 0) with SIGTERM.
collector_stop() {
	local g=${1:-0} pid=${collector_pids[${1:-0}]:-}
	[[ -n $pid ]] || return 0
	local deadline=$((SECONDS + 60))
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
	kill -0 "$pid" 2>/dev/null && { say "collector $pid ignored SIGTERM for 60 s: SIGKILL"; kill -KILL "$pid"; }
	wait "$pid" 2>/dev/null || true
	collector_pids[g]=
	((g != 0)) || collector_pid=
}
# collectors_stop stops every gateway's collector.
collectors_stop() {
	local g
	for g in "${!collector_pids[@]}"; do collector_stop "$g"; done
}

# metric NAME [G] prints the sum of a Prometheus metric's series on gateway G
# (default 0; 0 when absent).
metric() {
	curl -fsS --max-time 2 "http://127.0.0.1:$(gw_port "$METRICS_PORT" "${2:-0}")/metrics" 2>/dev/null |
		awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%d\n", s }'
}
# metric_max NAME [G] prints the largest series of a metric (the queue metrics have
# one series per pipeline: traces, logs, metrics, each with its own capacity).
metric_max() {
	curl -fsS --max-time 2 "http://127.0.0.1:$(gw_port "$METRICS_PORT" "${2:-0}")/metrics" 2>/dev/null |
		awk -v n="$1" 'index($1, n "{") == 1 && $NF > m { m = $NF } END { printf "%d\n", m }'
}
# metrics_snapshot [G]: the interesting metrics of gateway G, summed per name.
metrics_snapshot() {
	curl -fsS --max-time 2 "http://127.0.0.1:$(gw_port "$METRICS_PORT" "${1:-0}")/metrics" 2>/dev/null |
		grep -E '^otelcol_(exporter_queue_(size|capacity)|receiver_(accepted|refused)_(spans|log_records|metric_points)|exporter_(sent|send_failed|enqueue_failed)_(spans|log_records|metric_points)|exporter_mcppg_commit_duration_count|partitionmgr_[a-z_]+)' |
		awk '{ name = $1; sub(/\{.*/, "", name)
			if (name ~ /queue/ && match($1, /data_type="[a-z]+"/)) name = name "[" substr($1, RSTART + 11, RLENGTH - 12) "]"
			if (match($1, /path="[a-z_]+"/)) name = name "[" substr($1, RSTART + 6, RLENGTH - 7) "]"
			s[name] += $NF } END { for (k in s) printf "%s=%d\n", k, s[k] }' | sort
}
# metrics_raw G prints gateway G's Prometheus exposition as it is.
metrics_raw() { curl -fsS --max-time 5 "http://127.0.0.1:$(gw_port "$METRICS_PORT" "$1")/metrics"; }
# prom_sum FILE NAME [LABEL=\"VALUE\"...] sums the series of NAME in a saved
# exposition whose labels contain every filter (0 when none).
prom_sum() {
	local file=$1 name=$2
	shift 2
	awk -v n="$name" -v f="$*" 'BEGIN { k = split(f, want, " ") }
		$1 == n || index($1, n "{") == 1 { for (i = 1; i <= k; i++) if (index($1, want[i]) == 0) next; s += $NF }
		END { printf "%d\n", s }' "$file"
}

# --- simulator -------------------------------------------------------------------
sim_pid=
sim_start() {
	"$SIM" run -endpoint "127.0.0.1:$GRPC_PORT" -rate "$RATE" -duration 0 -requests "$REQUESTS" \
		-manifest "$manifest" -health-interval 1s -progress 5s "$@" >"$sim_out" 2>"$sim_log" &
	sim_pid=$!
	sim_t0=$SECONDS
}
# gateway_sim_start G REQUESTS RATE [args...] starts simulator G towards gateway
# G's gRPC port: manifest $dir/manifest-G.gz, output sim-G.out and sim-G.log,
# pid in sim_pids[G].
sim_pids=()
gateway_sim_start() {
	local g=$1 requests=$2 rate=$3
	shift 3
	"$SIM" run -endpoint "127.0.0.1:$(gw_port "$GRPC_PORT" "$g")" -rate "$rate" -duration 0 -requests "$requests" \
		-manifest "$dir/manifest-$g.gz" -health-interval 1s -progress 5s "$@" >"$dir/sim-$g.out" 2>"$dir/sim-$g.log" &
	sim_pids[g]=$!
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
# reconcile [MANIFEST [NAME]] runs the anti-join of MANIFEST (default
# $manifest) into $dir/NAME.txt (default reconcile) and sets
# sent/stored/lost/dup from its report (sums over the id kinds; sessions and
# upstreams count their final state) and reconcile_rc.
reconcile() {
	local man=${1:-$manifest} name=${2:-reconcile}
	reconcile_rc=0
	"$SIM" reconcile -manifest "$man" -dsn "$DSN" -schema "$SCHEMA" -wait "${RECONCILE_WAIT}" -settle 60s \
		-sampled '' >"$dir/$name.txt" 2>"$dir/$name.log" || reconcile_rc=$?
	cat "$dir/$name.txt" >&2
	read -r sent stored lost dup < <(awk '$1 != "kind" && $1 != "metric" && NF >= 8 && $3 ~ /^[0-9]+$/ {
		se += $3; st += $5; mi += $6; du += $7 } END { print se + 0, st + 0, mi + 0, du + 0 }' "$dir/$name.txt")
}
# delivery prints the simulator's delivery record (what the SDK says it could
# not deliver).
# (manifest_header: head closes the pipe early, which gzip may see as SIGPIPE.)
manifest_header() { gzip -dc "${1:-$manifest}" 2>/dev/null | head -n 1 || true; }
delivery() { manifest_header "${1:-$manifest}" | jq -c '.delivery | del(.errors)'; }
delivery_failed() { manifest_header "${1:-$manifest}" | jq '.delivery | (.spans_failed // 0) + (.logs_failed // 0)'; }
achieved_rate() { manifest_header "${1:-$manifest}" | jq '.achieved_rate | floor'; }

# result NAME DURATION REJECTED NOTES appends a row to the results table. The
# sender columns add up the manifests in $manifests (default: $manifest); a
# scenario's own check that failed is in $scenario_problem.
result() {
	local verdict=OK refused=0 rate=0 m
	((lost == 0 && dup == 0 && reconcile_rc == 0)) && [[ -z ${scenario_problem:-} ]] || verdict=FAIL
	for m in "${manifests[@]:-$manifest}"; do
		refused=$((refused + $(delivery_failed "$m")))
		rate=$((rate + $(achieved_rate "$m")))
	done
	printf '| %s | %s | %s | %s | %s | %s | %s | %s s | %s/s | %s | %s |\n' "$1" "$sent" "$stored" "$lost" "$dup" "$3" \
		"$refused" "$2" "$rate" "$verdict" "$4" >>"$RESULTS"
	say "result: sent=$sent stored=$stored lost=$lost dup=$dup rejected=$3 refused=$refused ${2}s -> $verdict${scenario_problem:+ ($scenario_problem)}"
	[[ $verdict == OK ]] || failures=$((failures + 1))
}
