#!/usr/bin/env bash
# bench/e2e_load.sh: end-to-end load, simulator -> built collector (default
# otelcol-config.yaml, persistent queue on diskguard, a file_storage) -> PostgreSQL, at
# rising rates until the collector falls behind, beside a raw pgx CopyFrom
# of exactly the rows the run stored, timed in the same run.
#
#   make build && bash bench/e2e_load.sh
#   RATES="2000 4000 8000 12000 0" STEP=25 SAMPLING=all PROFILE=1 bash bench/e2e_load.sh
#
# RATES     routed requests/s per step (mcprouter-sim -rate; events/s with
#           SIM_MODE=replay; 0 = as fast as the collector takes them, i.e. the
#           saturation point under backpressure).
#           The rising steps stop at the first one that falls behind; a 0 step
#           always runs.
# STEP      seconds per step (default 25).
# SAMPLING  all (default): MCP_SAMPLE_*_PERCENT=100, every event becomes a row;
#           default: the config's own rates (10 % healthy checks, 1 % LB decisions).
# PROFILE   1 (default): afterwards, run a private build of the distribution
#           with pprofextension added (a copy of builder-config.yaml, built
#           into $PPROF_DIR; builder-config.yaml itself is not touched) at the
#           highest sustainable rate and take a PROFILE_SECONDS (20) CPU profile.
# OUT       directory for the profile, the step JSON and the table (kept).
# COLLECTOR_GOGC, COLLECTOR_GOMEMLIMIT
#           the collector's Go runtime settings; default: the container
#           image's (Dockerfile, via scripts/runtime-env.sh).
# COLLECTOR_ARGS
#           more collector arguments, e.g.
#           "--set=exporters::mcppg::sending_queue::batch::min_size=5000".
# SIM_MODE  otlp (default: OpenTelemetry SDK, OTLP/gRPC to the otlp receiver),
#           events (NDJSON to the mcpevents receiver, for routers without an SDK)
#           or replay: before the steps, `mcprouter-sim run -capture` records the
#           OTLP requests of the same simulated fleet (fresh ids for every step,
#           REPLAY_UNLIMITED (120000) events/s x STEP for a 0 step: a step that
#           sends them all before STEP ends under-reports), and each step
#           `mcprouter-sim replay`s them at RATES *events*/s: the load costs the
#           shared cores almost nothing, as when the routers run elsewhere.
#           Freshness lag then includes the time since the capture.
# SIM_GOGC  the simulator's GOGC (default 400: a load generator trades memory
#           for CPU, leaving more of the shared cores to the system under test).
# PG        shared (default): the PostgreSQL on 127.0.0.1:$MCP_PG_PORT (5432), as
#           scripts/pg-up.sh finds or starts it, with its settings (on this
#           machine kind: the Debian package's default settings);
#           tuned: a private cluster on 127.0.0.1:$PG_TUNED_PORT (55433) in
#           .run/bench-pg (scripts/pg-up.sh) with bench/postgresql-tuned.conf
#           applied, stopped at the end (its files are kept for the next run).
#
# Ports (private): OTLP gRPC 44317, HTTP 44318, events 44320, health 43133,
# metrics 48888, pprof 41777. Schemas mcp_load and mcp_load_raw in database
# mcp_bridge are created fresh and dropped at the end.
#
# Per step: accepted events/s (otelcol_receiver_accepted_*), stored rows/s
# (otelcol_exporter_mcppg_rows_written), queue size (otelcol_exporter_queue_size),
# commit p50/p99 (otelcol_exporter_mcppg_commit_duration), freshness lag
# (now() - newest routing_log.ts, sampled every second), CPU of the collector,
# the simulator and PostgreSQL (/proc; PostgreSQL = the backends of database
# mcp_bridge plus the server's auxiliary processes, which also serve other
# databases), collector RSS, pool connections
# (otelcol_exporter_mcppg_pool_connections), drain time after the step.
# The load average is printed per step: the machine may be shared.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

