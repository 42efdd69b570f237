#!/usr/bin/env bash
# bench/soak.sh: the default pipeline under steady load for hours. mcprouter-sim
# sends RATE routed requests/s for DURATION to the built collector (default
# otelcol-config.yaml and sampling, persistent queue, private ports) storing
# into a database of its own; every INTERVAL a row goes to OUT/soak.csv. Then
# the simulator stops, the queue drains, `mcprouter-sim reconcile` checks every
# id sent against the tables, gnuplot draws OUT/soak.png and a summary is
# printed. Exit status non-zero when reconcile finds anything missing or
# duplicated (or the run could not be made).
#
#   make soak                                  # 2 h at 5,000 routed requests/s
#   make soak DURATION=6m RATE=2000 OUT=/tmp/soak
#
# DURATION  simulator run time, a Go duration (default 2h).
# RATE      routed requests/s (default 5000; about 2.4 spans and log records each).
# INTERVAL  sampling interval (default 10s).
# OUT       output directory (default .run/soak): soak.csv, soak.png, summary.txt,
#           collector.log, sim.out, reconcile.txt, sent.gz (the manifest).
# KEEP_DB   1: keep database mcp_soak afterwards (default: dropped at the end;
#           a 2 h run stores tens of millions of rows).
#
# soak.csv columns: time (UTC), elapsed_s, rss_mib (collector VmRSS),
# rss_anon_mib (its anonymous part), queue_size (otelcol_exporter_queue_size),
# commit_p50_ms / commit_p99_ms (otelcol_exporter_mcppg_commit_duration, deltas
# over the interval; -1 without commits), rows_per_s (rows_written delta),
# freshness_lag_s (now - newest routing_log.ts), rollup_lag_s (now - end of the
# newest minute in routing_rollup_1m: a 15-85 s sawtooth when the refresh keeps
# up with partitionmgr's default delay 15 s and interval 10 s), rollup_backlog_s
# (now - end of the oldest routing minute still queued in rollup_dirty, 0 when none has
# ended: at most delay + interval when keeping up, grows when not), db_size_mib
# (pg_database_size of mcp_soak), loadavg1 (the machine may be shared),
# rollup_refreshes and rollup_refresh_mean_s (partitionmgr's refreshes in the
# interval and their mean otelcol_partitionmgr_rollup_refresh_duration, -1
# without one).
#
# Ports (private, below Linux's ephemeral range 32768-60999 so that no outgoing
# connection holds one; apart from bench/e2e_load.sh's): OTLP gRPC 25317, HTTP 25318,
# events 25320, health 25133, metrics 25888. PostgreSQL: scripts/pg-up.sh's
# (127.0.0.1:$MCP_PG_PORT), database mcp_soak created fresh, schema mcp_soak.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

DURATION=${DURATION:-2h}
RATE=${RATE:-5000}
INTERVAL=${INTERVAL:-10s}
OUT=${OUT:-.run/soak}
KEEP_DB=${KEEP_DB:-0}

pg_port=${MCP_PG_PORT:-5432}
db=mcp_soak
schema=mcp_soak
admin_dsn="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
dsn="postgres://postgres@127.0.0.1:$pg_port/$db?sslmode=disable"
collector=$root/build/otelcol-mcp
config=$root/otelcol-config.yaml

export MCP_PG_DSN=$dsn MCP_PG_SCHEMA=$schema
export MCP_OTLP_GRPC_ENDPOINT=localhost:25317 MCP_OTLP_HTTP_ENDPOINT=localhost:25318
export MCP_EVENTS_ENDPOINT=localhost:25320 MCP_HEALTH_ENDPOINT=localhost:25133
export MCP_METRICS_HOST=localhost MCP_METRICS_PORT=25888
metrics_url=http://localhost:25888/metrics

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'soak: %s\n' "$*" >&2; exit 1; }
psql_admin() { PGOPTIONS="-c client_min_messages=warning" psql "$admin_dsn" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }
psql_db() { PGOPTIONS="-c client_min_messages=warning" psql "$dsn" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }

[[ -x $collector ]] || die "$collector missing (make build)"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d /tmp/soak.XXXXXX)
collector_pid= sim_pid= sampler_pid=

# stop PID: TERM, up to 30 s, then KILL.
stop() {
	local pid=$1 deadline=$((SECONDS + 30))
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	stop "$sim_pid"
	stop "$sampler_pid"
	stop "$collector_pid"
	[[ $KEEP_DB == 1 ]] || psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# gnuplot draws the plot; Debian's gnuplot-nox has no X11 dependencies.
if ! command -v gnuplot >/dev/null; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		say "installing gnuplot-nox (apt-get)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >"$work/apt.log" 2>&1 ||
			{ apt-get update -q >>"$work/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >>"$work/apt.log" 2>&1; } ||
			die "apt-get install gnuplot-nox failed: $(tail -n 3 "$work/apt.log")"
	else
		die "gnuplot is missing: install it (Debian: apt-get install gnuplot-nox) and run again"
	fi
fi

for endpoint in "$MCP_OTLP_GRPC_ENDPOINT" "$MCP_OTLP_HTTP_ENDPOINT" "$MCP_EVENTS_ENDPOINT" "$MCP_HEALTH_ENDPOINT" "localhost:$MCP_METRICS_PORT"; do
	if (exec 3<>"/dev/tcp/${endpoint%:*}/${endpoint##*:}") 2>/dev/null; then
		die "something already listens on $endpoint"
	fi
done

bash scripts/pg-up.sh >/dev/null 2>&1 || die "PostgreSQL does not answer (scripts/pg-up.sh)"
psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
psql_admin -c "CREATE DATABASE $db" >/dev/null

say "building mcprouter-sim and bench/internal/soak"
go build -o "$work/mcprouter-sim" ./cmd/mcprouter-sim
go build -o "$work/soak" ./bench/internal/soak
sim=$work/mcprouter-sim
soak=$work/soak

# The collector as the container image runs it (scripts/runtime-env.sh), with a
# fresh persistent queue; partitionmgr applies the schema.
export MCP_STORAGE_DIR=$work/queue
mkdir -p "$MCP_STORAGE_DIR"
: >"$OUT/collector.log"
(source scripts/runtime-env.sh && exec "$collector" --config "$config") >>"$OUT/collector.log" 2>&1 &
collector_pid=$!
deadline=$((SECONDS + 60))
until curl -fsS -o /dev/null --max-time 1 "http://$MCP_HEALTH_ENDPOINT/" 2>/dev/null &&
	[[ $(psql_db -c "SELECT to_regclass('$schema.routing_log') IS NOT NULL") == t ]]; do
	kill -0 "$collector_pid" 2>/dev/null || die "the collector exited during start-up (log: $OUT/collector.log)"
	((SECONDS < deadline)) || die "the collector did not become healthy with schema $schema within 60 s"
	sleep 0.2
done
say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); collector $collector_pid healthy; -rate $RATE for $DURATION, a row every $INTERVAL into $OUT/soak.csv"

"$soak" sample -metrics "$metrics_url" -pid "$collector_pid" -dsn "$dsn" -schema "$schema" \
	-duration "$DURATION" -interval "$INTERVAL" -out "$OUT/soak.csv" 2>"$OUT/sampler.err" &
sampler_pid=$!
# GOGC 400: a load generator trades memory for CPU, leaving the shared cores
# to the system under test (as bench/e2e_load.sh).
GOGC=400 "$sim" run -mode otlp -endpoint "$MCP_OTLP_GRPC_ENDPOINT" -rate "$RATE" -duration "$DURATION" \
	-progress 0 -flush-timeout 120s -manifest "$OUT/sent.gz" >"$OUT/sim.out" 2>&1 &
sim_pid=$!
sim_rc=0
wait "$sim_pid" || sim_rc=$?
sim_pid=
((sim_rc == 0)) || die "mcprouter-sim failed ($sim_rc): $(tail -n 3 "$OUT/sim.out")"
sampler_rc=0
wait "$sampler_pid" || sampler_rc=$?
sampler_pid=
((sampler_rc == 0)) || die "the sampler failed: $(tail -n 3 "$OUT/sampler.err")"
say "$(grep -m1 'routed requests in' "$OUT/sim.out" || tail -n 1 "$OUT/sim.out")"

drain_s=$("$soak" drain -metrics "$metrics_url" -timeout 10m) || die "the queue did not drain within 10 min"
say "queue drained in $drain_s s; reconciling"
reconcile_rc=0
"$sim" reconcile -manifest "$OUT/sent.gz" -dsn "$dsn" -schema "$schema" -wait 5m >"$OUT/reconcile.txt" 2>&1 || reconcile_rc=$?
rss_end=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$collector_pid/status")
stop "$collector_pid"
collector_pid=

# soak.png: four panels over elapsed minutes.
gnuplot <<GP || die "gnuplot failed"
set datafile separator ','
set key autotitle columnhead top left
set terminal pngcairo size 1200,1400 noenhanced font ",10"
set output '$OUT/soak.png'
set multiplot layout 4,1 title "otelcol-mcp soak: -rate $RATE for $DURATION, default pipeline ($(date -u +%FT%HZ), $(nproc) cores)"
set xlabel 'elapsed (min)'
set grid
set ylabel 'MiB'
plot '$OUT/soak.csv' using (\$2/60):3 with lines lw 2 title 'collector RSS', '' using (\$2/60):4 with lines title 'RSS anonymous'
set ylabel 's'
plot '$OUT/soak.csv' using (\$2/60):(\$9 < 0 ? NaN : \$9) with lines lw 2 title 'freshness lag', '' using (\$2/60):(\$10 < 0 ? NaN : \$10) with lines title 'rollup lag (newest minute)', '' using (\$2/60):(\$11 < 0 ? NaN : \$11) with lines title 'rollup backlog (oldest queued minute)', '' using (\$2/60):(\$15 < 0 ? NaN : \$15) with lines title 'rollup refresh, mean'
set ylabel 'ms'
set y2label 'requests'
set y2tics
plot '$OUT/soak.csv' using (\$2/60):(\$6 < 0 ? NaN : \$6) with lines title 'commit p50', '' using (\$2/60):(\$7 < 0 ? NaN : \$7) with lines title 'commit p99', '' using (\$2/60):5 axes x1y2 with lines lw 2 title 'queue size'
set ylabel 'rows/s'
set y2label 'MiB'
plot '$OUT/soak.csv' using (\$2/60):8 with lines title 'rows/s stored', '' using (\$2/60):12 axes x1y2 with lines lw 2 title 'database size'
unset multiplot
GP

{
	echo "soak: -rate $RATE for $DURATION, sampled every $INTERVAL; $(grep -m1 'routed requests in' "$OUT/sim.out" || true)"
	"$soak" summary -csv "$OUT/soak.csv"
	echo "collector RSS after the drain: $rss_end MiB; queue drained in $drain_s s after the simulator stopped"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	if ((reconcile_rc == 0)); then
		# Healthy health checks and LB decisions the sampler dropped count as
		# missing in its table; reconcile judges them against the sampling rate.
		echo "reconcile: $(tail -n 1 "$OUT/reconcile.txt" | sed 's/^reconcile: //') ($OUT/reconcile.txt)"
	else
		echo "reconcile: FAILED (exit $reconcile_rc):"
		cat "$OUT/reconcile.txt"
	fi
	echo "outputs: $OUT/soak.csv, $OUT/soak.png"
} | tee "$OUT/summary.txt"
exit "$reconcile_rc"
