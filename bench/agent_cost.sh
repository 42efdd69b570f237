#!/usr/bin/env bash
# bench/agent_cost.sh: what the agent tier costs (deploy/agent-config.yaml:
# otlp receiver, memory_limiter, mcpsampler at its default rates, otlp_grpc
# exporter with its persistent queue on diskguard, zstd), in collector CPU
# per event received, at fixed replayed rates.
#
#   make build && bash bench/agent_cost.sh
#   RATES="10000 20000 40000" STEP=30 bash bench/agent_cost.sh
#
# The load is recorded first (mcprouter-sim run -capture: the simulated fleet's
# OTLP requests) and replayed at RATES events/s (mcprouter-sim replay), so
# generating it costs the shared cores little. The agent forwards to a sink
# collector of the same binary (otlp receiver -> debug exporter, basic
# verbosity), so no database is involved. Per step: events/s the agent took
# (otelcol_receiver_accepted_*), items/s it sent on
# (otelcol_exporter_sent_*), its CPU (utime + stime from /proc) per event
# taken, its RSS, and its queue at the end of the step.
#
# Ports (private): agent 46317 (gRPC), 46318, 46320, 46133 (health), 46888
# (metrics); sink 47317, 47133, 47888. Work files in .run/bench-agent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RATES=${RATES:-"10000 20000 40000"}
STEP=${STEP:-30}
BIN=${COLLECTOR:-build/otelcol-mcp}
work=.run/bench-agent
say() { printf '%s agent_cost: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	say "$*"
	exit 1
}
[[ -x $BIN ]] || die "$BIN is missing: run make build"
rm -rf "$work"
mkdir -p "$work"
go build -o "$work/mcprouter-sim" ./cmd/mcprouter-sim

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

cat >"$work/sink.yaml" <<'YAML'
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:47317
exporters:
  debug:
    verbosity: basic
    sampling_initial: 1
    sampling_thereafter: 100000
extensions:
  health_check:
    endpoint: 127.0.0.1:47133
service:
  extensions: [health_check]
  pipelines:
    traces: {receivers: [otlp], exporters: [debug]}
    logs: {receivers: [otlp], exporters: [debug]}
    metrics: {receivers: [otlp], exporters: [debug]}
  telemetry:
    metrics:
      level: none
YAML

healthy() {
	local url=$1 deadline=$((SECONDS + 60))
	until curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; do
		((SECONDS < deadline)) || die "$url not healthy within 60 s"
		sleep 0.2
	done
}
source scripts/runtime-env.sh
"$BIN" --config "$work/sink.yaml" >"$work/sink.log" 2>&1 &
pids+=($!)
MCP_OTLP_GRPC_ENDPOINT=127.0.0.1:46317 MCP_OTLP_HTTP_ENDPOINT=127.0.0.1:46318 MCP_EVENTS_ENDPOINT=127.0.0.1:46320 \
	MCP_HEALTH_ENDPOINT=127.0.0.1:46133 MCP_METRICS_HOST=127.0.0.1 MCP_METRICS_PORT=46888 \
	MCP_AGENT_STORAGE_DIR="$work/queue" MCP_GATEWAY_ENDPOINT=127.0.0.1:47317 \
	"$BIN" --config deploy/agent-config.yaml >"$work/agent.log" 2>&1 &
agent=$!
pids+=("$agent")
healthy http://127.0.0.1:47133/
healthy http://127.0.0.1:46133/

max_rate=0
for r in $RATES; do ((r > max_rate)) && max_rate=$r; done
say "capturing $((max_rate * STEP * 11 / 10)) events of the simulated fleet"
"$work/mcprouter-sim" run -capture "$work/load.bin" -rate 0 -requests $((max_rate * STEP * 11 / 10 / 26 * 10)) \
	-progress 0 -manifest "$work/manifest.gz" >"$work/capture.out" 2>"$work/capture.log"

metric() {
	curl -fsS --max-time 2 http://127.0.0.1:46888/metrics |
		awk -v re="$1" '$1 ~ "^(" re ")([{ ]|$)" { s += $NF } END { printf "%.0f\n", s }'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$agent/stat"; }
hz=$(getconf CLK_TCK)

printf '\n| events/s offered | events/s taken | items/s sent on | agent CPU | µs CPU per event | RSS MiB | queue at the end |\n' >"$work/table.md"
printf '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n' >>"$work/table.md"
for rate in $RATES; do
	taken0=$(metric 'otelcol_receiver_accepted_(spans|log_records|metric_points)')
	sent0=$(metric 'otelcol_exporter_sent_(spans|log_records|metric_points)')
	cpu0=$(cpu_ticks)
	t0=$(date +%s.%N)
	"$work/mcprouter-sim" replay -in "$work/load.bin" -endpoint 127.0.0.1:46317 -rate "$rate" -duration "${STEP}s" \
		>"$work/replay-$rate.out" 2>"$work/replay-$rate.log" || die "replay at $rate failed: $(tail -n 3 "$work/replay-$rate.log")"
	t1=$(date +%s.%N)
	cpu1=$(cpu_ticks)
	taken1=$(metric 'otelcol_receiver_accepted_(spans|log_records|metric_points)')
	sent1=$(metric 'otelcol_exporter_sent_(spans|log_records|metric_points)')
	queue=$(metric 'otelcol_exporter_queue_size')
	rss=$(awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$agent/status")
	awk -v rate="$rate" -v t0="$t0" -v t1="$t1" -v a0="$taken0" -v a1="$taken1" -v s0="$sent0" -v s1="$sent1" \
		-v c0="$cpu0" -v c1="$cpu1" -v hz="$hz" -v rss="$rss" -v q="$queue" 'BEGIN {
		d = t1 - t0; ev = a1 - a0; cpu = (c1 - c0) / hz
		printf "| %d | %.0f | %.0f | %.0f%% | %.2f | %d | %d |\n", rate, ev / d, (s1 - s0) / d, 100 * cpu / d, (ev > 0 ? 1e6 * cpu / ev : 0), rss, q }' |
		tee -a "$work/table.md" >&2
done
say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); table in $work/table.md"
cat "$work/table.md"