RATES=${RATES:-"2000 4000 8000 12000 0"}
STEP=${STEP:-25}
SAMPLING=${SAMPLING:-all}
PROFILE=${PROFILE:-1}
PROFILE_SECONDS=${PROFILE_SECONDS:-20}
PPROF_DIR=${PPROF_DIR:-/tmp/otelcol-mcp-pprof}
OUT=${OUT:-/tmp/e2e_load-$(date -u +%Y%m%dT%H%M%S)}
RAW_BATCH=${RAW_BATCH:-5000}
RAW_CONNS=${RAW_CONNS:-4}
COLLECTOR_GOGC=${COLLECTOR_GOGC:-}
COLLECTOR_GOMEMLIMIT=${COLLECTOR_GOMEMLIMIT:-}
SIM_GOGC=${SIM_GOGC:-400}
COLLECTOR_ARGS=${COLLECTOR_ARGS:-}
SIM_MODE=${SIM_MODE:-otlp}
REPLAY_UNLIMITED=${REPLAY_UNLIMITED:-120000}
PG=${PG:-shared}
PG_TUNED_PORT=${PG_TUNED_PORT:-55433}
case $PG in
shared) pg_port=${MCP_PG_PORT:-5432} ;;
tuned) pg_port=$PG_TUNED_PORT pg_data=$root/.run/bench-pg ;;
*) echo "PG must be shared or tuned" >&2; exit 2 ;;
esac

admin_dsn="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
db=mcp_bridge
dsn="postgres://postgres@127.0.0.1:$pg_port/$db?sslmode=disable"
schema=mcp_load
raw_schema=mcp_load_raw
collector=$root/build/otelcol-mcp
config=$root/otelcol-config.yaml

export MCP_PG_DSN=$dsn MCP_PG_SCHEMA=$schema
export MCP_OTLP_GRPC_ENDPOINT=localhost:44317 MCP_OTLP_HTTP_ENDPOINT=localhost:44318
export MCP_EVENTS_ENDPOINT=localhost:44320 MCP_HEALTH_ENDPOINT=localhost:43133
export MCP_METRICS_HOST=localhost MCP_METRICS_PORT=48888
rate_unit=req/s
case $SIM_MODE in
otlp) sim_target=(-mode otlp -endpoint "$MCP_OTLP_GRPC_ENDPOINT") ;;
events) sim_target=(-mode events -endpoint "http://$MCP_EVENTS_ENDPOINT") ;;
replay) rate_unit=events/s ;;
*) echo "SIM_MODE must be otlp, events or replay" >&2; exit 2 ;;
esac
metrics_url=http://localhost:48888/metrics
pprof_endpoint=localhost:41777
case $SAMPLING in
all) export MCP_SAMPLE_HEALTH_CHECK_PERCENT=100 MCP_SAMPLE_LB_DECISION_PERCENT=100 ;;
default) ;;
*) echo "SAMPLING must be all or default" >&2; exit 2 ;;
esac

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'e2e_load: %s\n' "$*" >&2; exit 1; }
psql_admin() { psql "$admin_dsn" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }
psql_db() { PGOPTIONS="-c client_min_messages=warning" psql "$dsn" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }

[[ -x $collector ]] || die "$collector missing (make build)"
work=$(mktemp -d /tmp/e2e_load.XXXXXX)
mkdir -p "$OUT"
collector_pid=

stop_collector() {
	[[ -n $collector_pid ]] || return 0
	kill -TERM "$collector_pid" 2>/dev/null || true
	for _ in $(seq 1 300); do
		kill -0 "$collector_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$collector_pid" 2>/dev/null || true
	wait "$collector_pid" 2>/dev/null || true
	collector_pid=
}
cleanup() {
	stop_collector
	psql_db -c "DROP SCHEMA IF EXISTS $schema CASCADE; DROP SCHEMA IF EXISTS $raw_schema CASCADE" >/dev/null 2>&1 || true
	[[ $PG != tuned ]] || MCP_PG_DATA=$pg_data bash scripts/pg-down.sh >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

if [[ $PG == tuned ]]; then
	# A private cluster, then bench/postgresql-tuned.conf by ALTER SYSTEM and a
	# restart (shared_buffers needs one).
	pg_env=(MCP_PG_HOST=127.0.0.1 "MCP_PG_PORT=$pg_port" "MCP_PG_DATA=$pg_data" "MCP_PG_DB=$db")
	env "${pg_env[@]}" bash scripts/pg-up.sh >/dev/null 2>&1 || die "private PostgreSQL on $pg_port did not start (scripts/pg-up.sh)"
	while IFS='=' read -r name value; do
		name=${name//[[:space:]]/} value=$(echo "$value" | sed 's/^ *//; s/ *$//')
		[[ -n $name ]] && psql_admin -c "ALTER SYSTEM SET $name = '$value'"
	done < <(sed 's/#.*//' bench/postgresql-tuned.conf | grep '=')
	env "${pg_env[@]}" bash scripts/pg-down.sh >/dev/null 2>&1
	env "${pg_env[@]}" bash scripts/pg-up.sh >/dev/null 2>&1 || die "private PostgreSQL on $pg_port did not restart"
	say "PostgreSQL: private cluster on $pg_port with $(sed 's/#.*//' bench/postgresql-tuned.conf | grep '=' | tr -s ' \n' ' ')"
else
	bash scripts/pg-up.sh >/dev/null 2>&1 || die "PostgreSQL does not answer (scripts/pg-up.sh)"
fi
psql_db -c "DROP SCHEMA IF EXISTS $schema CASCADE; DROP SCHEMA IF EXISTS $raw_schema CASCADE" >/dev/null

for endpoint in "$MCP_OTLP_GRPC_ENDPOINT" "$MCP_OTLP_HTTP_ENDPOINT" "$MCP_EVENTS_ENDPOINT" "$MCP_HEALTH_ENDPOINT" "localhost:$MCP_METRICS_PORT" "$pprof_endpoint"; do
	if (exec 3<>"/dev/tcp/${endpoint%:*}/${endpoint##*:}") 2>/dev/null; then
		die "something already listens on $endpoint"
	fi
done

say "building mcprouter-sim and bench/internal/e2eload"
go build -o "$work/mcprouter-sim" ./cmd/mcprouter-sim
go build -o "$work/e2eload" ./bench/internal/e2eload
sim=$work/mcprouter-sim
e2e=$work/e2eload

# start_collector BINARY [extra --config files]: fresh queue directory, wait for
# health. The private ports lie in Linux's ephemeral range, so an outgoing
# connection elsewhere on the machine can hold one for a moment: a start that
# fails with "address already in use" is retried.
start_collector() {
	local bin=$1
	shift
	local args=(--config "$config")
	for c in "$@"; do args+=(--config "$c"); done
	# shellcheck disable=SC2206 # COLLECTOR_ARGS is split on purpose
	args+=($COLLECTOR_ARGS)
	local attempt deadline
	for attempt in 1 2 3 4 5; do
		export MCP_STORAGE_DIR=$work/queue-$RANDOM
		mkdir -p "$MCP_STORAGE_DIR"
		local log_from
		log_from=$(($(wc -c 2>/dev/null <"$OUT/collector.log" || echo 0) + 1))
		# The container image's Go runtime settings (scripts/runtime-env.sh),
		# unless COLLECTOR_GOGC / COLLECTOR_GOMEMLIMIT say otherwise.
		(
			[[ -z $COLLECTOR_GOGC ]] || export GOGC=$COLLECTOR_GOGC
			[[ -z $COLLECTOR_GOMEMLIMIT ]] || export GOMEMLIMIT=$COLLECTOR_GOMEMLIMIT
			source scripts/runtime-env.sh && exec "$bin" "${args[@]}"
		) >>"$OUT/collector.log" 2>&1 &
		collector_pid=$!
		deadline=$((SECONDS + 60))
		until curl -fsS -o /dev/null --max-time 1 "http://$MCP_HEALTH_ENDPOINT/" 2>/dev/null; do
			if ! kill -0 "$collector_pid" 2>/dev/null; then
				wait "$collector_pid" 2>/dev/null || true
				collector_pid=
				break
			fi
			((SECONDS < deadline)) || die "the collector did not become healthy within 60 s"
			sleep 0.2
		done
		[[ -n $collector_pid ]] && break
		tail -c +"$log_from" "$OUT/collector.log" | grep -q 'address already in use' ||
			die "the collector exited during start-up (log: $OUT/collector.log)"
		say "a private port was taken (attempt $attempt); starting again"
		sleep 2
	done
	[[ -n $collector_pid ]] || die "the collector could not bind its ports (log: $OUT/collector.log)"
	# The partition manager applies the schema; wait for routing_log.
	until [[ $(psql_db -c "SELECT to_regclass('$schema.routing_log') IS NOT NULL") == t ]]; do
		((SECONDS < deadline)) || die "schema $schema not created within 60 s"
		sleep 0.2
	done
}

# run_step RATE SECONDS TAG: simulator and measurement side by side, then the
# drain; writes $work/TAG.json (measurement + simulator + drain).
run_step() {
	local rate=$1 secs=$2 tag=$3 sim_rc=0 drain_s
	if [[ $SIM_MODE == replay ]]; then
		GOGC=$SIM_GOGC "$sim" replay -in "$work/$tag.capture" -endpoint "$MCP_OTLP_GRPC_ENDPOINT" -rate "$rate" \
			-duration "${secs}s" -flush-timeout 120s >"$work/$tag.sim" 2>"$work/$tag.sim.err" &
	else
		GOGC=$SIM_GOGC "$sim" run "${sim_target[@]}" -rate "$rate" -duration "${secs}s" -progress 0 \
			-flush-timeout 120s >"$work/$tag.sim" 2>"$work/$tag.sim.err" &
	fi
	local spid=$!
	"$e2e" measure -metrics "$metrics_url" -pid "$collector_pid" -sim-pid "$spid" -dsn "$dsn" -schema "$schema" \
		-duration "${secs}s" >"$work/$tag.m.json" || die "measurement failed for step $tag"
	wait "$spid" || sim_rc=$?
	drain_s=$("$e2e" drain -metrics "$metrics_url" -timeout 180s) || true
	local achieved elapsed spans logs
	achieved=$(sed -n 's/.* \(routed requests\|items\) in [0-9.]* s (\([0-9]*\)\/s.*/\2/p' "$work/$tag.sim")
	elapsed=$(sed -n 's/.* \(routed requests\|items\) in \([0-9.]*\) s (.*/\2/p' "$work/$tag.sim")
	spans=$(sed -n 's/^mcprouter-sim: delivered \([0-9]*\) spans, \([0-9]*\) log records.*/\1/p' "$work/$tag.sim")
	logs=$(sed -n 's/^mcprouter-sim: delivered \([0-9]*\) spans, \([0-9]*\) log records.*/\2/p' "$work/$tag.sim")
	if [[ $SIM_MODE == events ]]; then
		spans=$(sed -n 's/^mcprouter-sim: delivered \([0-9]*\) events posted.*/\1/p' "$work/$tag.sim") logs=0
	fi
	jq -c --arg rate "$rate" --arg achieved "${achieved:-0}" --arg drain "${drain_s:-999}" --arg simrc "$sim_rc" \
		--arg elapsed "${elapsed:-1}" --arg spans "${spans:-0}" --arg logs "${logs:-0}" \
		--arg secs "$secs" --arg mode "$SIM_MODE" \
		'. + {rate: ($rate|tonumber), achieved: ($achieved|tonumber), drain_s: ($drain|tonumber), sim_rc: ($simrc|tonumber),
		      sent_per_s: ((($spans|tonumber) + ($logs|tonumber)) / ($elapsed|tonumber)),
		      capture_ran_out: ($mode == "replay" and ($elapsed|tonumber) < 0.95 * ($secs|tonumber))}' \
		"$work/$tag.m.json" >"$work/$tag.json"
	cp "$work/$tag.json" "$OUT/" && cp "$work/$tag.sim" "$OUT/"
}

# behind: the simulator was held back (below 95 % of its target rate: the
# receiver pushed back), or the receiver accepted less during the step than 90 %
# of the spans and log records the simulator generated per second (the rest
# waited in the simulator's SDK buffers), or the queue grew, or it took more
# than 10 s to drain after the step. (Accepted, not stored: with SAMPLING=default
# the sampler drops most LB decisions.) A -rate 0 step is held back by
# definition and is judged by the other tests.
behind() {
	jq -e '(.rate > 0 and .achieved < 0.95 * .rate) or (.accepted_per_s < 0.9 * .sent_per_s)
		or (.queue_end - .queue_start > 20) or (.drain_s > 10)' "$1" >/dev/null
}

# capture TAG EVENTS_PER_S SECONDS: record the OTLP requests of a fleet run for a
# replayed step (2.4 events per routed request, plus 15 % to spare).
capture() {
	local tag=$1 rate=$2 secs=$3
	((rate > 0)) || rate=$REPLAY_UNLIMITED
	local requests=$((rate * secs * 115 / 100 / 24 * 10))
	GOGC=$SIM_GOGC "$sim" run -capture "$work/$tag.capture" -rate 0 -duration 0 -requests "$requests" -progress 0 \
		>"$work/$tag.capture.out" 2>&1 || die "capture for step $tag failed: $(tail -n 3 "$work/$tag.capture.out")"
	say "$(grep '^mcprouter-sim: captured' "$work/$tag.capture.out")"
}

# --- load steps ------------------------------------------------------------------
if [[ $SIM_MODE == replay ]]; then
	for rate in $RATES; do capture "step-$rate" "$rate" "$STEP"; done
fi
collector_runtime=$(
	[[ -z $COLLECTOR_GOGC ]] || export GOGC=$COLLECTOR_GOGC
	[[ -z $COLLECTOR_GOMEMLIMIT ]] || export GOMEMLIMIT=$COLLECTOR_GOMEMLIMIT
	source scripts/runtime-env.sh && echo "GOGC=$GOGC GOMEMLIMIT=$GOMEMLIMIT"
)
say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); SAMPLING=$SAMPLING; STEP=${STEP}s; collector $collector_runtime; simulator -mode $SIM_MODE, GOGC=$SIM_GOGC"
start_collector "$collector"
say "collector $collector_pid healthy (default config, persistent queue in $MCP_STORAGE_DIR)"
steps=()
best_rate=
stopped=0
for rate in $RATES; do
	if ((rate > 0 && stopped)); then continue; fi
	tag=step-$rate
	say "step: -rate $rate for ${STEP}s"
	run_step "$rate" "$STEP" "$tag"
	steps+=("$tag")
	jq -c '{rate, achieved, sent_per_s, accepted_per_s, rows_per_s, queue_start, queue_end, commit_p99_ms, drain_s, loadavg}' "$work/$tag.json" >&2
	if behind "$work/$tag.json"; then
		((rate > 0)) && stopped=1
	elif ((rate > 0)); then
		best_rate=$rate
	fi
done
stop_collector

# --- raw COPY of the same rows -----------------------------------------------------
say "raw pgx CopyFrom of every row of $schema into $raw_schema (batch $RAW_BATCH, $RAW_CONNS connections)"
"$e2e" raw -dsn "$dsn" -src "$schema" -dst "$raw_schema" -batch "$RAW_BATCH" -conns "$RAW_CONNS" >"$work/raw.json"
cp "$work/raw.json" "$OUT/"
jq -c . "$work/raw.json" >&2
psql_db -c "DROP SCHEMA IF EXISTS $raw_schema CASCADE" >/dev/null

# --- report ----------------------------------------------------------------------
raw_rps=$(jq '.rows_per_s' "$work/raw.json")
sustained=0
sustained_tag=
for tag in "${steps[@]}"; do
	if ! behind "$work/$tag.json"; then
		r=$(jq '.rows_per_s | floor' "$work/$tag.json")
		if ((r > sustained)); then sustained=$r sustained_tag=$tag; fi
	fi
done
{
	echo "| -rate ($rate_unit) | achieved $rate_unit | events/s sent | events/s accepted | rows/s stored | behind | queue start → end (max) | drain after step | commit p50 / p99 (rows per commit) | freshness lag p50 / max | collector CPU, RSS max (anonymous) | PostgreSQL CPU | simulator CPU | pool acquired max / size | load average |"
	echo "| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
	for tag in "${steps[@]}"; do
		b=no
		behind "$work/$tag.json" && b=yes
		if jq -e '.capture_ran_out' "$work/$tag.json" >/dev/null; then b="$b (the capture ran out early)"; fi
		jq -r --arg b "$b" '[ (if .rate == 0 then "unlimited" else (.rate|tostring) end),
			(.achieved|tostring), (.sent_per_s|floor|tostring), (.accepted_per_s|floor|tostring), (.rows_per_s|floor|tostring), $b,
			"\(.queue_start) → \(.queue_end) (\(.queue_max))", "\(.drain_s) s",
			"\(.commit_p50_ms*10|round/10) / \(.commit_p99_ms*10|round/10) ms (\(.rows_per_commit|floor))",
			"\(.lag_p50_s*100|round/100) / \(.lag_max_s*100|round/100) s",
			"\(.collector_cpu_cores*100|round/100) cores, \(.rss_max_mib|floor) MiB (\(.rss_anon_max_mib // 0|floor))",
			"\(.postgres_cpu_cores*100|round/100) cores",
			"\(.simulator_cpu_cores*100|round/100) cores",
			"\(.pool_acquired_max) / \(.pool_max)", .loadavg ] | "| " + join(" | ") + " |"' "$work/$tag.json"
	done
	echo
	jq -r '"Raw pgx CopyFrom of the same \(.rows) rows (\(.tables|to_entries|map("\(.key) \(.value)")|join(", "))) into a fresh identical schema, \(.batch) rows per transaction, \(.conns) connections: **\(.rows_per_s|floor) rows/s** (\(.seconds*10|round/10) s; PostgreSQL CPU \(.postgres_cpu_cores*100|round/100) cores; commit p50 \(.commit_p50_ms*10|round/10) ms, p99 \(.commit_p99_ms*10|round/10) ms per transaction; load average \(.loadavg))."' "$work/raw.json"
	echo
	ratio=$(awk -v s="$sustained" -v r="$raw_rps" 'BEGIN { printf "%.2f", s / r }')
	if [[ -n $sustained_tag ]]; then
		# Sent by the simulator over its own run time, all of it taken: the step
		# kept up (see behind). The accepted column counts the measurement
		# window, which starts a moment before the first request.
		sustained_events=$(jq '.sent_per_s | floor' "$work/$sustained_tag.json")
		echo "Sustained (the step that kept up with the most rows/s stored, ${sustained_tag#step-} $rate_unit): **$sustained_events events/s** sent and taken, **$sustained rows/s** stored; ratio of rows/s to raw COPY: **$ratio**."
	else
		echo "No step kept up (see the behind column): nothing sustained to compare with raw COPY."
	fi
	if [[ -n $sustained_tag ]]; then
		# CPU per stored row: independent of how much of the machine the run got.
		jq -r --slurpfile raw "$work/raw.json" '
			(1e6 * .collector_cpu_cores / .rows_per_s) as $c | (1e6 * .postgres_cpu_cores / .rows_per_s) as $p |
			(1e6 * .simulator_cpu_cores / .rows_per_s) as $s | (1e6 * $raw[0].postgres_cpu_cores / $raw[0].rows_per_s) as $r |
			"CPU per stored row at that step: collector \($c*10|round/10) µs, PostgreSQL \($p*10|round/10) µs, simulator \($s*10|round/10) µs; raw COPY: PostgreSQL \($r*10|round/10) µs per row. Rows per CPU-second of collector + PostgreSQL, end to end: \(1e6/($c+$p)|floor); of PostgreSQL, raw: \(1e6/$r|floor); CPU-normalised ratio \(100*$r/($c+$p)|round/100)."' \
			"$work/$sustained_tag.json"
	fi
	v1=$([[ ${sustained_events:-0} -ge 50000 ]] && echo met || echo "NOT met")
	v2=$(awk -v x="$ratio" 'BEGIN { print (x >= 0.5) ? "met" : "NOT met" }')
	echo "Verdict: >= 50,000 events/s: $v1; >= 0.5 of raw COPY: $v2."
	[[ -z $COLLECTOR_ARGS ]] || echo "Collector arguments: \`$COLLECTOR_ARGS\`."
	echo "PostgreSQL: $PG ($(psql_admin -c "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'wal_compression', 'synchronous_commit')"))."
	echo "Simulator -mode $SIM_MODE. Go runtime: collector $collector_runtime; simulator GOGC=$SIM_GOGC."
} | tee "$OUT/table.md"

# --- profile ---------------------------------------------------------------------
if [[ $PROFILE == 1 ]]; then
	prate=${best_rate:-0}
	if [[ ! -x $PPROF_DIR/otelcol-mcp ]]; then
		say "building a private copy of the distribution with pprofextension into $PPROF_DIR"
		mkdir -p "$PPROF_DIR"
		sed -e "s#output_path: ./build#output_path: $PPROF_DIR#" \
			-e "s#github.com/mcp-bridge/otelcol-mcp => ../#github.com/mcp-bridge/otelcol-mcp => $root#" \
			-e 's#^extensions:$#extensions:\n  - gomod: github.com/open-telemetry/opentelemetry-collector-contrib/extension/pprofextension v0.165.1#' \
			builder-config.yaml >"$PPROF_DIR/builder-config.yaml"
		./bin/builder --config "$PPROF_DIR/builder-config.yaml" --skip-strict-versioning=false >"$PPROF_DIR/build.log" 2>&1 ||
			die "private pprof build failed ($PPROF_DIR/build.log)"
	fi
	cat >"$work/pprof.yaml" <<EOF
extensions:
  pprof:
    endpoint: $pprof_endpoint
service:
  extensions: [partitionmgr, health_check, diskguard, pprof]
EOF
	[[ $SIM_MODE != replay ]] || capture profile "$prate" $((PROFILE_SECONDS + 10))
	psql_db -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null
	start_collector "$PPROF_DIR/otelcol-mcp" "$work/pprof.yaml"
	say "profiling: -rate $prate for $((PROFILE_SECONDS + 10))s, CPU profile of ${PROFILE_SECONDS}s from second 5"
	(sleep 5 && curl -fsS -o "$OUT/cpu.pprof" "http://$pprof_endpoint/debug/pprof/profile?seconds=$PROFILE_SECONDS") &
	ppid=$!
	run_step "$prate" $((PROFILE_SECONDS + 10)) profile
	wait "$ppid" || die "could not fetch the CPU profile"
	jq -c '{rate, achieved, accepted_per_s, rows_per_s, collector_cpu_cores, postgres_cpu_cores, simulator_cpu_cores, queue_end, loadavg}' "$work/profile.json" | tee "$OUT/profile-step.json"
	stop_collector
	echo
	echo "CPU profile ($OUT/cpu.pprof), top by cum:"
	go tool pprof -top -cum -nodecount 35 "$PPROF_DIR/otelcol-mcp" "$OUT/cpu.pprof" 2>/dev/null | tee "$OUT/top-cum.txt"
	echo
	echo "top by flat:"
	go tool pprof -top -nodecount 35 "$PPROF_DIR/otelcol-mcp" "$OUT/cpu.pprof" 2>/dev/null | tee "$OUT/top-flat.txt"
fi
say "outputs in $OUT"
